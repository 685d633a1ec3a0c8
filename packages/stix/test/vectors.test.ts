import { describe, expect, it } from 'vitest';
import { sekoiaFormat } from '../src/canonical.ts';
import { StixPatternError } from '../src/errors.ts';
import { formatObjectPath } from '../src/extract.ts';
import { extractObservables, parsePattern } from '../src/index.ts';
import { fixtureValue, sExpression, vectors } from './vectors.ts';

/**
 * Vectors whose exported values differ from `proposed_sekoia_extraction.iocs` because per-type
 * validation / canonicalisation changes or rejects a value. `strict` is what we export instead.
 */
const CANONICALISATION_DIFFERENCES: Record<
  string,
  { strict: string[]; lenientExtra?: string[]; why: string }
> = {
  'stixpat-157': { strict: ['1.2.3.4'], why: "'1.2.3.4/32': a /32 CIDR is the host address" },
  'stixpat-158': {
    strict: [],
    why: "'1.2.255.4/23': host bits set (network 1.2.254.0/23): rejected, reported in skipped",
  },
  'stixpat-159': { strict: [], why: "'foo' is not an IPv4 address: rejected, reported in skipped" },
  'stixpat-161': { strict: ['1::1'], why: "'0001:0000:...:0001' written in RFC 5952 form" },
  'stixpat-172': {
    strict: ['192.168.122.83'],
    why: "'192.168.122.84/10': host bits set (network 192.128.0.0/10): rejected, reported in skipped",
  },
};

describe('stix-patterns.json vectors', () => {
  it('has the expected number of vectors', () => {
    expect(vectors.length).toBe(167);
  });

  it.each(vectors.map((v) => [v.id, v] as const))('%s: syntax verdict', (_id, v) => {
    let error: unknown;
    try {
      parsePattern(v.pattern, { stixVersion: v.stix_version });
    } catch (err) {
      error = err;
    }
    if (v.syntax_valid) {
      expect(error).toBeUndefined();
    } else {
      expect(error).toBeInstanceOf(StixPatternError);
      const e = error as StixPatternError;
      expect(e.position).toBeGreaterThanOrEqual(0);
      expect(e.position).toBeLessThanOrEqual(v.pattern.length);
    }
  });

  const parseable = vectors.filter((v) => v.syntax_valid && v.comparisons);
  it.each(parseable.map((v) => [v.id, v] as const))(
    '%s: tree matches comparisons and structure',
    (_id, v) => {
      const p = parsePattern(v.pattern, { stixVersion: v.stix_version });
      const ours = p.comparisons.map((c) => ({
        observation: c.observation,
        object_type: c.path.objectType,
        path: formatObjectPath(c.path).slice(c.path.objectType.length + 1),
        path_components: c.path.steps.map((s) =>
          s.kind === 'key' ? s.key : s.kind === 'index' ? s.index : '*',
        ),
        operator: c.operator,
        operator_raw: c.operatorRaw === c.operator || c.operator === 'EXISTS' ? undefined : c.operatorRaw,
        negated: c.negated,
        value: fixtureValue(c.value),
      }));
      const expected = v.comparisons!.map((c) => ({
        observation: c.observation,
        object_type: c.object_type,
        path: c.path,
        path_components: c.path_components,
        operator: c.operator,
        operator_raw: c.operator_raw,
        negated: c.negated,
        value: c.value,
      }));
      expect(ours).toEqual(expected);
      expect(sExpression(p.root)).toBe(v.structure);
      // Spans point at the comparison text.
      for (const c of p.comparisons)
        expect(v.pattern.slice(c.start, c.path.end)).toMatch(/^(NOT\s+)?(EXISTS\s+)?[\w-]+\s*:/);
    },
  );

  it.each(vectors.map((v) => [v.id, v] as const))('%s: strict extraction', (id, v) => {
    const r = extractObservables(v.pattern, { stixVersion: v.stix_version });
    expect(r.valid).toBe(v.syntax_valid);
    if (!v.syntax_valid) {
      expect(r.observables).toEqual([]);
      expect(r.error?.position).toBeGreaterThanOrEqual(0);
      return;
    }
    const diff = CANONICALISATION_DIFFERENCES[id];
    const expected = diff ? diff.strict : v.proposed_sekoia_extraction.iocs.map((i) => i.value);
    expect(r.observables.map((o) => o.value)).toEqual(expected);
    // Formats agree with the proposal for every value we kept.
    const proposedFormat = new Map(v.proposed_sekoia_extraction.iocs.map((i) => [i.value, i.format]));
    for (const o of r.observables) {
      const f = proposedFormat.get(o.value);
      if (f !== undefined) expect(sekoiaFormat(o.type)).toBe(f);
    }
    // Every comparison the proposal does not export is reported in skipped.
    for (const n of v.proposed_sekoia_extraction.not_exported_comparisons ?? []) {
      const c = parsePattern(v.pattern, { stixVersion: v.stix_version }).comparisons[n]!;
      expect(r.skipped.some((s) => s.position === c.start)).toBe(true);
    }
  });

  it.each(vectors.filter((v) => v.syntax_valid).map((v) => [v.id, v] as const))(
    '%s: lenient extraction adds the over-approximate values',
    (id, v) => {
      const r = extractObservables(v.pattern, { stixVersion: v.stix_version, mode: 'lenient' });
      const diff = CANONICALISATION_DIFFERENCES[id];
      const exact = diff ? diff.strict : v.proposed_sekoia_extraction.iocs.map((i) => i.value);
      const over = (v.proposed_sekoia_extraction.over_approximate_iocs ?? []).map((i) => i.value);
      expect(new Set(r.observables.map((o) => o.value))).toEqual(new Set([...exact, ...over]));
    },
  );

  it('lists canonicalisation differences only for vectors that exist and export something', () => {
    for (const id of Object.keys(CANONICALISATION_DIFFERENCES)) {
      const v = vectors.find((x) => x.id === id);
      expect(v?.proposed_sekoia_extraction.iocs.length).toBeGreaterThan(0);
    }
  });

  it('reports rejected values in skipped with the reason', () => {
    const r = extractObservables(vectors.find((v) => v.id === 'stixpat-158')!.pattern);
    expect(r.skipped).toEqual([
      expect.objectContaining({
        path: 'ipv4-addr:value',
        value: '1.2.255.4/23',
        reason: expect.stringContaining('1.2.254.0/23'),
      }),
    ]);
  });
});
