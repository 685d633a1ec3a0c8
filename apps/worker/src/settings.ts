import type { AppConfig, WorkerTuning } from '@octi-sekoia/config';

/**
 * Internal knobs with safe defaults: the `TUNING_*` entries of the config schema (packages/config, WORKER_TUNING),
 * not part of the supported configuration (not in the README table or samples): tests and incident work set them.
 */
export type Tuning = Required<WorkerTuning>;

/** The knobs as configured, with the write horizon derived from the request timeout when it is not set. */
export function tuningOf(values: WorkerTuning, timeoutMs: number): Tuning {
  // The write horizon must outlast a request: at least twice the timeout.
  return { ...values, writeHorizonMs: values.writeHorizonMs ?? Math.max(120_000, 2 * timeoutMs + 10_000) };
}

/** Everything the worker service needs, from the configuration and the tuning. */
export interface WorkerSettings {
  keyPrefix: string;
  connectorId: string;
  /** REDIS_DEAD_LETTERS_MAX_BYTES (0 or absent: no cap). */
  deadLettersMaxBytes?: number;
  sekoia: {
    url: string;
    apiKey: string;
    collectionId: string;
    timeoutMs: number;
    requestsPerSecond: number;
    requestBurst: number;
    batchSize: number;
    batchLingerMs: number;
  };
  concurrency: number;
  retryAttempts: number;
  backoffMs: number;
  backoffMaxMs: number;
  transientRetryWindowMs: number;
  tuning: Tuning;
}

export function workerSettings(config: AppConfig): WorkerSettings {
  const s = config.sekoiaIntel;
  return {
    keyPrefix: config.redis.keyPrefix,
    deadLettersMaxBytes: config.redis.deadLettersMaxBytes,
    connectorId: config.connector.id,
    sekoia: {
      url: s.url,
      apiKey: s.apiKey,
      collectionId: s.iocCollectionUuid,
      timeoutMs: s.timeoutMs,
      requestsPerSecond: s.requestsPerSecond,
      requestBurst: s.requestBurst,
      batchSize: s.batchSize,
      batchLingerMs: s.batchLingerMs,
    },
    concurrency: config.worker.concurrency,
    retryAttempts: config.worker.retryAttempts,
    backoffMs: config.worker.backoffMs,
    backoffMaxMs: config.worker.backoffMaxMs,
    transientRetryWindowMs: config.worker.transientRetryWindowS * 1000,
    tuning: tuningOf(config.tuning, s.timeoutMs),
  };
}
