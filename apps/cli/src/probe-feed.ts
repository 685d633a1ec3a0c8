// Row 11 of the probe (docs/sekoia-behaviours.md): can the collection be read through Sekoia's cursor feed,
// `GET /v2/inthreat/collections/{id}/objects`, with the IOC collection's id as the feed id? The worker's
// collection read uses the feed only when every check below passes ('usable'); else offset pages of 100.
import { normalizeKillChainPhases } from '@octi-sekoia/model';
import {
  FEED_COMPARED_FIELDS,
  FEED_PAGE_MAX,
  FeedUnusableError,
  feedQuery,
  indicatorValue,
  parseFeedPage,
} from '@octi-sekoia/sekoia';
import { canonicalValue } from '@octi-sekoia/stix';

/** An object of a feed page, as the feed gave it (fields checked one by one). */
type FeedObject = Record<string, unknown> & { id: string; name: string };

export type FeedVariant = 'usable' | 'not-a-feed' | 'limit-refused' | 'fields-missing' | 'inconsistent';

/** What the row needs of the probe: raw feed reads and tracked writes to the scratch collection. */
export interface FeedProbeDeps {
  /** GET of the collection's feed with this query string. */
  getFeed(query: string): Promise<{ status: number; json: unknown }>;
  /** Creates one value (tracked, revoked at the end); the item the create answer gave. */
  create(value: string, defaults: Record<string, unknown>): Promise<Record<string, unknown> | undefined>;
  revoke(id: string): Promise<number>;
  edit(id: string, fields: Record<string, unknown>): Promise<number>;
  /** Ids this run made live (the only ones it may edit). */
  ownIds(): ReadonlySet<string>;
  notes: string[];
}

export interface FeedProbeValues {
  feedFull: string;
  feedRevoked: string;
  feedDuring: string;
}

class Stop extends Error {
  constructor(readonly variant: FeedVariant | 'unknown') {
    super(variant);
  }
}

/**
 * The checks, in order (each failure names the variant and adds a note saying what was seen):
 * 1. the collection id works as a feed id, and a page of 10,000 is accepted (`not-a-feed`, `limit-refused`);
 * 2. the feed gives the list route's id for an indicator made with every field we compare, and each field
 *    (value by name or pattern, valid_from, valid_until, description, kill chain phases) comes back as the create
 *    answer has it (`fields-missing`, or `inconsistent` when the id is not found);
 * 3. a revoked indicator comes back flagged `revoked: true` with include_revoked=true, and is not given as
 *    live without it (`fields-missing`): the read skips revoked objects by that flag;
 * 4. `limit` is honoured (a page of 2 holds at most 2 and a cursor follows): reported only, paging by cursor
 *    works either way;
 * 5. a walk in three pages while this run creates one value and edits one already read misses no object the
 *    walk before saw (`inconsistent`): the read's pages are recorded while jobs write.
 */
export async function probeFeed(
  d: FeedProbeDeps,
  v: FeedProbeValues,
  inDays: (n: number) => string,
): Promise<FeedVariant | 'unknown'> {
  try {
    return await checks(d, v, inDays);
  } catch (err) {
    if (err instanceof Stop) return err.variant;
    if (err instanceof FeedUnusableError) {
      d.notes.push(`row 11: the feed answered a shape the product does not read (${err.message})`);
      return 'not-a-feed';
    }
    throw err;
  }
}

async function walk(
  d: FeedProbeDeps,
  limit: number,
  includeRevoked: boolean,
  between?: (page: number) => Promise<void>,
): Promise<{ objects: FeedObject[]; requests: number; firstPage: number; firstNext: boolean }> {
  const objects: FeedObject[] = [];
  let cursor: string | undefined;
  let firstPage = 0;
  let firstNext = false;
  for (let n = 1; n <= 200; n++) {
    const a = await d.getFeed(feedQuery({ limit, includeRevoked, ...(cursor ? { cursor } : {}) }));
    if (a.status !== 200) {
      d.notes.push(`row 11: a feed page answered HTTP ${a.status} in the middle of a walk`);
      throw new Stop('not-a-feed');
    }
    const page = parseFeedPage(a.json);
    // The raw objects, so that an absent field stays absent (parseFeedPage defaults `revoked`).
    const raw = (a.json as Record<string, unknown[]>)[
      ['items', 'objects', 'data'].find((k) => Array.isArray((a.json as Record<string, unknown>)[k]))!
    ] as FeedObject[];
    const ids = new Set(page.items.map((i) => i.id));
    objects.push(...raw.filter((o) => ids.has(o.id)).map((o) => ({ ...o, name: String(o.name ?? '') })));
    if (n === 1) {
      firstPage = page.items.length + page.skipped;
      firstNext = page.next !== undefined;
    }
    if (page.items.length + page.skipped === 0 || page.next === undefined || page.next === cursor)
      return { objects, requests: n, firstPage, firstNext };
    cursor = page.next;
    await between?.(n);
  }
  d.notes.push('row 11: the feed walk did not end within 200 pages');
  throw new Stop('inconsistent');
}

async function checks(
  d: FeedProbeDeps,
  v: FeedProbeValues,
  inDays: (n: number) => string,
): Promise<FeedVariant | 'unknown'> {
  const phases = [{ kill_chain_name: 'mitre-attack', phase_name: 'initial-access' }];
  const full = await d.create(v.feedFull, { valid_until: inDays(30), kill_chain_phases: phases });
  if (!full || typeof full.id !== 'string') {
    d.notes.push('row 11: the indicator with every compared field could not be created: not observed');
    return 'unknown';
  }
  const gone = await d.create(v.feedRevoked, {});
  const goneId = typeof gone?.id === 'string' && (await d.revoke(gone.id)) === 200 ? gone.id : undefined;

  // 1. The collection id as a feed id, pages of 10,000.
  const first = await d.getFeed(feedQuery({ limit: FEED_PAGE_MAX, includeRevoked: false }));
  if (first.status !== 200) {
    const small =
      first.status === 400 ? await d.getFeed(feedQuery({ limit: 100, includeRevoked: false })) : first;
    if (small.status === 200) {
      d.notes.push(`row 11: the feed refused limit=${FEED_PAGE_MAX} (HTTP 400) but takes 100`);
      return 'limit-refused';
    }
    d.notes.push(`row 11: the collection id is not a feed id (HTTP ${first.status})`);
    return 'not-a-feed';
  }
  const live = await walk(d, FEED_PAGE_MAX, false);

  // 2. Every compared field of the indicator made with all of them.
  const seen = live.objects.find((o) => o.id === full.id);
  if (!seen) {
    d.notes.push(`row 11: the feed does not give the list route's id ${full.id}`);
    return 'inconsistent';
  }
  const missing: string[] = [];
  if (
    indicatorValue({ name: seen.name, pattern: seen.pattern as string | undefined }) !==
    canonicalValue(v.feedFull)
  )
    missing.push('value');
  const sameTime = (a: unknown, b: unknown) =>
    typeof a === 'string' && typeof b === 'string' && Date.parse(a) === Date.parse(b);
  if (!sameTime(seen.valid_from, full.valid_from)) missing.push('valid_from');
  if (!sameTime(seen.valid_until, full.valid_until)) missing.push('valid_until');
  if (seen.description !== full.description) missing.push('description');
  const kc = (x: unknown) => JSON.stringify(normalizeKillChainPhases(x));
  if (seen.kill_chain_phases === undefined || kc(seen.kill_chain_phases) !== kc(full.kill_chain_phases))
    missing.push('kill_chain_phases');

  // 3. The revoked flag.
  if (goneId) {
    if (live.objects.some((o) => o.id === goneId && o.revoked !== true)) missing.push('revoked');
    const all = await walk(d, FEED_PAGE_MAX, true);
    const r = all.objects.find((o) => o.id === goneId);
    if (r && r.revoked !== true) missing.push('revoked');
    if (!r)
      d.notes.push(
        'row 11: include_revoked=true did not give the revoked indicator (the read does not need it)',
      );
  } else {
    d.notes.push('row 11: no indicator could be revoked: the revoked flag not observed');
    return 'unknown';
  }
  if (missing.length > 0) {
    const fields = [...new Set(missing)];
    d.notes.push(
      `row 11: the feed does not give ${fields.join(', ')} as the list route does (${FEED_COMPARED_FIELDS.join(', ')} compared)`,
    );
    return 'fields-missing';
  }

  // 4. Page size (reported only).
  const small = await d.getFeed(feedQuery({ limit: 2, includeRevoked: true }));
  if (small.status === 200) {
    const p = parseFeedPage(small.json);
    if (p.items.length + p.skipped > 2)
      d.notes.push('row 11: the feed ignores limit=2 (paging by cursor works anyway)');
    else if (p.next === undefined && live.objects.length > 2)
      d.notes.push('row 11: a page of 2 came without a cursor');
  }

  // 5. Consistency while this run writes: after the first page, one value created and one already read edited.
  const before = new Set(live.objects.map((o) => o.id));
  const size = Math.max(1, Math.ceil(before.size / 3));
  const mine = d.ownIds();
  const edited = live.objects.slice(0, size).find((o) => mine.has(o.id));
  const checked = await walk(d, size, false, async (page) => {
    if (page !== 1) return;
    await d.create(v.feedDuring, {});
    if (edited) await d.edit(edited.id, { description: 'octi-sekoia probe: edited during a feed walk' });
  });
  const seenIds = new Set(checked.objects.map((o) => o.id));
  const lost = [...before].filter((id) => !seenIds.has(id));
  if (lost.length > 0) {
    d.notes.push(
      `row 11: a feed walk missed ${lost.length} object(s) while a value was created and one edited`,
    );
    return 'inconsistent';
  }
  return 'usable';
}
