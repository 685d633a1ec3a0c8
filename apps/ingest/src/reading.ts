import { compareEventIds, eventIdMs, isDataEvent } from '@octi-sekoia/opencti';
import { LeaseRefusedError } from './add-jobs.ts';
import type { Backpressure } from './backpressure.ts';
import type { BatchWriter, Pending } from './batch-writer.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import { CheckpointTracker } from './checkpoint-tracker.ts';
import { checkFrame, type FrameVerdict } from './frame-check.ts';
import type { Generations } from './generations.ts';
import type { IngestMetrics } from './metrics.ts';
import type { ConnectedInfo, OpenStream, StreamMessage, StreamStatus } from './ports.ts';
import type { IngestSettings } from './settings.ts';

export interface ReadingDeps {
  openStream: OpenStream;
  settings: Pick<IngestSettings, 'batchSize' | 'lingerMs'>;
  metrics: Pick<IngestMetrics, 'countEvent' | 'streamRead' | 'frameProblems'>;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
  redact: (text: string) => string;
  now: () => number;
  store: CheckpointStore;
  writer: Pick<BatchWriter, 'normalize' | 'noteControl' | 'write'>;
  generations: Pick<Generations, 'onConnected' | 'onNoRecover' | 'maybeEndRecovery'>;
  backpressure: Pick<Backpressure, 'isPaused' | 'afterBatch'>;
  onStatus(status: StreamStatus): void;
  /** This replica holds the reader lease (commits are fenced by it in Redis too). */
  isReader(): boolean;
  /** After a failed enqueue and its delay: open a new reading from the checkpoint (on the control chain). */
  reopen(): void;
  /**
   * A batch was refused because the reader lease is not ours in Redis (LeaseRefusedError): the reading is
   * already abandoned; the lease is to be treated as lost (ReaderLease.refused).
   */
  onLeaseRefused(): void;
}

/**
 * The reading of the stream from the checkpoint: the connection, the checkpoint tracker, the buffer of what was
 * read and its flush chain. Each open() starts a new reading with a new tracker; what an abandoned reading
 * (paused, failed, lease lost, new generation) still has queued is dropped, and read again from the checkpoint.
 */
export class Reading {
  private stream: { close(): void } | undefined;
  private tracker = new CheckpointTracker('0-0');
  private buffer: Pending[] = [];
  private bufferSeq = 0;
  private flushing: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | undefined;
  private reading = false;
  private stopping = false;
  private progress = { events: 0, since: 0, lastLog: 0 };
  /** Consecutive enqueue failures: the reconnect after one waits longer each time. */
  private enqueueFailures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The last full batch handed to the flush chain (the reader waits for it before handing over the next). */
  private batchInFlight: Promise<void> = Promise.resolve();
  /** The last data frame id of each reading (a new reading, a new tracker: no stale comparison). */
  private readonly lastDataId = new WeakMap<CheckpointTracker, string>();

  constructor(private readonly deps: ReadingDeps) {}

  get isOpen(): boolean {
    return this.reading;
  }

  /** Messages read and not yet handed to the flush chain. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Shutting down: a failed enqueue is not retried any more. */
  halt(): void {
    this.stopping = true;
  }

  /** A new reading from the stored checkpoint. */
  open(): void {
    const cp = this.deps.store.current;
    if (!cp) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.close();
    this.buffer = [];
    this.tracker = new CheckpointTracker(cp.start_from);
    this.reading = true;
    this.progress = { events: 0, since: this.deps.now(), lastLog: this.deps.now() };
    this.deps.log.info(
      { lastEventId: cp.start_from, recover: cp.recover_until, generation: cp.generation },
      'connecting to the OpenCTI live stream',
    );
    this.stream = this.deps.openStream({
      lastEventId: cp.start_from,
      ...(cp.recover_until ? { recover: cp.recover_until } : {}),
      onMessage: (msg) => this.onMessage(msg),
      onConnected: (info) => this.onConnected(info),
      onStatus: (st) => this.deps.onStatus(st),
    });
  }

  close(): void {
    this.reading = false;
    this.stream?.close();
    this.stream = undefined;
  }

  /** Abandons what was read but not enqueued: flushes already queued for it do nothing. */
  supersede(): void {
    this.buffer = [];
    this.tracker = new CheckpointTracker(this.deps.store.current?.start_from ?? '0-0');
  }

  /** Stops reading and drops what was read but not written (read again from the checkpoint). */
  abandon(): void {
    this.close();
    this.supersede();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  clearTimers(): void {
    for (const t of [this.lingerTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.lingerTimer = this.retryTimer = undefined;
  }

  /** Flushes; true when every message of the current reading read so far is in Redis (it was not abandoned). */
  async flushedAll(): Promise<boolean> {
    const tracker = this.tracker;
    await this.flush();
    return this.reading && tracker === this.tracker && tracker.pending() === 0;
  }

  /**
   * Writes the buffered jobs and dead letters, commits what the tracker allows, then checks the backlog. Serialised
   * on one promise chain so batches land in stream order, checkpoints never go backwards, and no batch lands
   * between a batch that crossed the high-water mark and the pause (backlog ≤ high-water mark + one batch).
   * Never rejects: a failure goes to writeFailed. A batch of an abandoned reading (paused, failed, lease lost,
   * new generation) is dropped: it is read again from the checkpoint.
   */
  flush(): Promise<void> {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    const batch = this.buffer;
    const upTo = this.bufferSeq;
    const tracker = this.tracker;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (this.deps.backpressure.isPaused || tracker !== this.tracker) return;
      try {
        const jobs = await this.deps.writer.write(batch);
        if (batch.length > 0 && !(await this.deps.store.markWrites())) return;
        tracker.flushed(upTo);
        await this.commit(tracker);
        this.enqueueFailures = 0;
        if (jobs > 0) await this.deps.backpressure.afterBatch();
      } catch (err) {
        if (tracker !== this.tracker) return;
        if (err instanceof LeaseRefusedError) this.leaseRefused();
        else this.writeFailed(err);
      }
    });
    return this.flushing;
  }

  /** The `connected` frame of each connection: OpenCTI's retained range (a trimmed gap starts a generation). */
  private onConnected(info: ConnectedInfo): void {
    if (!this.reading || !this.deps.store.current) return;
    this.deps.metrics.countEvent('connected');
    this.deps.generations.onConnected(info);
  }

  /**
   * One message, in stream order (the reader awaits the returned promise before the next one). Never throws: a
   * failure to enqueue abandons what was read since the checkpoint and reads it again (writeFailed).
   */
  private async onMessage(msg: StreamMessage): Promise<void> {
    const stored = this.deps.store.current;
    if (!this.reading || !stored) return;
    const tracker = this.tracker;
    const { generations, metrics } = this.deps;
    try {
      metrics.countEvent(msg.event);
      const frame = checkFrame(msg.event, msg.id, this.lastDataId.get(tracker));
      if (frame && (await this.frameProblem(frame, msg)) !== 'continue') return;
      if (msg.id && isDataEvent(msg.event)) this.lastDataId.set(tracker, msg.id);
      if (msg.event === 'heartbeat') {
        if (msg.id) {
          metrics.streamRead(eventIdMs(msg.id));
          await generations.maybeEndRecovery(msg.id);
          await this.flush();
          if (!this.isCurrent(tracker)) return;
          tracker.heartbeat(msg.id);
          await this.flush();
        }
        return;
      }
      if (msg.event === 'no-recover') await generations.onNoRecover();
      const generation = (this.deps.store.current ?? stored).generation;
      if (!msg.id) {
        this.deps.writer.noteControl(msg, generation);
        return;
      }
      if (this.deps.store.current?.sweep) await generations.maybeEndRecovery(msg.id);
      // The reading this message belongs to may have been abandoned meanwhile (pause, failure, new generation).
      if (!this.isCurrent(tracker)) return;
      const seq = tracker.received(msg.id);
      this.bufferSeq = seq;
      this.trackProgress(msg.id);
      // msg.id is set (checked above): no copy of the message for its type.
      const { pending } = this.deps.writer.normalize(msg as StreamMessage & { id: string }, generation);
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
      if (this.isCurrent(tracker)) this.writeFailed(err);
    }
  }

  /** `tracker`'s reading is still the one being read (not abandoned: paused, failed, new generation). */
  private isCurrent(tracker: CheckpointTracker): boolean {
    return this.reading && tracker === this.tracker;
  }

  private trackProgress(id: string): void {
    this.progress.events += 1;
    const now = this.deps.now();
    this.deps.metrics.streamRead(eventIdMs(id));
    if (now - this.progress.lastLog >= 10_000) {
      const secs = (now - this.progress.since) / 1000;
      this.deps.log.info(
        {
          events: this.progress.events,
          perSecond: Math.round(this.progress.events / Math.max(secs, 0.001)),
          at: id,
        },
        this.deps.store.current?.sweep ? 'recovery progress' : 'stream progress',
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
    this.deps.log.warn({ eventId: msg.id ?? null, event: msg.event, problem: frame.problem }, frame.message);
    if (frame.action === 'dead-letter') {
      this.buffer.push({ deadEvent: { ...msg, id: msg.id ?? '' }, reason: frame.message });
      await this.flush();
    }
    return frame.action;
  }

  private async commit(tracker: CheckpointTracker): Promise<void> {
    const stored = this.deps.store.current;
    if (!stored || !this.deps.isReader() || tracker !== this.tracker) return;
    const id = tracker.checkpoint();
    if (id === stored.start_from || compareEventIds(id, stored.start_from) < 0) return;
    await this.deps.store.store({ ...stored, start_from: id });
  }

  /**
   * A batch refused by the lease fence: another replica reads (or nobody holds the lease). As when the lease is
   * lost: nothing is committed past the batch (its jobs are not in Redis, and commit-checkpoint.lua is fenced by
   * the same token), the reading stops and is not retried; the lease's loss handling follows.
   */
  private leaseRefused(): void {
    this.deps.log.warn(
      {},
      'batch refused: the reader lease is not ours in Redis (another replica took it, or it expired): stopping reading without committing',
    );
    this.abandon();
    this.deps.onLeaseRefused();
  }

  /**
   * Enqueueing failed (Redis down, a script error…): what was read since the checkpoint is abandoned and read
   * again from the checkpoint after a growing delay. Nothing is committed past what is in Redis, so nothing is lost.
   */
  private writeFailed(err: unknown): void {
    if (this.stopping) return;
    this.enqueueFailures += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.enqueueFailures - 1, 6));
    this.deps.log.error(
      { err: this.deps.redact(String((err as Error)?.message ?? err)), retryInMs: delay },
      'enqueue failed: reading again from the checkpoint',
    );
    this.abandon();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.deps.reopen();
    }, delay);
    this.retryTimer.unref();
  }
}
