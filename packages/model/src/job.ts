/**
 * The one job definition (docs/architecture.md "The job"). Ingest produces it, the worker consumes it,
 * the dashboard and CLI show it. Values are canonical strings (see @octi-sekoia/stix canonicalize).
 */

/** A Redis stream id `<ms>-<seq>` as OpenCTI sends it. */
export type EventId = string;

export interface KillChainPhase {
  kill_chain_name: string;
  phase_name: string;
}

export interface IocAttributes {
  /** ISO 8601. */
  validFrom: string;
  /** ISO 8601; absent when the indicator has none (Sekoia then applies its default validity). */
  validUntil?: string;
  killChainPhases: KillChainPhase[];
  /** Rendered from the description template, at most 500 code points. */
  description: string;
}

export interface IndicatorJob {
  kind: 'indicator';
  generation: number;
  eventId: EventId;
  /** upsert: the indicator is live with exactly `values` (possibly none); remove: it is gone. */
  op: 'upsert' | 'remove';
  /** OpenCTI internal id (extension `id`): stable across pattern changes. */
  indicatorId: string;
  stixId: string;
  attributes: IocAttributes;
  /** Canonical values the indicator exports now (empty for a remove). */
  values: string[];
  /** Values it exported before this event, when the event says so (update reverse_patch); a hint only. */
  previous?: string[];
}

/**
 * Enqueued by ingest after a generation's whole recovery: once every job of `generation` before it is
 * applied, indicators not seen in that generation are swept (removed).
 */
export interface SweepMarkerJob {
  kind: 'sweep';
  generation: number;
  eventId: EventId;
}

export type Job = IndicatorJob | SweepMarkerJob;

/**
 * Compares two `<ms>-<seq>` ids numerically (not as strings): negative when a < b. Ingest compares a few times per
 * stream message, so without BigInt or split: two digit strings compare by length once leading zeros are skipped,
 * then character by character (ids are checked `<digits>-<digits>` before they reach here: isEventId).
 */
export function compareEventIds(a: EventId, b: EventId): number {
  const ad = dashOf(a);
  const bd = dashOf(b);
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

/** BullMQ custom job id: generation + event id + indicator, no `:` (BullMQ forbids it). */
export function jobId(job: Job): string {
  if (job.kind === 'sweep') return `g${job.generation}-${job.eventId}-sweep`;
  return `g${job.generation}-${job.eventId}-${job.indicatorId}`;
}

/** One line for logs: what the job does to which indicator, at which point of the stream. */
export function describeJob(job: Job): string {
  if (job.kind === 'sweep') return `sweep marker g${job.generation} @${job.eventId}`;
  const n = job.values.length;
  const what = job.op === 'upsert' ? `${n} value${n === 1 ? '' : 's'}` : 'gone';
  return `${job.op} indicator ${job.indicatorId} (${job.stixId}) g${job.generation} @${job.eventId}: ${what}`;
}
