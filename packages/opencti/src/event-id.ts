/**
 * OpenCTI live-stream event ids: the Redis stream id `<ms>-<seq>` of each event (docs/opencti-api.md "Event
 * ids"). The one type, parser and comparison every package uses: resume points (stream.ts), ingest's checkpoint
 * and frame checks, the job's fence (packages/model validate-job.ts). The Lua scripts of packages/sync compare
 * the same ids (`cmpfence`) with the same rule: numeric, milliseconds first, then the sequence.
 */

/** A Redis stream id `<ms>-<seq>` as OpenCTI sends it. */
export type EventId = string;

/** Up to 20 digits a side: a Redis stream id is two unsigned 64-bit numbers. */
const EVENT_ID_RE = /^\d{1,20}-\d{1,20}$/;

/** A Redis stream id (`<ms>-<seq>`): the only ids that may be compared, fenced or committed as a checkpoint. */
export function isEventId(id: string): boolean {
  return EVENT_ID_RE.test(id);
}

/**
 * The milliseconds part of an id as a number (metrics, dates); exact up to 2^53 ms, far beyond any clock.
 */
export function eventIdMs(id: EventId): number {
  const dash = id.indexOf('-');
  return Number(dash < 0 ? id : id.slice(0, dash));
}

/**
 * Compares two `<ms>-<seq>` ids numerically (not as strings): negative when a < b. Ingest compares a few times per
 * stream message, so without BigInt or split: two digit strings compare by length once leading zeros are skipped,
 * then character by character (ids are checked with isEventId before they reach here).
 */
export function compareEventIds(a: EventId, b: EventId): number {
  if (a === b) return 0;
  const ad = dashOf(a);
  const bd = dashOf(b);
  // Same shape (both parts of equal lengths): digit strings of one length compare as numbers, so the whole ids
  // compare as strings, in one native comparison. The usual case: successive ids of one stream (issue 18).
  if (ad === bd && a.length === b.length) return a < b ? -1 : 1;
  return (
    compareDigits(a, 0, ad, b, 0, bd) ||
    compareDigits(a, Math.min(ad + 1, a.length), a.length, b, Math.min(bd + 1, b.length), b.length)
  );
}

/** Where the `-` is (the length when there is none: the sequence part is then empty, i.e. 0). */
function dashOf(id: string): number {
  const i = id.indexOf('-');
  return i < 0 ? id.length : i;
}

/** Compares the decimal numbers a[aFrom, aTo) and b[bFrom, bTo) (an empty range is 0). */
function compareDigits(a: string, aFrom: number, aTo: number, b: string, bFrom: number, bTo: number): number {
  while (aFrom < aTo && a.charCodeAt(aFrom) === 48) aFrom++;
  while (bFrom < bTo && b.charCodeAt(bFrom) === 48) bFrom++;
  const len = aTo - aFrom - (bTo - bFrom);
  if (len !== 0) return len < 0 ? -1 : 1;
  for (; aFrom < aTo; aFrom++, bFrom++) {
    const d = a.charCodeAt(aFrom) - b.charCodeAt(bFrom);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
