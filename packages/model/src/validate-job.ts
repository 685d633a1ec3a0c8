// The job's shape, checked where a job is taken from Redis (the worker) or recorded (packages/sync): one rule,
// beside the job type (job.ts). An event id is the stream's `<ms>-<seq>` (isEventId, packages/opencti).
import { isEventId } from '@octi-sekoia/opencti/vocabulary';
import type { IndicatorJob, Job, SweepMarkerJob } from './job.ts';

/** A job whose data can never be applied: dead-lettered at once. */
export class InvalidJobError extends Error {
  override readonly name = 'InvalidJobError';
}

/** Checks the shape of a job before anything is written (a producer bug must not reach the sync state). */
export function validateJob(data: unknown): Job {
  const fail = (why: string): never => {
    throw new InvalidJobError(`invalid job: ${why}`);
  };
  if (typeof data !== 'object' || data === null) return fail('not an object');
  const j = data as Record<string, unknown>;
  if (!Number.isSafeInteger(j.generation) || (j.generation as number) < 0) fail('bad generation');
  if (typeof j.eventId !== 'string' || !isEventId(j.eventId)) fail('bad eventId');
  if (j.kind === 'sweep') return data as SweepMarkerJob;
  if (j.kind !== 'indicator') return fail(`unknown kind ${JSON.stringify(j.kind)}`);
  if (j.op !== 'upsert' && j.op !== 'remove') fail(`bad op ${JSON.stringify(j.op)}`);
  if (typeof j.indicatorId !== 'string' || j.indicatorId === '') fail('missing indicatorId');
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== '');
  if (!strings(j.values)) fail('values must be non-empty strings');
  if (j.previous !== undefined && !strings(j.previous)) fail('previous must be non-empty strings');
  const a = j.attributes as Record<string, unknown> | undefined;
  if (j.op === 'upsert') {
    if (typeof a !== 'object' || a === null) fail('missing attributes');
    if (typeof a?.validFrom !== 'string') fail('attributes.validFrom must be a string');
    if (a?.validUntil !== undefined && typeof a.validUntil !== 'string') fail('bad attributes.validUntil');
    if (typeof a?.description !== 'string') fail('attributes.description must be a string');
    if (!Array.isArray(a?.killChainPhases)) fail('attributes.killChainPhases must be an array');
  }
  return data as IndicatorJob;
}
