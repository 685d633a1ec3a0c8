import { type ConnectorQueues, connectorsKey, type RedisClient } from '@octi-sekoia/queue';
import { LeaseRefusedError } from './add-jobs.ts';
import { Backpressure } from './backpressure.ts';
import { BatchWriter } from './batch-writer.ts';
import { CheckpointStore, type StoredCheckpoint } from './checkpoint-store.ts';
import { checkConfigIdentity } from './config-identity.ts';
import { Generations } from './generations.ts';
import { type LeaseLoss, ReaderLease } from './lease.ts';
import type { IngestMetrics } from './metrics.ts';
import { OpenCtiPresence } from './opencti-presence.ts';
import { OperatorInbox } from './operator-inbox.ts';
import type { ConnectorApi, OpenStream } from './ports.ts';
import { ReaderStatus } from './reader-status.ts';
import { Reading } from './reading.ts';
import type { IngestSettings } from './settings.ts';

export interface IngestDeps {
  redis: RedisClient;
  queues: ConnectorQueues;
  opencti: ConnectorApi;
  openStream: OpenStream;
  settings: IngestSettings;
  metrics: IngestMetrics;
  redact: (text: string) => string;
  log: {
    debug?(obj: object, msg: string): void;
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
  now?: () => number;
  /**
   * Test seam: awaited when a generation is about to start (the lease checked, the reading flushed), right
   * before the start-generation script. A stall here is the GC pause / throttled CPU of docs/architecture.md.
   */
  beforeGenerationStart?: () => Promise<void>;
}

/**
 * Ingest's composition root. Only the lease holder reads and pings. Messages are normalized into jobs, enqueued in
 * batches, and the checkpoint advances only past ids whose jobs are all in Redis (CheckpointTracker). This class
 * builds the collaborators (apps/ingest/README.md, "Files"), hands each narrow callbacks, and runs the
 * leadership: what happens when the lease is acquired or lost, the periodic poll, start and stop.
 */
export class IngestService {
  private readonly lease: ReaderLease;
  private readonly store: CheckpointStore;
  private readonly presence: OpenCtiPresence;
  private readonly writer: BatchWriter;
  private readonly generations: Generations;
  private readonly inbox: OperatorInbox;
  private readonly backpressure: Backpressure;
  private readonly status: ReaderStatus;
  private readonly reading: Reading;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Serialises stream (re)starts and generation changes. */
  private control: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly deps: IngestDeps) {
    this.now = deps.now ?? Date.now;
    const { redis, queues, metrics, log, redact, settings } = deps;
    this.lease = new ReaderLease(redis, queues.keys.lease, settings.leaseTtlMs, {
      onAcquired: () => this.enqueueControl(() => this.becomeLeader()),
      onLost: (why) => {
        this.generations.cancelPositionRead();
        this.enqueueControl(() => this.loseLeadership(why));
      },
    });
    this.store = new CheckpointStore({
      redis,
      keys: queues.keys,
      leaseToken: this.lease.token,
      metrics,
      onDiverged: (reading, counter) => this.generations.onDiverged(reading, counter),
      onWritesLost: (stored, wasAt) => {
        this.log.warn(
          { checkpoint: stored?.start_from ?? null, wasAt: wasAt ?? null },
          'Redis lost writes it had acknowledged (a failover, or a restart from an older snapshot): reading again from the checkpoint it holds',
        );
        this.reading.abandon();
        // Even the checkpoint gone: only a full re-sync restores the truth.
        if (!stored) this.generations.request('diverged');
        else this.enqueueControl(async () => this.openStream());
      },
    });
    this.presence = new OpenCtiPresence({
      api: deps.opencti,
      settings,
      metrics,
      log,
      redact,
      state: () => {
        const cp = this.lease.isHeld() ? this.store.current : undefined;
        return cp && { start_from: cp.start_from, recover_until: cp.recover_until };
      },
      // Refreshed on every ping so `cli status` never reads an expired state from a healthy reader.
      beforePing: () =>
        this.backpressure.isPaused
          ? this.status.publish('paused', 'backlog above the high-water mark')
          : this.status.publish(this.status.current.state, this.status.current.message),
      onReset: () => this.generations.onReset(),
    });
    this.writer = new BatchWriter({ queues, leaseToken: this.lease.token, settings, metrics, log, redact });
    this.status = new ReaderStatus({
      redis,
      key: queues.keys.ingestStatus,
      isReader: () => this.lease.isHeld(),
      now: this.now,
      metrics,
      auth: this.presence,
      log,
    });
    this.backpressure = new Backpressure({
      settings,
      metrics,
      log,
      backlog: () => this.writer.backlog(),
      isReading: () => this.reading.isOpen,
      pause: (message) => {
        this.status.publish('paused', message);
        // What was read after this batch is dropped (not committed): it is read again when reading resumes.
        this.reading.abandon();
      },
      resume: () => this.enqueueControl(async () => this.openStream()),
    });
    this.generations = new Generations({
      store: this.store,
      settings,
      openStream: deps.openStream,
      log,
      now: this.now,
      isReader: () => !this.stopping && this.lease.isHeld(),
      enqueueControl: (fn) => this.enqueueControl(fn),
      stopReading: () => {
        this.reading.close();
        return this.reading.flush();
      },
      startReading: () => this.openStream(),
      ping: () => this.presence.ping(),
      readingFlushed: () => this.reading.flushedAll(),
      writeSweepMarker: async (marker) => {
        await this.writer.writeSweepMarker(marker);
        return this.store.markWrites();
      },
      onStatus: (st) => this.status.onStatus(st),
      ...(deps.beforeGenerationStart ? { beforeGenerationStart: deps.beforeGenerationStart } : {}),
    });
    this.reading = new Reading({
      openStream: deps.openStream,
      settings,
      metrics,
      log,
      redact,
      now: this.now,
      store: this.store,
      writer: this.writer,
      generations: this.generations,
      backpressure: this.backpressure,
      onStatus: (st) => this.status.onStatus(st),
      isReader: () => this.lease.isHeld(),
      reopen: () =>
        this.enqueueControl(async () => {
          if (!this.reading.isOpen) this.openStream();
        }),
      onLeaseRefused: () => this.lease.refused(),
    });
    this.inbox = new OperatorInbox({
      redis,
      keys: queues.keys,
      writer: this.writer,
      generation: () => this.store.current?.generation ?? 0,
      requestResync: () => this.generations.request('requested'),
      log,
    });
  }

  start(): void {
    const s = this.deps.settings;
    // Two commands, not a MULTI: the connectors set is outside the connector's slot (Redis Cluster).
    void this.deps.redis.sadd(connectorsKey(s.keyPrefix), s.connectorId).catch(() => undefined);
    void this.deps.redis
      .hset(this.deps.queues.keys.info, { name: s.connectorName, streamId: s.streamId })
      .catch(() => undefined);
    this.lease.start();
    this.log.info({}, 'waiting for the reader lease (one ingest replica reads the stream)');
  }

  /** Flushes the pending batch, commits the checkpoint, closes the stream and releases the lease. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.reading.halt();
    this.generations.cancelPositionRead();
    await this.control;
    this.reading.close();
    this.clearTimers();
    if (this.lease.isHeld()) {
      const pending = this.reading.pending;
      await this.reading.flush();
      this.log.info(
        { pending, checkpoint: this.store.current?.start_from ?? null },
        'stopped reading: pending batch enqueued and checkpoint committed',
      );
      await this.presence.pingOnce().catch(() => undefined);
    }
    await this.lease.stop();
  }

  readiness(): { ready: boolean; reason?: string } {
    if (!this.lease.isHeld()) return { ready: true, reason: 'standby: another replica reads the stream' };
    const auth = this.presence.authFailure();
    if (auth !== undefined) return { ready: false, reason: auth };
    if (this.backpressure.isPaused)
      return { ready: true, reason: 'paused: backlog above the high-water mark' };
    const status = this.status.current;
    if (status.state === 'open') return { ready: true };
    return { ready: false, reason: status.message };
  }

  isLeader(): boolean {
    return this.lease.isHeld();
  }

  get checkpoint(): StoredCheckpoint | undefined {
    return this.store.current;
  }

  private get log() {
    return this.deps.log;
  }

  private enqueueControl(fn: () => Promise<void>): void {
    this.control = this.control.then(fn).catch((err: unknown) => {
      this.log.error(
        { err: this.deps.redact(String((err as Error)?.message ?? err)) },
        'ingest control step failed',
      );
    });
  }

  private async becomeLeader(): Promise<void> {
    if (this.stopping) return;
    this.log.info({}, 'reader lease acquired: this replica reads the stream');
    this.deps.metrics.leader.set(1);
    await this.presence.checkVersion();
    await this.presence.register();
    await checkConfigIdentity(this.deps.redis, this.deps.queues.keys, this.deps.settings, this.log);
    if (!(await this.generations.load())) return; // stopping, or the lease lost while asking OpenCTI's position
    // Read before the first ping, which may see (and record) a new reset itself.
    const resetSeen = await this.store.resetSeen();
    await this.presence.startPinging();
    this.pollTimer = setInterval(() => void this.poll(), this.deps.settings.pollMs);
    this.pollTimer.unref();
    this.openStream();
    if (resetSeen) this.generations.resumeReset(resetSeen);
  }

  private async loseLeadership(why: LeaseLoss): Promise<void> {
    this.log.warn(
      { why },
      why === 'taken'
        ? 'reader lease lost: another replica took over; stopping reading without committing'
        : 'reader lease expired (Redis was unreachable, or this process paused, for longer than its TTL) and ' +
            'no other replica holds it: stopping reading without committing, then taking it again',
    );
    this.deps.metrics.leader.set(0);
    this.deps.metrics.streamRead(undefined);
    this.reading.close();
    this.clearTimers();
    this.reading.supersede();
    this.backpressure.reset();
  }

  private openStream(): void {
    if (this.stopping || this.backpressure.isPaused || !this.store.current || !this.lease.isHeld()) return;
    this.reading.open();
  }

  private clearTimers(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.reading.clearTimers();
    this.presence.stopPinging();
  }

  /** Periodic: resume after backpressure, the CLI's resync request, events sent back from dead letters. */
  private async poll(): Promise<void> {
    if (!this.lease.isHeld() || this.stopping) return;
    try {
      await this.backpressure.poll();
      await this.inbox.check();
    } catch (err) {
      // A replayed event's batch refused by the lease fence (it stays in the list for the next reader).
      if (err instanceof LeaseRefusedError) this.lease.refused();
      this.log.warn({ err: this.deps.redact((err as Error).message) }, 'ingest poll failed');
    }
  }
}
