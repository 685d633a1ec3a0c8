import type { Job } from '@octi-sekoia/model';
import { Queue } from 'bullmq';
import type { DeadLetter } from './dead-letter.ts';
import { type ConnectorKeys, keys as connectorKeys } from './keys.ts';
import type { RedisClient } from './redis-client.ts';

export interface QueueOptions {
  /**
   * How many completed indicator jobs are kept (the newest), for the dashboard and `pnpm cli status`. Nothing
   * relies on a completed job being kept: a replayed event re-enqueued under the same job id once the job is
   * gone is refused by the fence of the desired state (`duplicate`/`stale`, packages/sync/README.md
   * "Why it converges" 1), so no request follows. Default 1,000.
   */
  completedKept?: number;
}

export interface ConnectorQueues {
  keys: ConnectorKeys;
  /** The connection the queues were created with (also used by the dead-letter helpers). */
  redis: RedisClient;
  indicators: Queue<Job>;
  deadLetters: Queue<DeadLetter>;
  close(): Promise<void>;
}

/**
 * Completed jobs kept by default. Bounded by a count, not an age: at 500 B–1.3 kB of Redis per completed job, an
 * age kept every event of the horizon (a re-sync of 500,000 indicators kept 500,000 jobs for a week).
 */
export const DEFAULT_COMPLETED_KEPT = 1000;

/** Entries of BullMQ's event stream kept (approximately: XADD MAXLEN ~). */
export const EVENTS_KEPT = 1000;

/**
 * The two queues of one connector. Indicator jobs only touch Redis (recordDesired + best-effort reconcile;
 * Sekoia failures leave values in the dirty set, not the job failed), so their retries are for Redis-level
 * trouble: many attempts with exponential backoff and jitter.
 */
export function createQueues(
  connection: RedisClient,
  keyPrefix: string,
  connectorId: string,
  opts: QueueOptions = {},
): ConnectorQueues {
  const k = connectorKeys(keyPrefix, connectorId);
  const indicators = new Queue<Job>(k.queues.indicators, {
    connection,
    prefix: k.bullPrefix,
    // BullMQ's event stream (no process of ours reads it; Bull Board neither): 1,000 entries, not 10,000.
    streams: { events: { maxLen: EVENTS_KEPT } },
    defaultJobOptions: {
      attempts: 25,
      backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
      removeOnComplete: { count: opts.completedKept ?? DEFAULT_COMPLETED_KEPT },
      // Failed jobs stay until the worker moves them to the dead letters.
      removeOnFail: false,
    },
  });
  const deadLetters = new Queue<DeadLetter>(k.queues.deadLetters, {
    connection,
    prefix: k.bullPrefix,
    // A replayed dead letter completes and disappears; the parker fails new ones so they sit in "failed".
    defaultJobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: false },
  });
  return {
    keys: k,
    redis: connection,
    indicators,
    deadLetters,
    async close() {
      await Promise.all([indicators.close(), deadLetters.close()]);
    },
  };
}
