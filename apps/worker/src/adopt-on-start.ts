// Collection reads in the worker: the config identity check and the adoption of the collection at a first start
// (before any job is taken), then a watcher that reads the whole collection at the start of every generation.

import { hostname } from 'node:os';
import type { Logger } from '@octi-sekoia/logger';
import type { Job } from '@octi-sekoia/model';
import type { RedisClient } from '@octi-sekoia/queue';
import { type SekoiaClient, SekoiaError } from '@octi-sekoia/sekoia';
import {
  type Budget,
  CollectionReads,
  claimCollection,
  collectionChangedMessage,
  collectionOwnerKey,
  describeRead,
  ownerConflictMessage,
  type ReadInfo,
  type ReadProgress,
  type ReadResult,
  readWithBudget,
} from '@octi-sekoia/sync';
import type { Queue } from 'bullmq';
import type { WorkerSettings } from './settings.ts';

/** What the hook needs of the worker service (its Sekoia client and budget, its queue). */
export interface CollectionHookService {
  client: SekoiaClient;
  budget: Budget;
  queues: { indicators: Queue<Job> };
}

export interface CollectionHookDeps {
  redis: RedisClient;
  settings: WorkerSettings;
  log: Logger;
  service: CollectionHookService;
  exit?: (code: number) => never;
}

const errText = (err: unknown) =>
  err instanceof SekoiaError || err instanceof Error ? err.message : String(err);

/**
 * The worker's start hook (main.ts, before `service.start()`):
 * 1. the collection the sync state was built for must be the configured one, else the worker refuses to start
 *    (exit 2) with one message saying how to confirm the switch (`pnpm cli adopt`);
 * 2. a first start (no sync state at all) on a non-empty collection adopts it before any job is taken: its
 *    content becomes applied state (nothing is created twice; what no live indicator exports is revoked after
 *    generation 1's sweep). Concurrent workers wait for the one holding the read lock; a failure is retried;
 * 3. then a watcher reads the whole collection at the start of every later generation (see CollectionWatcher).
 */
export async function prepareCollection(deps: CollectionHookDeps): Promise<CollectionWatcher> {
  const { settings, log } = deps;
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const reads = new CollectionReads(deps.redis, {
    keyPrefix: settings.keyPrefix,
    connectorId: settings.connectorId,
  });
  const collection = settings.sekoia.collectionId;
  const check = await reads.checkCollection(collection);
  if (check.kind === 'changed') {
    const message = collectionChangedMessage(check.recorded, collection);
    log.fatal({ recorded: check.recorded, configured: collection }, message);
    process.stderr.write(`refusing to start: ${message}\n`);
    exit(2);
  }
  if (check.kind === 'recorded') log.info({ collection }, 'collection recorded in the config identity');
  const me = { connectorId: settings.connectorId, keyPrefix: settings.keyPrefix };
  const claim = await claimCollection(
    deps.redis,
    collectionOwnerKey(settings.sekoia.url, collection),
    me,
    `worker ${hostname()} pid ${process.pid}`,
  );
  if (claim.kind === 'other') {
    const message = ownerConflictMessage(collection, claim.owner, me);
    log.fatal({ owner: claim.owner, collection }, message);
    process.stderr.write(`refusing to start: ${message}\n`);
    exit(2);
  }
  if (claim.kind === 'claimed')
    log.info({ collection }, 'this connector is recorded as the collection owner');
  const watcher = new CollectionWatcher(reads, deps, deps.settings.tuning.collectionReadPollMs);
  await watcher.adoptOnStart();
  watcher.start();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => watcher.stop());
  return watcher;
}

/**
 * Reads the whole collection at the start of every generation (a reset in OpenCTI, `cli resync`, a trimmed gap,
 * a changed configuration): once the current generation is newer than the last one read, one worker (a lock)
 * lists every page into the applied state while the queue keeps flowing: the recovery's jobs record their
 * desired state meanwhile (their values are held until the sweep, which waits for the read: process-job.ts),
 * and a value a write changes during the read is re-checked after it (packages/sync read-touched.ts). Values
 * confirmed by the read need no verify search, and values no indicator wants are revoked after the generation's
 * sweep. The watcher also dirties the observed values of swept generations and resumes a queue left paused by a
 * reader of an older version (which paused the queue during a read).
 */
export class CollectionWatcher {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private failures = 0;
  private nextAttemptAt = 0;
  private readonly by = `worker ${hostname()} pid ${process.pid}`;

  constructor(
    readonly reads: CollectionReads,
    private readonly deps: CollectionHookDeps,
    private readonly pollMs: number,
  ) {}

  /** First start: adopt the collection unless some sync state exists already. Retries until it succeeds. */
  async adoptOnStart(): Promise<void> {
    const { log } = this.deps;
    for (;;) {
      const g = await this.reads.generations();
      if (g.read > 0) return;
      const generation = Math.max(1, g.current);
      if (await this.reads.stateExists()) {
        // Built before collection reads existed: the next generation reads the collection.
        await this.reads.markRead(
          generation,
          this.emptyInfo(generation, 'state built before collection reads'),
        );
        log.info(
          { generation },
          'sync state exists: no adoption; the collection is read at the next generation',
        );
        return;
      }
      try {
        const count = (await this.deps.service.client.getCollection()).indicators_count;
        if (count === 0) {
          await this.reads.markRead(generation, this.emptyInfo(generation, this.by));
          await this.reads.markAdopted();
          log.info({ generation }, 'first start on an empty collection: nothing to adopt');
          return;
        }
        log.info(
          { generation, indicators: count },
          'first start: adopting the collection before taking jobs',
        );
        const r = await this.read(generation);
        await this.reads.markAdopted();
        if (r.kind === 'read') {
          log.info({ ...r.info }, `collection adopted for generation ${generation}: ${describeRead(r.info)}`);
        } else {
          log.info({ generation }, 'collection adopted by another worker');
        }
        return;
      } catch (err) {
        if (this.stopped) throw err;
        const waitMs = this.backoff();
        log.error(
          { err: errText(err), retryInMs: waitMs },
          'cannot read the IOC collection to adopt it; no job is taken before it is adopted; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
  }

  /** One look (exposed for tests): a new generation to read, observed values to dirty, a stale queue pause. */
  async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    const { log } = this.deps;
    try {
      const superseded = await this.reads.supersede();
      if (superseded !== undefined)
        log.info({ superseded }, 'a newer generation started: the sweeps of older ones are skipped');
      const g = await this.reads.generations();
      if (g.current > g.read && Date.now() >= this.nextAttemptAt) {
        try {
          const r = await this.read(g.current);
          this.failures = 0;
          if (r.kind === 'read') {
            log.info({ ...r.info }, `collection read for generation ${g.current}: ${describeRead(r.info)}`);
          }
        } catch (err) {
          if (this.stopped) return;
          this.nextAttemptAt = Date.now() + this.backoff();
          log.warn(
            { generation: g.current, err: errText(err), retryAt: new Date(this.nextAttemptAt).toISOString() },
            'collection read failed; jobs go on (their values are searched instead); retrying',
          );
        }
      }
      const pending = await this.reads.pendingObserved();
      const { swept } = await this.reads.generations();
      if (pending.some((p) => p <= swept)) {
        const n = await this.reads.dirtySwept();
        if (n > 0) log.info({ values: n, swept }, 'values read from the collection dirtied after the sweep');
      }
      const q = this.deps.service.queues.indicators;
      if ((await q.isPaused()) && !(await this.reads.lockHeld())) {
        await q.resume();
        log.warn({}, 'indicators queue left paused by a collection read that did not finish: resumed');
      }
    } catch (err) {
      if (!this.stopped) log.warn({ err: errText(err) }, 'collection watcher step failed');
    } finally {
      this.busy = false;
    }
  }

  private read(generation: number): Promise<ReadResult> {
    const { service, log } = this.deps;
    let lastLog = Date.now();
    return readWithBudget(this.reads, generation, service.client, service.budget, {
      by: this.by,
      signal: this.abort.signal,
      beforeRead: async () => {
        log.info({ generation }, 'reading the collection for the new generation (jobs keep being applied)');
      },
      onProgress: (p: ReadProgress) => {
        if (Date.now() - lastLog < 10_000) return;
        lastLog = Date.now();
        log.info(
          { generation: p.generation, indicators: p.indicators, values: p.values },
          'collection read progress',
        );
      },
    });
  }

  private emptyInfo(generation: number, by: string): ReadInfo {
    return {
      generation,
      at: new Date().toISOString(),
      indicators: 0,
      live: 0,
      values: 0,
      duplicates: 0,
      trusted: 0,
      confirmed: 0,
      refreshed: 0,
      unsure: 0,
      by,
    };
  }

  private backoff(): number {
    this.failures += 1;
    const ms = Math.min(60_000, 1000 * 2 ** Math.min(this.failures - 1, 6));
    return Math.round(ms * (0.5 + Math.random() / 2));
  }
}
