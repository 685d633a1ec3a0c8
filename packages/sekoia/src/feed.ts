// The cursor feed of an IOC collection (docs/sekoia-api.md "Cursor feed"; docs/sekoia-behaviours.md row 11):
// `GET /v2/inthreat/collections/{feed id}/objects?limit=…&include_revoked=…&skip_expired=…&cursor=…`, up to
// 10,000 objects a page instead of the list route's 100. What its answers hold is documented only in outline
// (`next_cursor`), so the parsing below accepts every shape the sources allow and refuses anything else as
// unusable: the collection read then falls back to offset pages (packages/sekoia client.ts `listAll`).

/** Largest page the feed documents (the OpenAPI description: `limit` up to 10,000). */
export const FEED_PAGE_MAX = 10_000;

/** The fields a collection read compares, besides the id and the value (name or pattern). */
export const FEED_COMPARED_FIELDS = [
  'valid_from',
  'valid_until',
  'description',
  'kill_chain_phases',
  'revoked',
] as const;

/**
 * The feed cannot serve this collection: a 4xx other than 401/403/429 (the collection id is not a feed id, a
 * parameter refused), or an answer of a shape this parser does not know. Never a transient fault.
 */
export class FeedUnusableError extends Error {
  override name = 'FeedUnusableError';
}

/** A feed object as the collection read takes it (the fields SekoiaClient's SekoiaIndicator types). */
export interface FeedIndicator {
  id: string;
  /** '' when the feed gives STIX objects without a name: the value is then taken from the pattern. */
  name: string;
  pattern?: string;
  revoked: boolean;
  [field: string]: unknown;
}

export interface FeedPage {
  items: FeedIndicator[];
  /** The cursor of the next page; undefined at the end. */
  next: string | undefined;
  /** Objects in the answer that were not indicators (STIX feeds may interleave other types): skipped. */
  skipped: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys the object list may come under (the OpenAPI names only `next_cursor`; `items` is the list routes'). */
const LIST_KEYS = ['items', 'objects', 'data'] as const;

/**
 * One feed answer, or a FeedUnusableError naming what is not understood. Assumptions (row 11): objects are STIX
 * indicators whose `id` is the id the list route gives (`indicator--…`, the probe checks it); the value is
 * `name` or, without one, the pattern; `revoked` is absent on a live object (STIX's default false) — which is
 * why the feed is used only when the probe saw a revoked object come back flagged; `next_cursor` null, absent or
 * empty ends the feed.
 */
export function parseFeedPage(body: unknown): FeedPage {
  if (!isObject(body)) throw new FeedUnusableError('the feed answer is not a JSON object');
  const key = LIST_KEYS.find((k) => Array.isArray(body[k]));
  if (!key) throw new FeedUnusableError(`the feed answer has no list of objects (${LIST_KEYS.join(', ')})`);
  const items: FeedIndicator[] = [];
  let skipped = 0;
  for (const o of body[key] as unknown[]) {
    if (!isObject(o) || typeof o.id !== 'string')
      throw new FeedUnusableError('a feed object has no string id');
    if (o.type !== undefined && o.type !== 'indicator') {
      skipped += 1;
      continue;
    }
    const name = typeof o.name === 'string' ? o.name : '';
    if (name === '' && typeof o.pattern !== 'string')
      throw new FeedUnusableError(`feed object ${o.id.slice(0, 80)} has neither a name nor a pattern`);
    items.push({ ...o, id: o.id, name, revoked: o.revoked === true });
  }
  const c = body.next_cursor;
  if (c !== undefined && c !== null && typeof c !== 'string')
    throw new FeedUnusableError('the feed answer has a next_cursor that is not a string');
  return { items, next: typeof c === 'string' && c !== '' ? c : undefined, skipped };
}

/** The feed route of a collection, from the client's IOC-collections URL (…/v2/inthreat/ioc-collections). */
export function feedUrl(collectionsUrl: string, feedId: string): string {
  return `${collectionsUrl.replace(/\/ioc-collections$/, '/collections')}/${encodeURIComponent(feedId)}/objects`;
}

export interface FeedQuery {
  limit: number;
  includeRevoked: boolean;
  cursor?: string;
}

/**
 * The query of one feed page. `skip_expired=false` always: an expired indicator is still in the collection (a
 * leftover to revoke, or a value whose validity OpenCTI ended), and the documented example sends `true`.
 */
export function feedQuery(q: FeedQuery): string {
  const p = new URLSearchParams({
    limit: String(q.limit),
    include_revoked: String(q.includeRevoked),
    skip_expired: 'false',
  });
  if (q.cursor !== undefined) p.set('cursor', q.cursor);
  return p.toString();
}
