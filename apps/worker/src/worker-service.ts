import type { Logger } from '@octi-sekoia/logger';
import type { Job } from '@octi-sekoia/model';
import { coalesceWrites, type Readiness, type Registry } from '@octi-sekoia/ops';
import { type ConnectorQueues, connectorsKey, createQueues, type RedisClient } from '@octi-sekoia/queue';
import {
  APPROXIMATION_MODES,
  behavioursFor,
  clientBehaviour,
  degradedModes,
  QuotaFullError,
  RateLimitedError,
  readProfile,
  type SekoiaBehaviours,
  SekoiaClient,
  unknownBehaviours,
  type WriteChoices,
  writeChoices,
} from '@octi-sekoia/sekoia';
import {
  CollectionReads,
  createSyncEngine,
  Drainer,
  type Reconciler,
  RequestBudget,
} from '@octi-sekoia/sync';
import { Worker } from 'bullmq';
import { Approximations } from './approximations.ts';
import { BudgetQueue } from './budget-queue.ts';
import { Circuit, type CircuitStatus } from './circuit.ts';
import { quotaMessage, UsageWatch } from './collection-usage.ts';
import { type DeadLetterDeps, deadLetterRejectedValue, moveFailedJobs } from './dead-letters.ts';
import { type WorkerMetrics, workerMetrics } from './metrics.ts';
import { createProcessor } from './process-job.ts';
import { type CallObserver, RequestGate, sekoiaPort } from './sekoia-port.ts';
import type { WorkerSettings } from './settings.ts';
import { readSweepExemptions } from './sweep.ts';
import { WriteMark } from './write-mark.ts';

/** Within this many IOCs of the quota, a refused single create is taken for a quota refusal (see PortOptions). */
const QUOTA_MARGIN = 100;

export interface WorkerServiceDeps {
  /** Commands: sync state, queues, dead letters, budget, published status. */
  redis: RedisClient;
  /** A new connection for BullMQ's worker (blocking commands; `maxRetriesPerRequest: null`). */
  connect: () => RedisClient;
  settings: WorkerSettings;
  log: Logger;
  registry: Registry;
  /** Removes secrets from any text stored in Redis. */
  redact: (text: string) => string;
  userAgent?: string;
}

/**
 * The worker: a BullMQ worker on the connector's `indicators` queue applying jobs through the sync engine, the
 * background drainer of the dirty set, the configuration circuit with its self-probe, the IOC quota watch, the
 * dead letters and the metrics. `start()` / `stop()`; `readiness()` for /readyz.
 */
export class WorkerService {
  readonly queues: ConnectorQueues;
  readonly budget: RequestBudget;
  readonly client: SekoiaClient;
  readonly reconciler: Reconciler;
  readonly circuit: Circuit;
  readonly usage: UsageWatch;
  readonly approximations: Approximations;
  readonly writeMark: WriteMark;
  readonly metrics: WorkerMetrics;
  private readonly worker: Worker<Job>;
  /** Hands the jobs the processor runs back to the queue (shutdown past the grace). */
  private readonly handBack: () => void;
  private readonly workerConnection: RedisClient;
  private readonly dlq: DeadLetterDeps;
  private readonly log: Logger;
  private readonly timers: NodeJS.Timeout[] = [];
  private migrated: Promise<void> | undefined;
  private started = false;
  private stopping = false;
  private readonly drainer: Drainer;
  private moving: Promise<unknown> = Promise.resolve();
  /** A tombstone prune is running (pruneTombstones). */
  private pruning = false;
  private lastTotals: Record<string, number> = {};
  /** Jobs waiting in the indicators queue, read every 250 ms while jobs run (see process-job's backlog). */
  private backlog = 0;
  private backlogTimer: NodeJS.Timeout | undefined;
  /** Sekoia's behaviours as the recorded profile says (every one unknown until start() has read it). */
  behaviours: SekoiaBehaviours = unknownBehaviours();
  private choices: WriteChoices = writeChoices(this.behaviours);

  constructor(private readonly deps: WorkerServiceDeps) {
    const s = deps.settings;
    const t = s.tuning;
    this.log = deps.log;
    // The commands of the jobs running at once leave in one socket write per tick (@octi-sekoia/ops
    // coalesce-writes.ts): a write system call per command was the largest item of the CPU per job.
    coalesceWrites(deps.redis);
    this.metrics = workerMetrics(deps.registry);
    this.queues = createQueues(deps.redis, s.keyPrefix, s.connectorId);
    const k = this.queues.keys;
    this.dlq = {
      queues: this.queues,
      redact: deps.redact,
      onDeadLetter: (kind, subject, error) => {
        this.metrics.deadLetters.inc({ kind });
        this.log.warn({ kind, subject: kind === 'value' ? subject : subject, error }, 'dead letter written');
      },
      cap: {
        ...(s.deadLettersMaxBytes !== undefined ? { maxTotalBytes: s.deadLettersMaxBytes } : {}),
        onRefused: ({ kind, subject, bytes, error }) =>
          this.log.warn(
            { kind, subject, bytes, error, maxTotalBytes: s.deadLettersMaxBytes },
            'dead letters at their cap (REDIS_DEAD_LETTERS_MAX_BYTES): this one is counted and logged, not stored',
          ),
      },
    };

    this.writeMark = new WriteMark({
      redis: deps.redis,
      key: k.sync.writeMark,
      resyncKey: k.resyncRequested,
      onLost: ({ before, after, requested }) =>
        requested
          ? this.log.warn(
              { writeMark: { before, after } },
              'Redis lost writes it had acknowledged (a failover): a re-sync was requested',
            )
          : this.log.info(
              { writeMark: { before, after } },
              'Redis lost writes it had acknowledged: a re-sync is already requested',
            ),
      onError: (err) =>
        this.log.debug({ err: deps.redact(String((err as Error)?.message ?? err)) }, 'write mark failed'),
    });
    this.approximations = new Approximations({
      redis: deps.redis,
      keyOf: k.approximated,
      onFirst: (mode, value, detail) =>
        this.log.warn(
          { value, mode, detail },
          'written as close as Sekoia.io allows (reported once per value; docs/sekoia-behaviours.md)',
        ),
      onError: (err) =>
        this.log.debug(
          { err: deps.redact(String((err as Error)?.message ?? err)) },
          'approximation record failed',
        ),
    });
    this.budget = new RequestBudget(deps.redis, {
      keyPrefix: s.keyPrefix,
      host: new URL(s.sekoia.url).host,
      apiKey: s.sekoia.apiKey,
      ratePerSecond: s.sekoia.requestsPerSecond,
      burst: s.sekoia.requestBurst,
    });
    const observer: CallObserver = {
      request: (endpoint) => this.metrics.sekoiaHttpRequests.inc({ endpoint }),
      call: (endpoint, status, seconds) => {
        this.metrics.sekoiaRequests.inc({ endpoint, status });
        this.metrics.sekoiaLatency.observe({ endpoint }, seconds);
      },
      batch: (n) => this.metrics.batchSize.observe(n),
      error: (err) => this.onSekoiaError(err),
    };
    const budget = new BudgetQueue(this.budget, t.budgetTakers);
    const gate = new RequestGate(budget, observer);
    this.client = new SekoiaClient({
      baseUrl: s.sekoia.url,
      apiKey: s.sekoia.apiKey,
      collectionId: s.sekoia.collectionId,
      timeoutMs: s.sekoia.timeoutMs,
      userAgent: deps.userAgent ?? 'octi-sekoia-worker',
      beforeRequest: gate.beforeRequest,
      onFeedFallback: (reason) =>
        this.log.warn(
          { reason: deps.redact(reason) },
          'the probe profile says the cursor feed reads the collection, but it cannot serve it now: collection ' +
            'reads use offset pages of 100 until this worker restarts (run pnpm cli probe again)',
        ),
    });

    this.reconciler = createSyncEngine({
      redis: deps.redis,
      port: sekoiaPort(this.client, gate, {
        observer,
        choices: () => this.choices,
        onDegraded: (d) => this.approximations.report(d.mode, d.subjects, d.detail),
        onExact: (d) => this.approximations.forget(d.mode, d.subjects),
        onGone: (d) => {
          for (const mode of APPROXIMATION_MODES) this.approximations.forget(mode, d.subjects);
        },
        beforeWrite: () => this.writeMark.note(),
        redact: deps.redact,
        quotaPressure: async () => {
          await this.usage.check();
          const u = this.usage.current();
          return u !== undefined && u.count + QUOTA_MARGIN >= u.max;
        },
      }),
      budget,
      keyPrefix: s.keyPrefix,
      connectorId: s.connectorId,
      lockTtlMs: t.valueLockMs,
      tombstoneMinAgeMs: t.tombstoneMinAgeMs,
      writeHorizonMs: t.writeHorizonMs,
      lingerMs: s.sekoia.batchLingerMs,
      maxBatch: s.sekoia.batchSize,
      backoffBaseMs: s.backoffMs,
      backoffMaxMs: s.backoffMaxMs,
      lostAnswerSearchDelayMs: t.lostAnswerSearchDelayMs,
      defaultRetryAfterMs: t.defaultRetryAfterMs,
      configurationRetryMs: t.configurationRetryMs,
      // A value is written once its holders have settled: after its generation's recovery (issue 18).
      holdDuringRecovery: true,
      // One open create batch per field group across every worker of the connector (issue 18).
      sharedBatches: true,
      onRejected: (r) => deadLetterRejectedValue(this.dlq, r),
      onConfigurationError: (message) => this.circuit.trip({ policy: 'configuration', message }),
      onError: (err) =>
        this.log.warn({ err: deps.redact(String((err as Error)?.message ?? err)) }, 'reconcile error'),
    });

    this.circuit = new Circuit({
      redis: deps.redis,
      key: k.circuit,
      probe: (st) =>
        st.state === 'open' && st.reason === 'forbidden'
          ? gate.run('revoke', 0, () => this.client.probeWrite())
          : gate.run('getCollection', 0, () => this.client.getCollection()),
      probeIntervalMs: t.probeIntervalMs,
      onOpen: (st) => this.pauseWork(st),
      onClose: (st) => this.resumeWork(st),
      onError: (err) =>
        this.log.debug({ err: deps.redact(String((err as Error)?.message ?? err)) }, 'circuit probe failed'),
    });

    this.usage = new UsageWatch({
      redis: deps.redis,
      key: k.collectionUsage,
      read: () => gate.run('countTotalIocs', 0, () => this.client.countTotalIocs()),
      intervalMs: t.usageIntervalMs,
      fullIntervalMs: t.usageFullIntervalMs,
      onReading: (u) => {
        this.metrics.collectionIocs.set({ kind: 'used' }, u.count);
        this.metrics.collectionIocs.set({ kind: 'max' }, u.max);
      },
      onFull: (full, u) => {
        this.metrics.quotaFull.set(full ? 1 : 0);
        setCreatesBlocked(this.reconciler, full);
        if (full) this.log.error({ count: u.count, max: u.max }, quotaMessage(u));
        else this.log.info({ count: u.count, max: u.max }, 'IOC quota has room again: creates resume');
      },
      onError: (err) =>
        this.log.debug({ err: deps.redact(String((err as Error)?.message ?? err)) }, 'quota reading failed'),
    });

    this.drainer = new Drainer(this.reconciler, {
      batch: t.drainBatch,
      concurrency: t.drainConcurrency,
      idleMs: t.drainIdleMs,
      settleMs: t.drainSettleMs,
      burst: () => this.backlog > 0,
      configurationRetryMs: t.configurationRetryMs,
      onError: (err) =>
        this.log.warn({ err: deps.redact(String((err as Error)?.message ?? err)) }, 'drainer error'),
    });

    const collectionReads = new CollectionReads(deps.redis, {
      keyPrefix: s.keyPrefix,
      connectorId: s.connectorId,
    });
    const processor = createProcessor({
      reconciler: this.reconciler,
      keys: this.queues.keys,
      redis: deps.redis,
      settings: {
        retryAttempts: s.retryAttempts,
        backoffMs: s.backoffMs,
        backoffMaxMs: s.backoffMaxMs,
        transientRetryWindowMs: s.transientRetryWindowMs,
        sweepRecheckMs: t.sweepRecheckMs,
        inlineMaxActive: t.inlineMaxActive,
      },
      redact: deps.redact,
      collectionReadRunning: (generation) => collectionReads.readRunning(generation),
      sweepExemptions: () => readSweepExemptions(this.queues),
      onSweep: (generation, kept) => {
        this.metrics.sweepKept.set(kept);
        // For `pnpm cli status`: the last sweep and how many indicators dead letters kept from it.
        void deps.redis
          .set(k.lastSweep, JSON.stringify({ generation, kept, at: new Date().toISOString() }))
          .catch(() => undefined);
      },
      backlog: () => this.backlog,
      onOutcome: (kind, outcome) => this.metrics.jobs.inc({ kind, outcome }),
      log: this.log,
    });
    this.workerConnection = deps.connect();
    coalesceWrites(this.workerConnection);
    this.handBack = processor.handBack;
    this.worker = new Worker<Job>(this.queues.keys.queues.indicators, processor, {
      connection: this.workerConnection,
      prefix: this.queues.keys.bullPrefix,
      concurrency: s.concurrency,
      autorun: false,
      lockDuration: t.lockDurationMs,
      stalledInterval: t.stalledIntervalMs,
      maxStalledCount: t.maxStalledCount,
    });
    this.worker.on('failed', () => this.moveFailed());
    this.worker.on('active', () => this.watchBacklog());
    for (const q of [this.queues.indicators, this.queues.deadLetters])
      q.on('error', (err) =>
        this.log.debug({ err: deps.redact(String(err?.message ?? err)) }, 'queue error'),
      );
    this.worker.on('error', (err) =>
      this.log.warn({ err: deps.redact(String(err?.message ?? err)) }, 'queue worker error'),
    );
    this.metrics.circuitOpen.set({ reason: '' }, 0);
    this.metrics.quotaFull.set(0);
  }

  /**
   * Reads the behaviour profile `pnpm cli probe` recorded and uses it (issue 14). Without one, with an invalid
   * one, or with one probed on another Sekoia host, every behaviour is unknown: the safe choices apply.
   */
  private async loadProfile(): Promise<void> {
    const host = new URL(this.deps.settings.sekoia.url).host;
    const read = await readProfile(this.deps.redis, this.queues.keys.sekoiaProfile);
    this.behaviours = behavioursFor(read, host);
    this.client.useBehaviour(clientBehaviour(this.behaviours));
    this.choices = writeChoices(this.behaviours);
    const degraded = degradedModes(this.behaviours).map((m) => m.mode);
    if (read.state === 'invalid')
      this.log.warn({ error: read.error }, 'Sekoia behaviour profile unreadable: safe choices used');
    else if (read.state === 'absent')
      this.log.info({}, 'no Sekoia behaviour profile recorded (pnpm cli probe): safe choices used');
    else if (read.profile.sekoiaHost.toLowerCase() !== host.toLowerCase())
      this.log.warn(
        { probedHost: read.profile.sekoiaHost, host },
        'Sekoia behaviour profile is for another host: safe choices used',
      );
    else
      this.log.info(
        { observedAt: read.profile.observedAt, behaviours: this.behaviours, degraded },
        'Sekoia behaviour profile loaded',
      );
  }

  /** Registers the connector, checks Sekoia once, then takes jobs (unless the circuit is open). */
  /**
   * Brings sync state written by an older release to the current layout (@octi-sekoia/sync SyncState.migrate),
   * once per process: main.ts calls it before the collection hook, start() in any case before taking work.
   */
  migrateState(): Promise<void> {
    this.migrated ??= this.reconciler.migrate().then((moved) => {
      if (moved.index + moved.indicators > 0)
        this.log.info(
          moved,
          'sync state migrated to the current layout (index in the value records, field sets stored once)',
        );
    });
    return this.migrated;
  }

  async start(): Promise<void> {
    const s = this.deps.settings;
    await this.migrateState();
    this.started = true;
    await this.loadProfile();
    await this.deps.redis.sadd(connectorsKey(s.keyPrefix), s.connectorId);
    this.circuit.publish();
    await this.circuit.probeNow();
    await this.circuit.settled();
    if (!this.circuit.isOpen) this.resumeQueue();
    if (!this.circuit.isOpen) this.startDrainer();
    this.usage.start();
    this.moveFailed();
    this.every(s.tuning.failedSweepIntervalMs, () => this.moveFailed());
    this.every(s.tuning.gaugeIntervalMs, () => this.refreshGauges());
    this.every(s.tuning.tombstonePruneIntervalMs, () => this.pruneTombstones());
  }

  /**
   * Drops the tombstones no event that may still come can be refused by (@octi-sekoia/sync pruneTombstones): one run
   * per connector at a time (the prune lease: the other workers' timers skip while it runs), bounded in Redis time
   * (the next run, here or on another worker, resumes where it stopped). Not while one runs here.
   */
  private async pruneTombstones(): Promise<void> {
    if (this.pruning || this.stopping) return;
    this.pruning = true;
    try {
      const r = await this.reconciler.pruneTombstones();
      if (r.pruned > 0 || r.more)
        this.log.debug(
          { pruned: r.pruned, bound: r.bound, more: r.more, redisMs: Math.round(r.redisMs) },
          'tombstones pruned',
        );
    } catch (err) {
      this.log.debug(
        { err: this.deps.redact(String((err as Error)?.message ?? err)) },
        'tombstone prune failed',
      );
    } finally {
      this.pruning = false;
    }
  }

  readiness(): Readiness {
    if (!this.started) return { ready: false, reason: 'starting' };
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    const c = this.circuit.current();
    if (c.state === 'open') return { ready: false, reason: c.message };
    if (this.deps.redis.status !== 'ready')
      return { ready: false, reason: `Redis connection ${this.deps.redis.status}` };
    return { ready: true };
  }

  /**
   * Stops taking work; in-flight jobs may finish within `handBackAfterMs`, then they are handed back to the
   * queue (no attempt used); the drainer finishes its claims (values it cannot finish stay dirty).
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const grace = this.deps.settings.tuning.handBackAfterMs;
    for (const t of this.timers) clearInterval(t);
    if (this.backlogTimer) clearInterval(this.backlogTimer);
    this.usage.stop();
    this.circuit.stop();
    const closing = this.worker.close();
    if ((await within(grace, closing)) === 'timeout') {
      this.log.info({}, 'handing in-flight jobs back to the queue');
      this.handBack();
      await closing;
    }
    // The drainer's claims get the same grace; past it they are abandoned like a crash would (their values
    // stay dirty, their locks expire, write intents make the next worker search before writing again).
    if ((await within(grace, this.drainer.stop())) === 'timeout')
      this.log.info({}, 'abandoning reconcile claims still waiting (their values stay dirty)');
    await within(
      grace,
      this.moving.catch(() => undefined),
    );
    await this.queues.close();
    this.workerConnection.disconnect();
    this.client.close();
  }

  /** The registry the metrics are on (the ops server's). */
  get registry(): Registry {
    return this.deps.registry;
  }

  /** Reconcile totals and gauges (tests read them; /metrics shows them). */
  async refreshGauges(): Promise<void> {
    try {
      const st = await this.reconciler.stats();
      this.metrics.dirty.set(st.dirty);
      this.metrics.dirtyDue.set(st.due);
      const totals: Record<string, number> = {
        created: st.reconcile.creates,
        edited: st.reconcile.edits,
        revoked: st.reconcile.revokes,
        'force-deleted': st.reconcile.forceDeletes,
        searched: st.reconcile.searches,
        rejected: st.reconcile.rejected,
      };
      for (const [action, n] of Object.entries(totals)) {
        const delta = n - (this.lastTotals[action] ?? 0);
        if (delta > 0) this.metrics.values.inc({ action }, delta);
      }
      this.lastTotals = totals;
      this.metrics.budgetPausedSeconds.set((await this.budget.pausedForMs()) / 1000);
    } catch {
      // Redis unreachable: gauges keep their last value.
    }
  }

  /** Keeps `backlog` fresh while jobs arrive; stops reading when the queue has been idle for a second. */
  private watchBacklog(): void {
    if (this.backlogTimer || this.stopping) return;
    let idle = 0;
    this.backlogTimer = setInterval(() => {
      this.queues.indicators
        .getWaitingCount()
        .then((n) => {
          this.backlog = n;
          idle = n === 0 ? idle + 1 : 0;
          if (idle >= 4 || this.stopping) {
            clearInterval(this.backlogTimer);
            this.backlogTimer = undefined;
          }
        })
        .catch(() => undefined);
    }, 250);
    this.backlogTimer.unref();
  }

  private onSekoiaError(err: unknown): void {
    if (err instanceof RateLimitedError) this.metrics.budgetPauses.inc({ source: err.source });
    else if (err instanceof QuotaFullError) this.usage.quotaFull(err.count, err.max);
    else this.circuit.trip(err);
  }

  private pauseWork(st: CircuitStatus): Promise<void> {
    this.metrics.circuitOpen.reset();
    this.metrics.circuitOpen.set({ reason: st.reason }, 1);
    this.log.error({ reason: st.reason }, `circuit open: ${st.message}`);
    // No job is taken while open (in-flight ones end: their values stay dirty); the drainer stops.
    void this.worker.pause(true);
    return this.stopDrainer();
  }

  private resumeWork(st: CircuitStatus): void {
    this.metrics.circuitOpen.reset();
    this.metrics.circuitOpen.set({ reason: '' }, 0);
    this.log.info({ since: st.since }, 'circuit closed: Sekoia.io answers again, resuming');
    if (this.stopping) return;
    this.resumeQueue();
    this.startDrainer();
  }

  private resumeQueue(): void {
    if (this.stopping) return;
    void this.worker.resume();
  }

  private startDrainer(): void {
    if (this.stopping) return;
    this.drainer.start();
  }

  private async stopDrainer(): Promise<void> {
    if (this.drainer.isRunning) await this.drainer.stop();
  }

  private moveFailed(): void {
    this.moving = this.moving
      .then(() => moveFailedJobs(this.dlq))
      .catch((err) =>
        this.log.warn(
          { err: this.deps.redact(String((err as Error)?.message ?? err)) },
          'moving failed jobs',
        ),
      );
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }
}

/** Waits for `p` at most `ms`. */
async function within(ms: number, p: Promise<unknown>): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([p.then(() => 'done' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The sync engine's create switch (collection full). */
function setCreatesBlocked(reconciler: Reconciler, blocked: boolean): void {
  reconciler.setCreatesBlocked(blocked);
}
