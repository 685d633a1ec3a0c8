import type { Job } from '@octi-sekoia/model';
import { Queue } from 'bullmq';
import type { DeadLetter } from './dead-letter.ts';
import { type ConnectorKeys, keys as connectorKeys } from './keys.ts';
import type { RedisClient } from './redis-client.ts';

export interface QueueOptions {
  /**
   * How long completed indicator jobs are kept (seconds): a replayed event inside this horizon is not enqueued
   * twice (same job id). Beyond it, fencing makes a replay harmless. Default 7 days, like the tombstones.
   */
  completedHorizonSec?: number;
}

export interface ConnectorQueues {
  keys: ConnectorKeys;
  /** The connection the queues were created with (also used by the dead-letter helpers). */
  redis: RedisClient;
  indicators: Queue<Job>;
  deadLetters: Queue<DeadLetter>;
  close(): Promise<void>;
}

export const DEFAULT_COMPLETED_HORIZON_SEC = 7 * 24 * 3600;

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
    defaultJobOptions: {
      attempts: 25,
      backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
      removeOnComplete: { age: opts.completedHorizonSec ?? DEFAULT_COMPLETED_HORIZON_SEC },
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
