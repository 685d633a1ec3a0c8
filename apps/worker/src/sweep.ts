import { readFileSync } from 'node:fs';
import type { IndicatorJob } from '@octi-sekoia/model';
import { openCtiInternalId } from '@octi-sekoia/opencti/vocabulary';
import {
  type ConnectorKeys,
  type ConnectorQueues,
  type DeadEventPayload,
  type DeadLetter,
  LuaScript,
  QUEUE_INDICATORS,
  type RedisClient,
} from '@octi-sekoia/queue';

const findSweepBlockerLua = new LuaScript(
  'find-sweep-blocker',
  readFileSync(new URL('./lua/find-sweep-blocker.lua', import.meta.url), 'utf8'),
);

export interface SweepMarkerRef {
  /** The marker's BullMQ job id (itself is never a blocker). */
  id: string;
  /** When the marker was enqueued (BullMQ `job.timestamp`, ms). */
  timestamp: number;
  generation: number;
}

/** A job that holds a sweep marker back, and the queue state it was found in. */
export interface SweepBlocker {
  id: string;
  /** `active` (running now: done within moments), `wait`, `paused`, `prioritized`, `delayed` or `failed`. */
  state: string;
}

/**
 * The first job that must be applied before the sweep of the marker's generation G may run: a job of generation
 * ≤ G, enqueued no later than the marker (same millisecond included), still active, waiting or delayed, or failed
 * and not yet moved to the dead letters (the sweep reads its exemptions from the dead letters). Undefined
 * when there is none. One atomic Lua pass over the queue's lists (it stops at the first blocker, and the oldest
 * jobs are looked at first): cheap while the recovery is still being applied, one pass when it is done.
 */
export async function findSweepBlocker(
  client: RedisClient,
  keys: ConnectorKeys,
  marker: SweepMarkerRef,
): Promise<SweepBlocker | undefined> {
  const r = (await findSweepBlockerLua.run(client, keys.pendingJobKeys(QUEUE_INDICATORS), [
    keys.queueKey(QUEUE_INDICATORS, ''),
    marker.id,
    marker.timestamp,
    marker.generation,
  ])) as [string, string] | null;
  return r ? { id: r[0], state: r[1] } : undefined;
}

/** Why the sweep keeps an indicator: the unresolved dead letter that names it. */
export interface SweepExemption {
  /** Internal (OpenCTI) or STIX id of the indicator. */
  indicator: string;
  /** The dead letter's id (`pnpm cli dead-letters show <id>`). */
  deadLetter: string;
}

const STIX_INDICATOR_ID_RE = /"id"\s*:\s*"(indicator--[0-9a-fA-F-]{36})"/;

/**
 * The indicators a sweep must keep: those an unresolved dead letter names. Such an indicator's last event could
 * not be applied (a job that failed for good, a stream event too malformed to become a job), so not being seen in
 * the generation says nothing about it: removing it would revoke the values of a live OpenCTI indicator. It is
 * kept until the dead letter is replayed (its job then applies) or discarded (the next generation's sweep decides).
 * - kind `job`: the job's indicator, unless the job removes it (the sweep then does what the job meant);
 * - kind `event`: the indicator of the raw stream event — the OpenCTI internal id from the extension when the data
 *   parses, the STIX id otherwise (found in the text, so a truncated payload still names it);
 * - kind `value` is about a value, not an indicator.
 */
export function sweepExemptions(letters: readonly DeadLetter[], deadLetterIds: readonly string[]) {
  const out: SweepExemption[] = [];
  letters.forEach((letter, i) => {
    const deadLetter = deadLetterIds[i] ?? '';
    if (letter.kind === 'job') {
      const job = letter.payload as Partial<IndicatorJob> | null;
      if (!job || typeof job !== 'object' || job.op === 'remove') return;
      if (typeof job.indicatorId === 'string' && job.indicatorId !== '')
        out.push({ indicator: job.indicatorId, deadLetter });
      if (typeof job.stixId === 'string' && job.stixId !== '')
        out.push({ indicator: job.stixId, deadLetter });
    } else if (letter.kind === 'event') {
      const data = (letter.payload as Partial<DeadEventPayload> | null)?.data;
      if (typeof data !== 'string') return;
      const internal = openctiIdOf(data);
      if (internal) out.push({ indicator: internal, deadLetter });
      const stix = STIX_INDICATOR_ID_RE.exec(data)?.[1];
      if (stix) out.push({ indicator: stix, deadLetter });
    }
  });
  return out;
}

/** The OpenCTI internal id of the indicator in a stream event's data, when it parses. */
function openctiIdOf(data: string): string | undefined {
  try {
    const envelope = JSON.parse(data) as { data?: { type?: unknown; extensions?: unknown } };
    const stix = envelope?.data;
    if (!stix || stix.type !== 'indicator') return undefined;
    return openCtiInternalId(stix);
  } catch {
    return undefined;
  }
}

/** Reads every unresolved dead letter of kind `job` or `event` (value letters are skipped by their id prefix). */
export async function readSweepExemptions(queues: ConnectorQueues): Promise<SweepExemption[]> {
  const ids = [
    ...new Set(
      await queues.deadLetters.getRanges(['waiting', 'failed', 'delayed', 'prioritized', 'active'], 0, -1),
    ),
  ].filter((id) => id.startsWith('job-') || id.startsWith('event-'));
  const letters: DeadLetter[] = [];
  const found: string[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    const jobs = await Promise.all(ids.slice(i, i + 100).map((id) => queues.deadLetters.getJob(id)));
    for (const job of jobs) {
      if (!job?.id) continue;
      letters.push(job.data as DeadLetter);
      found.push(job.id);
    }
  }
  return sweepExemptions(letters, found);
}
