import { canonicalValue, extractObservables } from '@octi-sekoia/stix';

/**
 * Matching Sekoia's indicators back to values (docs/sekoia-behaviours.md row 1). Sekoia's `name` of an
 * indicator is documented as "the value", but nothing says in which form: it may be the value as sent, a
 * normalised form (upper-case hashes, RFC 5952 vs expanded IPv6), every hash of a file joined by commas, or a
 * label. The `pattern` is documented STIX and is the stronger evidence. So an indicator stands for every
 * canonical value found in its name, in each comma-separated part of its name, and in its pattern.
 */

export type Canonical = (value: string) => string | undefined;

export interface NamedIndicator {
  name: string;
  pattern?: unknown;
}

/** Every canonical value an indicator stands for (empty when neither name nor pattern holds a known value). */
export function indicatorValues(i: NamedIndicator, canonical: Canonical = canonicalValue): string[] {
  const out = new Set<string>();
  const add = (raw: string) => {
    const c = canonical(raw);
    if (c !== undefined) out.add(c);
  };
  add(i.name);
  if (i.name.includes(',')) for (const part of i.name.split(',')) add(part);
  if (typeof i.pattern === 'string' && i.pattern !== '') {
    const r = extractObservables(i.pattern, { mode: 'lenient' });
    for (const o of r.observables) add(o.value);
  }
  return [...out];
}

/**
 * The one value a listed indicator is recorded under: its canonical name, else the first value of its pattern,
 * else the trimmed name (never desired, so a foreign label is revoked like any foreign value).
 */
export function indicatorValue(i: NamedIndicator, canonical: Canonical = canonicalValue): string {
  const byName = canonical(i.name);
  if (byName !== undefined) return byName;
  return indicatorValues(i, canonical)[0] ?? i.name.trim();
}

export interface AnsweredItem extends NamedIndicator {
  id: string;
  revoked?: unknown;
}

/** The indicator a create answer holds for a value: live, or only a revoked one (`revoked: true`). */
export interface CreatedMatch {
  id: string;
  revoked: boolean;
}

/**
 * The indicator a create answer holds for each value sent (values without one were left out).
 *
 * 1. By value: an item matches every sent value among its `indicatorValues` (canonical on both sides).
 * 2. By position, only for what 1 left unmatched, and only when the answer has exactly one item per value sent
 *    and every item matched in 1 sits at its value's index, at least one of them (or a single value sent): the
 *    answer is then in input order, and item i is value i.
 *    Assumption: an answer of the same length in input order is one item per value — the documented shape
 *    (§2.3) with an unrecognisable name and pattern.
 * A live item wins over a revoked one; a value answered only with a revoked item comes back `revoked: true`
 * (Sekoia ignored the re-import of a revoked value: the engine decides).
 */
export function matchCreated(
  sent: readonly string[],
  items: readonly AnsweredItem[],
  canonical: Canonical = canonicalValue,
): Map<string, CreatedMatch> {
  const keyOf = sent.map((v) => canonical(v) ?? v.trim());
  const indexesByKey = new Map<string, number[]>();
  keyOf.forEach((k, i) => {
    indexesByKey.set(k, [...(indexesByKey.get(k) ?? []), i]);
  });
  const at = new Map<number, CreatedMatch>();
  /** A live item, or an item at the value's own index, replaces what an earlier item gave. */
  const offer = (i: number, m: CreatedMatch, own: boolean) => {
    const prev = at.get(i);
    if (!prev || (prev.revoked && !m.revoked) || (own && prev.revoked === m.revoked)) at.set(i, m);
  };
  const itemMatched = new Set<number>();
  let inOrder = items.length === sent.length;
  items.forEach((item, index) => {
    const hits = indicatorValues(item, canonical).flatMap((v) => indexesByKey.get(v) ?? []);
    if (hits.length === 0) return;
    itemMatched.add(index);
    if (!hits.includes(index)) inOrder = false;
    // An item naming several values (a file's hashes) gives way to the item at that value's own index.
    for (const i of hits) offer(i, { id: item.id, revoked: item.revoked === true }, i === index);
  });
  // (inOrder already says every recognised item sits at its value's index.)
  if (inOrder && (sent.length === 1 || itemMatched.size > 0)) {
    items.forEach((item, index) => {
      if (itemMatched.has(index) || at.has(index)) return;
      at.set(index, { id: item.id, revoked: item.revoked === true });
    });
  }
  const out = new Map<string, CreatedMatch>();
  for (const i of [...at.keys()].sort((a, b) => a - b)) {
    if (!out.has(sent[i]!)) out.set(sent[i]!, at.get(i)!);
  }
  return out;
}
