import type { RedisClient } from '@octi-sekoia/queue';
import type { Budget, SekoiaPort } from './port.ts';
import { Reconciler, type ReconcilerOptions } from './reconciler.ts';
import { SyncState, type SyncStateOptions } from './state.ts';

export interface SyncEngineOptions extends SyncStateOptions, ReconcilerOptions {
  /** A connection for the sync state (any ioredis connection; not a blocking BullMQ one). */
  redis: RedisClient;
  port: SekoiaPort;
  /** The shared RequestBudget (default: unlimited, for tests). */
  budget?: Budget;
}

/**
 * The engine as the worker wires it: `applyJob(job)` in the BullMQ processor, a `Drainer` of the dirty set
 * (`reconcileDirty()` in a loop), `dirtyCount()` / `stats()` for metrics, `sweep(G)` on a sweep marker,
 * `markDirty([value], { clearRejection: true })` for a dead letter of kind `value`.
 */
export function createSyncEngine(opts: SyncEngineOptions): Reconciler {
  const { redis, port, budget, ...rest } = opts;
  return new Reconciler(new SyncState(redis, rest), port, budget, rest);
}
