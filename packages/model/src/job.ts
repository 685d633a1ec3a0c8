/**
 * The one job definition (docs/architecture.md "The job"). Ingest produces it, the worker consumes it,
 * the dashboard and CLI show it. Values are canonical strings (see @octi-sekoia/stix canonicalize).
 */

import type { EventId } from '@octi-sekoia/opencti/vocabulary';

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
