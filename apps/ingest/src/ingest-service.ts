import { compareEventIds } from '@octi-sekoia/model';
import type { ConnectorQueues } from '@octi-sekoia/queue';
import type { Redis } from 'ioredis';
import { Backpressure } from './backpressure.ts';
import { BatchWriter, type Pending } from './batch-writer.ts';
import { CheckpointStore, type StoredCheckpoint } from './checkpoint-store.ts';
import { CheckpointTracker } from './checkpoint-tracker.ts';
import { checkConfigIdentity } from './config-identity.ts';
import { checkFrame, type FrameVerdict, isDataEvent } from './frame-check.ts';
import { Generations } from './generations.ts';
import { type LeaseLoss, ReaderLease } from './lease.ts';
import type { IngestMetrics } from './metrics.ts';
import { OpenCtiPresence } from './opencti-presence.ts';
import { OperatorInbox } from './operator-inbox.ts';
import type { ConnectedInfo, ConnectorApi, OpenStream, StreamMessage } from './ports.ts';
import { ReaderStatus } from './reader-status.ts';
import type { IngestSettings } from './settings.ts';

export interface IngestDeps {
  redis: Redis;
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
 * The stream reader. Only the lease holder reads and pings. Messages are normalized into jobs, enqueued in
 * batches, and the checkpoint advances only past ids whose jobs are all in Redis (CheckpointTracker).
 * This class wires the collaborators (see apps/ingest/README.md) and owns one reading: the stream connection,
 * the buffer of what was read and its flush chain.
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
  private stream: { close(): void } | undefined;
  private tracker = new CheckpointTracker('0-0');
  private buffer: Pending[] = [];
  private bufferSeq = 0;
  private flushing: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reading = false;
  private stopping = false;
  private progress = { events: 0, since: 0, lastLog: 0 };
  /** Serialises stream (re)starts and generation changes. */
  private control: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  /** Consecutive enqueue failures: the reconnect after one waits longer each time. */
  private enqueueFailures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The last full batch handed to the flush chain (the reader waits for it before handing over the next). */
  private batchInFlight: Promise<void> = Promise.resolve();
  /** The last data frame id of each reading (a new reading, a new tracker: no stale comparison). */
  private readonly lastDataId = new WeakMap<CheckpointTracker, string>();

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
    this.writer = new BatchWriter({ queues, settings, metrics, log, redact });
    this.status = new ReaderStatus({
      redis,
      key: `${queues.keys.base}:ingest-status`,
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
      isReading: () => this.reading,
      pause: (message) => {
        this.status.publish('paused', message);
        // What was read after this batch is dropped (not committed): it is read again when reading resumes.
        this.abandonReading();
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
        this.closeStream();
        return this.flush();
      },
      startReading: () => this.openStream(),
      ping: () => this.presence.ping(),
      readingFlushed: async () => {
        const tracker = this.tracker;
        await this.flush();
        return this.reading && tracker === this.tracker && tracker.pending() === 0;
      },
      writeSweepMarker: (marker) => this.writer.writeSweepMarker(marker),
      onStatus: (st) => this.status.onStatus(st),
      ...(deps.beforeGenerationStart ? { beforeGenerationStart: deps.beforeGenerationStart } : {}),
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
    void this.deps.redis
      .multi()
      .sadd(`${s.keyPrefix}:connectors`, s.connectorId)
      .hset(this.deps.queues.keys.info, { name: s.connectorName, streamId: s.streamId })
      .exec()
      .catch(() => undefined);
    this.lease.start();
    this.log.info({}, 'waiting for the reader lease (one ingest replica reads the stream)');
  }

  /** Flushes the pending batch, commits the checkpoint, closes the stream and releases the lease. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.generations.cancelPositionRead();
    await this.control;
    this.closeStream();
    this.clearTimers();
    if (this.lease.isHeld()) {
      const pending = this.buffer.length;
      await this.flush();
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
    await checkConfigIdentity(this.deps.redis, this.deps.queues.keys.base, this.deps.settings, this.log);
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
    this.closeStream();
    this.clearTimers();
    this.supersedeReading();
    this.backpressure.reset();
  }

  /** Abandons what was read but not enqueued: flushes already queued for it do nothing; reading resumes from the checkpoint. */
  private supersedeReading(): void {
    this.buffer = [];
    this.tracker = new CheckpointTracker(this.store.current?.start_from ?? '0-0');
  }

  /** Stops reading and drops what was read but not written (read again from the checkpoint). */
  private abandonReading(): void {
    this.closeStream();
    this.supersedeReading();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  private openStream(): void {
    const cp = this.store.current;
    if (this.stopping || this.backpressure.isPaused || !cp || !this.lease.isHeld()) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.closeStream();
    this.buffer = [];
    this.tracker = new CheckpointTracker(cp.start_from);
    this.reading = true;
    this.progress = { events: 0, since: this.now(), lastLog: this.now() };
    this.log.info(
      { lastEventId: cp.start_from, recover: cp.recover_until, generation: cp.generation },
      'connecting to the OpenCTI live stream',
    );
    this.stream = this.deps.openStream({
      lastEventId: cp.start_from,
      ...(cp.recover_until ? { recover: cp.recover_until } : {}),
      onMessage: (msg) => this.onMessage(msg),
      onConnected: (info) => this.onConnected(info),
      onStatus: (st) => this.status.onStatus(st),
    });
  }

  private closeStream(): void {
    this.reading = false;
    this.stream?.close();
    this.stream = undefined;
  }

  private clearTimers(): void {
    for (const t of [this.lingerTimer, this.pollTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.lingerTimer = this.pollTimer = this.retryTimer = undefined;
    this.presence.stopPinging();
  }

  /** The `connected` frame of each connection: OpenCTI's retained range (a trimmed gap starts a generation). */
  private onConnected(info: ConnectedInfo): void {
    if (!this.reading || !this.store.current) return;
    this.deps.metrics.countEvent('connected');
    this.generations.onConnected(info);
  }

  /**
   * One message, in stream order (the reader awaits the returned promise before the next one). Never throws: a
   * failure to enqueue abandons what was read since the checkpoint and reads it again (flushFailed).
   */
  private async onMessage(msg: StreamMessage): Promise<void> {
    const stored = this.store.current;
    if (!this.reading || !stored) return;
    const tracker = this.tracker;
    const current = () => this.reading && tracker === this.tracker;
    try {
      this.deps.metrics.countEvent(msg.event);
      const frame = checkFrame(msg.event, msg.id, this.lastDataId.get(tracker));
      if (frame && (await this.frameProblem(frame, msg)) !== 'continue') return;
      if (msg.id && isDataEvent(msg.event)) this.lastDataId.set(tracker, msg.id);
      if (msg.event === 'heartbeat') {
        if (msg.id) {
          this.deps.metrics.streamRead(Number(msg.id.split('-')[0]));
          await this.generations.maybeEndRecovery(msg.id);
          await this.flush();
          if (!current()) return;
          tracker.heartbeat(msg.id);
          await this.flush();
        }
        return;
      }
      if (msg.event === 'no-recover') await this.generations.onNoRecover();
      const generation = (this.store.current ?? stored).generation;
      if (!msg.id) {
        this.writer.noteControl(msg, generation);
        return;
      }
      if (this.store.current?.sweep) await this.generations.maybeEndRecovery(msg.id);
      // The reading this message belongs to may have been abandoned meanwhile (pause, failure, new generation).
      if (!current()) return;
      const seq = tracker.received(msg.id);
      this.bufferSeq = seq;
      this.trackProgress(msg.id);
      const { pending } = this.writer.normalize({ ...msg, id: msg.id }, generation);
      for (const p of pending) this.buffer.push(p);
      if (this.buffer.length >= this.deps.settings.batchSize) {
        // Read and normalize the next batch while this one is written: wait only for the one before it, so at
        // most one batch is queued behind the one in flight (memory stays bounded, the stream waits on Redis).
        const previous = this.batchInFlight;
        this.batchInFlight = this.flush();
        await previous;
      } else if (!this.lingerTimer) {
        // Also with an empty buffer: skipped messages count as flushed only once the batches before them landed.
        this.lingerTimer = setTimeout(() => {
          this.lingerTimer = undefined;
          void this.flush();
        }, this.deps.settings.lingerMs);
      }
    } catch (err) {
      if (current()) this.flushFailed(err);
    }
  }

  private trackProgress(id: string): void {
    this.progress.events += 1;
    const now = this.now();
    this.deps.metrics.streamRead(Number(id.split('-')[0]));
    if (now - this.progress.lastLog >= 10_000) {
      const secs = (now - this.progress.since) / 1000;
      this.log.info(
        {
          events: this.progress.events,
          perSecond: Math.round(this.progress.events / Math.max(secs, 0.001)),
          at: id,
        },
        this.store.current?.sweep ? 'recovery progress' : 'stream progress',
      );
      this.progress.lastLog = now;
    }
  }

  /**
   * A frame whose id cannot be tracked: counted, one warning, and (data frames) kept as a dead letter of kind
   * `event`, then skipped: the checkpoint tracker never sees it, so a server that keeps sending it cannot make
   * ingest reconnect and re-read forever.
   */
  private async frameProblem(frame: FrameVerdict, msg: StreamMessage): Promise<FrameVerdict['action']> {
    this.deps.metrics.frameProblems.inc({ problem: frame.problem });
    this.log.warn({ eventId: msg.id ?? null, event: msg.event, problem: frame.problem }, frame.message);
    if (frame.action === 'dead-letter') {
      this.buffer.push({ deadEvent: { ...msg, id: msg.id ?? '' }, reason: frame.message });
      await this.flush();
    }
    return frame.action;
  }

  /**
   * Writes the buffered jobs and dead letters, commits what the tracker allows, then checks the backlog. Serialised
   * on one promise chain so batches land in stream order, checkpoints never go backwards, and no batch lands
   * between a batch that crossed the high-water mark and the pause (backlog ≤ high-water mark + one batch).
   * Never rejects: a failure goes to flushFailed. A batch of an abandoned reading (paused, failed, lease lost,
   * new generation) is dropped: it is read again from the checkpoint.
   */
  private flush(): Promise<void> {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    const batch = this.buffer;
    const upTo = this.bufferSeq;
    const tracker = this.tracker;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (this.backpressure.isPaused || tracker !== this.tracker) return;
      try {
        const jobs = await this.writer.write(batch);
        tracker.flushed(upTo);
        await this.commit(tracker);
        this.enqueueFailures = 0;
        if (jobs > 0) await this.backpressure.afterBatch();
      } catch (err) {
        if (tracker === this.tracker) this.flushFailed(err);
      }
    });
    return this.flushing;
  }

  private async commit(tracker: CheckpointTracker): Promise<void> {
    const stored = this.store.current;
    if (!stored || !this.lease.isHeld() || tracker !== this.tracker) return;
    const id = tracker.checkpoint();
    if (id === stored.start_from || compareEventIds(id, stored.start_from) < 0) return;
    await this.store.store({ ...stored, start_from: id });
  }

  /** Periodic: resume after backpressure, the CLI's resync request, events sent back from dead letters. */
  private async poll(): Promise<void> {
    if (!this.lease.isHeld() || this.stopping) return;
    try {
      await this.backpressure.poll();
      await this.inbox.check();
    } catch (err) {
      this.log.warn({ err: this.deps.redact((err as Error).message) }, 'ingest poll failed');
    }
  }

  /**
   * Enqueueing failed (Redis down, a script error…): what was read since the checkpoint is abandoned and read
   * again from the checkpoint after a growing delay. Nothing is committed past what is in Redis, so nothing is lost.
   */
  private flushFailed(err: unknown): void {
    if (this.stopping) return;
    this.enqueueFailures += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.enqueueFailures - 1, 6));
    this.log.error(
      { err: this.deps.redact(String((err as Error)?.message ?? err)), retryInMs: delay },
      'enqueue failed: reading again from the checkpoint',
    );
    this.abandonReading();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.enqueueControl(async () => {
        if (!this.reading) this.openStream();
      });
    }, delay);
    this.retryTimer.unref();
  }
}
