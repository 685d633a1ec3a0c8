import type { AppConfig } from '@octi-sekoia/config';

/**
 * Internal knobs with safe defaults. They are not part of the supported configuration (not in the config
 * schema, README table or samples): tests and incident work set them as `TUNING_*` environment variables.
 */
export interface Tuning {
  /** BullMQ job lock; renewed every half of it while a job runs, so it only bounds event-loop stalls. */
  lockDurationMs: number;
  /** How often BullMQ looks for jobs of crashed workers (recovery takes lockDuration + up to this). */
  stalledIntervalMs: number;
  /** Stall recoveries before BullMQ fails a job (a crash must never dead-letter one: keep it high). */
  maxStalledCount: number;
  /** Per-value claim lock of the sync engine (renewed while a claim is worked on). */
  valueLockMs: number;
  /** How long a write intent is trusted to be in flight (> request timeout + budget hand-off). */
  writeHorizonMs: number;
  /** Self-probe period while the circuit is open. */
  probeIntervalMs: number;
  /** count-total-iocs period, and its period while the quota is full. */
  usageIntervalMs: number;
  usageFullIntervalMs: number;
  /** A sweep marker whose generation still has jobs to apply is looked at again after this. */
  sweepRecheckMs: number;
  /** A job reconciles its own values at once while at most this many jobs run in the process (else the drainer does, in batches). */
  inlineMaxActive: number;
  /** Callers of one process polling the shared Redis budget at once (the others queue locally, FIFO). */
  budgetTakers: number;
  /** Background drainer of the dirty set: parallel claims, values per claim, longest idle sleep. */
  drainConcurrency: number;
  drainBatch: number;
  drainIdleMs: number;
  /** During a burst, due values wait up to this long for a full claim (see Drainer). */
  drainSettleMs: number;
  /** SIGTERM: in-flight jobs may finish within this; after it they are handed back to the queue. */
  handBackAfterMs: number;
  /** SIGTERM: hard deadline of the whole shutdown (exit 1 past it). */
  shutdownGraceMs: number;
  /** 429 without Retry-After: budget pause. */
  defaultRetryAfterMs: number;
  /** A create whose answer was lost is searched for after this (Sekoia's search index catching up). */
  lostAnswerSearchDelayMs: number;
  /** Values hit by a configuration error (or a full quota) are due again after this. */
  configurationRetryMs: number;
  /** Failed jobs left behind by a crash are moved to the dead letters this often. */
  failedSweepIntervalMs: number;
  /** Gauges read from Redis (dirty set, budget pause) are refreshed this often. */
  gaugeIntervalMs: number;
}

const DEFAULTS: Tuning = {
  lockDurationMs: 60_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 10,
  valueLockMs: 60_000,
  writeHorizonMs: 120_000,
  probeIntervalMs: 5_000,
  usageIntervalMs: 60_000,
  usageFullIntervalMs: 15_000,
  sweepRecheckMs: 1_000,
  inlineMaxActive: 4,
  budgetTakers: 4,
  drainConcurrency: 8,
  drainBatch: 500,
  drainIdleMs: 250,
  drainSettleMs: 1_000,
  handBackAfterMs: 8_000,
  shutdownGraceMs: 25_000,
  defaultRetryAfterMs: 30_000,
  lostAnswerSearchDelayMs: 5_000,
  configurationRetryMs: 5_000,
  failedSweepIntervalMs: 60_000,
  gaugeIntervalMs: 5_000,
};

/** `lockDurationMs` → `TUNING_LOCK_DURATION_MS`. */
export function tuningEnvName(key: keyof Tuning): string {
  return `TUNING_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Reads `TUNING_*` overrides (positive integers); a bad value is an error naming the variable. */
export function readTuning(env: Record<string, string | undefined>, timeoutMs: number): Tuning {
  const t: Tuning = {
    ...DEFAULTS,
    // The write horizon must outlast a request: at least twice the timeout.
    writeHorizonMs: Math.max(DEFAULTS.writeHorizonMs, 2 * timeoutMs + 10_000),
  };
  for (const key of Object.keys(DEFAULTS) as (keyof Tuning)[]) {
    const name = tuningEnvName(key);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new Error(`${name} = '${raw}' is invalid: expected an integer ≥ 1`);
    t[key] = n;
  }
  return t;
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

export function workerSettings(config: AppConfig, env: Record<string, string | undefined>): WorkerSettings {
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
    tuning: readTuning(env, s.timeoutMs),
  };
}
