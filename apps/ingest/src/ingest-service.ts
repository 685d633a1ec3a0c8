import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  compareEventIds,
  type IndicatorJob,
  type Job,
  jobId,
  type NormalizeConfig,
  normalizeMessage,
  type SweepMarkerJob,
} from '@octi-sekoia/model';
import { addDeadLetter, type ConnectorQueues, type DeadLetterOptions, LuaScript } from '@octi-sekoia/queue';
import type { Redis } from 'ioredis';
import { CheckpointTracker } from './checkpoint-tracker.ts';
import { checkConfigIdentity } from './config-identity.ts';
import { checkFrame, type FrameVerdict, isDataEvent } from './frame-check.ts';
import { type LeaseLoss, ReaderLease } from './lease.ts';
import type { IngestMetrics } from './metrics.ts';
import type { ConnectorApi, ConnectorState, OpenStream, StreamMessage, StreamStatus } from './ports.ts';

const commitCheckpointLua = new LuaScript(
  'commit-checkpoint',
  readFileSync(new URL('./lua/commit-checkpoint.lua', import.meta.url), 'utf8'),
);
const startGenerationLua = new LuaScript(
  'start-generation',
  readFileSync(new URL('./lua/start-generation.lua', import.meta.url), 'utf8'),
);

type GenerationCause = 'reset' | 'requested' | 'trimmed' | 'diverged';

/** What ingest keeps in Redis (authoritative) and mirrors to OpenCTI as `{start_from, recover_until}`. */
export interface StoredCheckpoint {
  start_from: string;
  recover_until: string | null;
  /**
   * The generation this reading stamps on its jobs: written by start-generation.lua from the generation counter
   * (the only source of truth) and checked against it by every commit.
   */
  generation: number;
  /** Set while a generation's recovery is being read: the sweep marker goes after `<recover ms>-0`. */
  sweep?: { generation: number; afterId: string } | null;
}

export interface IngestSettings {
  keyPrefix: string;
  connectorId: string;
  /** Shown by the CLI and the dashboard. */
  streamId: string;
  connectorName: string;
  scope: string[];
  batchSize: number;
  lingerMs: number;
  highWatermark: number;
  lowWatermark: number;
  pingIntervalMs: number;
  leaseTtlMs: number;
  /** First run: `CONNECTOR_LIVE_STREAM_START_TIMESTAMP` (ms) or the start of the stream. */
  startTimestamp?: number;
  /**
   * First run: `CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE`, `false` for no recovery, undefined for the platform's
   * current stream position (see platformPosition).
   */
  recoverIsoDate?: string | false;
  normalize: Omit<NormalizeConfig, 'generation'>;
  /** How often the backlog is polled while paused, and the CLI's resync request and replayed events. */
  pollMs: number;
  /** REDIS_DEAD_LETTERS_MAX_BYTES (0 or absent: no cap). */
  deadLettersMaxBytes?: number;
}

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

type Pending = { job: Job } | { deadEvent: StreamMessage & { id: string }; reason: string };

/**
 * The stream reader. Only the lease holder reads and pings. Messages are normalized into jobs, enqueued in
 * batches, and the checkpoint advances only past ids whose jobs are all in Redis (CheckpointTracker).
 */
export class IngestService {
  private readonly lease: ReaderLease;
  private stream: { close(): void } | undefined;
  /** The connection that reads the platform's stream position before a recovery (see platformPosition). */
  private positionReader: { close(): void } | undefined;
  private tracker = new CheckpointTracker('0-0');
  private stored: StoredCheckpoint | undefined;
  private buffer: Pending[] = [];
  private bufferSeq = 0;
  private flushing: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private paused = false;
  private reading = false;
  private stopping = false;
  private status: StreamStatus = { state: 'connecting', message: 'waiting for the reader lease' };
  private progress = { events: 0, since: 0, lastLog: 0 };
  /** Serialises stream (re)starts and generation changes. */
  private control: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  /** A new generation is queued: further triggers (a second reset, a trimmed gap seen again) join it. */
  private generationQueued = false;
  /** OpenCTI refuses our token (stream 401 / GraphQL AUTH_REQUIRED or FORBIDDEN_ACCESS), by channel. */
  private readonly authFailing = new Map<'stream' | 'graphql', string>();
  /** Last ping failure logged (repeats of the same failure are not logged again). */
  private pingFailure: string | undefined;
  /** Consecutive enqueue failures: the reconnect after one waits longer each time. */
  private enqueueFailures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The last full batch handed to the flush chain (the reader waits for it before handing over the next). */
  private batchInFlight: Promise<void> = Promise.resolve();

  constructor(private readonly deps: IngestDeps) {
    this.now = deps.now ?? Date.now;
    this.lease = new ReaderLease(deps.redis, deps.queues.keys.lease, deps.settings.leaseTtlMs, {
      onAcquired: () => this.enqueueControl(() => this.becomeLeader()),
      onLost: (why) => {
        this.positionReader?.close();
        this.enqueueControl(() => this.loseLeadership(why));
      },
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
    this.positionReader?.close();
    await this.control;
    this.closeStream();
    this.clearTimers();
    if (this.lease.isHeld()) {
      const pending = this.buffer.length;
      await this.flush();
      this.log.info(
        { pending, checkpoint: this.stored?.start_from ?? null },
        'stopped reading: pending batch enqueued and checkpoint committed',
      );
      await this.ping().catch(() => undefined);
    }
    await this.lease.stop();
  }

  readiness(): { ready: boolean; reason?: string } {
    if (!this.lease.isHeld()) return { ready: true, reason: 'standby: another replica reads the stream' };
    const auth = this.authFailing.values().next();
    if (!auth.done) return { ready: false, reason: auth.value };
    if (this.paused) return { ready: true, reason: 'paused: backlog above the high-water mark' };
    if (this.status.state === 'open') return { ready: true };
    return { ready: false, reason: this.status.message };
  }

  isLeader(): boolean {
    return this.lease.isHeld();
  }

  get checkpoint(): StoredCheckpoint | undefined {
    return this.stored;
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
    const about = await this.deps.opencti.about().catch((err: unknown) => {
      this.log.warn({ err: this.deps.redact((err as Error).message) }, 'OpenCTI about{version} failed');
      return undefined;
    });
    if (about && olderThan(about.version, [6, 8])) {
      this.log.warn(
        { version: about.version },
        'OpenCTI is older than 6.8: this connector is tested against 6.8 and later',
      );
    }
    await this.register();
    await checkConfigIdentity(this.deps.redis, this.deps.queues.keys.base, this.deps.settings, this.log);
    this.stored = await this.loadCheckpoint();
    if (!this.stored) return; // stopping, or the lease was lost while asking OpenCTI for its stream position
    // A reset consumed by a ping of a replica that died before starting the generation: act on it now.
    const resetSeen = await this.deps.redis.get(this.deps.queues.keys.resetSeen);
    await this.ping().catch((err: unknown) => this.pingFailed(err));
    this.pingTimer = setInterval(() => {
      void this.ping().catch((err: unknown) => this.pingFailed(err));
    }, this.deps.settings.pingIntervalMs);
    this.pingTimer.unref();
    this.pollTimer = setInterval(() => void this.poll(), this.deps.settings.pollMs);
    this.pollTimer.unref();
    this.openStream();
    if (resetSeen) {
      this.log.warn({ seenAt: resetSeen }, 'an OpenCTI reset was seen but not acted on: starting it now');
      this.requestGeneration('reset');
    }
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
    this.paused = false;
    this.deps.metrics.paused.set(0);
  }

  /** Abandons what was read but not enqueued: flushes already queued for it do nothing; reading resumes from the checkpoint. */
  private supersedeReading(): void {
    this.buffer = [];
    this.tracker = new CheckpointTracker(this.stored?.start_from ?? '0-0');
  }

  private async register(): Promise<void> {
    const s = this.deps.settings;
    try {
      await this.deps.opencti.registerConnector({
        id: s.connectorId,
        name: s.connectorName,
        type: 'STREAM',
        scope: s.scope,
      });
      this.log.info({ name: s.connectorName }, 'connector registered in OpenCTI');
    } catch (err) {
      this.log.error(
        { err: this.deps.redact((err as Error).message) },
        'connector registration failed; will retry on the next ping',
      );
    }
  }

  private pingFailed(err: unknown): void {
    const e = err as Error & { code?: string };
    this.deps.metrics.pings.inc({ outcome: 'failed' });
    if (e.name === 'ConnectorNotFoundError' || /No connector found/.test(e.message)) {
      this.log.warn({}, 'OpenCTI no longer knows this connector (deleted in the UI?): registering again');
      void this.register();
      return;
    }
    const message = this.deps.redact(e.message);
    if (e.name === 'OpenCtiAuthError') {
      this.authProblem('graphql', `OpenCTI refused the connector's GraphQL calls (${message}); retrying`);
      return;
    }
    // One line per kind of failure, not one per ping: the operator saw it.
    if (message !== this.pingFailure) this.log.warn({ err: message }, 'ping to OpenCTI failed; retrying');
    this.pingFailure = message;
  }

  private pingSucceeded(): void {
    this.deps.metrics.pings.inc({ outcome: 'ok' });
    this.authOk('graphql');
    if (this.pingFailure !== undefined) this.log.info({}, 'ping to OpenCTI works again');
    this.pingFailure = undefined;
  }

  /**
   * OpenCTI refuses our token: one error line for the whole episode, whichever channel (stream or GraphQL) sees
   * it first; `/readyz` fails with that message until both channels work again.
   */
  private authProblem(channel: 'stream' | 'graphql', message: string): void {
    const first = this.authFailing.size === 0;
    this.authFailing.set(channel, message);
    if (first) this.log.error({ channel }, message);
    else this.log.debug?.({ channel }, message);
  }

  private authOk(channel: 'stream' | 'graphql'): void {
    if (!this.authFailing.delete(channel)) return;
    if (this.authFailing.size === 0) this.log.info({ channel }, 'OpenCTI accepts the token again');
  }

  private async loadCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const k = this.deps.queues.keys;
    const raw = await this.deps.redis.get(k.checkpoint);
    if (raw) return JSON.parse(raw) as StoredCheckpoint;
    // First run, as pycti: from the start timestamp or the beginning, with a recovery unless disabled — up to the
    // configured date, else up to the platform's current stream position.
    const s = this.deps.settings;
    const startFrom = s.startTimestamp ? `${s.startTimestamp}-0` : '0-0';
    let recoverMs: number | null = null;
    if (s.recoverIsoDate !== false) {
      if (s.recoverIsoDate !== undefined) recoverMs = Date.parse(s.recoverIsoDate);
      else {
        const position = await this.platformPosition(startFrom);
        if (position === undefined) return undefined;
        recoverMs = position;
      }
    }
    if (recoverMs !== null && recoverMs <= Number(startFrom.split('-')[0])) {
      // No recovery unless recover-date > from-date (docs/opencti-api.md "Request"): no snapshot, no sweep.
      this.log.warn(
        { start_from: startFrom, recover_until: isoMs(recoverMs) },
        'the recovery date is not after the start of the stream: no recovery, no sweep',
      );
      recoverMs = null;
    }
    // The first recovery is generation 1's snapshot: its sweep revokes what an adopted collection holds that
    // OpenCTI does not (a no-op on an empty collection). Without recovery there is no snapshot, so no sweep.
    const first = await this.startGenerationScript('first', {
      startFrom,
      recoverUntil: recoverMs === null ? null : isoMs(recoverMs),
      sweepAfterId: recoverMs === null ? null : `${recoverMs}-0`,
    });
    if (!first) return undefined; // the lease was lost meanwhile: the replica that holds it reads
    this.log.info(
      { start_from: first.start_from, recover_until: first.recover_until, generation: first.generation },
      'first run',
    );
    return first;
  }

  /** Runs start-generation.lua (lease-fenced); the checkpoint it stored, or undefined when the lease is not ours. */
  private async startGenerationScript(
    mode: 'first' | 'next',
    cp: { startFrom: string; recoverUntil: string | null; sweepAfterId: string | null },
  ): Promise<StoredCheckpoint | undefined> {
    const k = this.deps.queues.keys;
    const json = await startGenerationLua.run(
      this.deps.redis,
      [k.lease, k.generation, k.checkpoint, k.resetSeen],
      [this.lease.token, mode, cp.startFrom, cp.recoverUntil ?? '', cp.sweepAfterId ?? ''],
    );
    if (typeof json !== 'string') return undefined;
    const stored = JSON.parse(json) as StoredCheckpoint;
    this.stored = stored;
    this.deps.metrics.checkpointMs.set(Number(stored.start_from.split('-')[0]));
    this.deps.metrics.generation.set(stored.generation);
    return stored;
  }

  private async storeCheckpoint(cp: StoredCheckpoint): Promise<boolean> {
    const k = this.deps.queues.keys;
    const ok = await commitCheckpointLua.run(
      this.deps.redis,
      [k.lease, k.checkpoint, k.generation],
      [this.lease.token, JSON.stringify(cp), String(cp.generation)],
    );
    if (ok === 1) {
      this.stored = cp;
      this.deps.metrics.checkpointMs.set(Number(cp.start_from.split('-')[0]));
      this.deps.metrics.generation.set(cp.generation);
      return true;
    }
    if (Array.isArray(ok) && !this.generationQueued) {
      // The counter moved behind this reading (a replica that stalled past its lease on an older version, a
      // hand edit): every job it stamps is refused as stale-generation, so start a generation over at once.
      this.log.warn(
        { reading: cp.generation, counter: Number(ok[1]) },
        'the generation counter differs from the one this reading stamps: starting a new generation',
      );
      this.requestGeneration('diverged');
    }
    return false;
  }

  private openStream(): void {
    if (this.stopping || this.paused || !this.stored || !this.lease.isHeld()) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.closeStream();
    const cp = this.stored;
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
      onStatus: (st) => this.onStatus(st),
    });
  }

  private closeStream(): void {
    this.reading = false;
    this.stream?.close();
    this.stream = undefined;
  }

  private clearTimers(): void {
    for (const t of [this.lingerTimer, this.pingTimer, this.pollTimer, this.retryTimer])
      if (t) clearTimeout(t);
    this.lingerTimer = this.pingTimer = this.pollTimer = this.retryTimer = undefined;
  }

  /** The reader's state for `cli status` (and operators reading Redis). */
  private publishStatus(state: string, message: string): void {
    // Only the reader publishes: a standby starting up must not overwrite the leader's state.
    if (!this.lease.isHeld()) return;
    const body = JSON.stringify({ state, message, at: new Date(this.now()).toISOString(), host: hostname() });
    void this.deps.redis
      .set(`${this.deps.queues.keys.base}:ingest-status`, body, 'EX', 3600)
      .catch(() => undefined);
  }

  /**
   * Every status change of the stream reader. Ingest logs the ones an operator must act on (the adapter keeps
   * the reader from logging them a second time); reconnects are logged by the reader itself.
   */
  private onStatus(st: StreamStatus): void {
    const changed = st.state !== this.status.state || st.httpStatus !== this.status.httpStatus;
    this.status = st;
    if (changed && this.lease.isHeld()) this.publishStatus(st.state, st.message);
    if (st.state === 'open') {
      if (changed) this.log.info({}, 'stream open');
      this.authOk('stream');
    } else if (st.state === 'retrying' || st.state === 'connecting') {
      this.deps.metrics.reconnects.inc();
    }
    if (st.state === 'unauthorized') this.authProblem('stream', st.message);
    else if (changed && (st.state === 'stopped' || st.state === 'error')) {
      this.log.error({ httpStatus: st.httpStatus }, st.message);
    }
  }

  /**
   * One message, in stream order (the reader awaits the returned promise before the next one). Never throws: a
   * failure to enqueue abandons what was read since the checkpoint and reads it again (flushFailed).
   */
  private async onMessage(msg: StreamMessage): Promise<void> {
    if (!this.reading || !this.stored) return;
    const tracker = this.tracker;
    const current = () => this.reading && tracker === this.tracker;
    try {
      const m = this.deps.metrics;
      this.countEvent(msg.event);
      const frame = checkFrame(msg.event, msg.id, this.lastDataId.get(tracker));
      if (frame && (await this.frameProblem(frame, msg)) !== 'continue') return;
      if (msg.id && isDataEvent(msg.event)) this.lastDataId.set(tracker, msg.id);
      if (msg.event === 'connected') return this.onConnected(msg);
      if (msg.event === 'heartbeat') {
        if (msg.id) {
          this.deps.metrics.streamRead(Number(msg.id.split('-')[0]));
          await this.maybeEndRecovery(msg.id);
          await this.flush();
          if (!current()) return;
          tracker.heartbeat(msg.id);
          await this.flush();
        }
        return;
      }
      if (msg.event === 'no-recover') {
        // [7.x] recovery skipped (origin filters): a sweep would revoke everything not replayed, so none runs.
        if (this.stored.sweep) {
          this.log.warn(
            {},
            'OpenCTI skipped the recovery of this generation (no-recover): no sweep will run',
          );
          await this.storeCheckpoint({ ...this.stored, sweep: null });
        }
      }
      if (!msg.id) {
        this.noteSkipped(msg, normalizeMessage(msg, this.normalizeConfig(this.stored.generation)));
        return;
      }
      if (this.stored.sweep) await this.maybeEndRecovery(msg.id);
      // The reading this message belongs to may have been abandoned meanwhile (pause, failure, new generation).
      if (!current()) return;
      const seq = tracker.received(msg.id);
      this.bufferSeq = seq;
      this.trackProgress(msg.id);
      const result = normalizeMessage(msg, this.normalizeConfig(this.stored.generation));
      if (result.outcome === 'skipped') {
        this.noteSkipped(msg, result);
      } else if (result.outcome === 'malformed') {
        m.skipped.inc({ reason: 'malformed' });
        this.log.warn({ eventId: msg.id, reason: result.reason }, 'malformed event kept as a dead letter');
        this.buffer.push({ deadEvent: { ...msg, id: msg.id }, reason: result.reason });
      } else {
        for (const f of result.findings) {
          m.findings.inc({ kind: f.kind });
          this.log.debug?.(
            { eventId: msg.id, indicatorId: f.indicatorId, kind: f.kind, note: f.message },
            'indicator note',
          );
        }
        for (const job of result.jobs) this.buffer.push({ job });
      }
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

  /** Dead letters: secrets redacted; at the cap on their total size, counted and logged instead of stored. */
  private deadLetterOptions(): DeadLetterOptions {
    const max = this.deps.settings.deadLettersMaxBytes;
    return {
      redact: this.deps.redact,
      ...(max !== undefined ? { maxTotalBytes: max } : {}),
      onRefused: ({ kind, subject, bytes, error }) => {
        this.deps.metrics.deadLettersRefused.inc({ kind });
        this.log.warn(
          { kind, subject, bytes, error, maxTotalBytes: max },
          'dead letters at their cap (REDIS_DEAD_LETTERS_MAX_BYTES): this one is counted and logged, not stored',
        );
      },
    };
  }

  /** The last data frame id of each reading (a new reading, a new tracker: no stale comparison). */
  private readonly lastDataId = new WeakMap<CheckpointTracker, string>();

  /** A skipped message: counted by reason and one debug line (unknown event types, non-indicators…). */
  private noteSkipped(msg: StreamMessage, result: ReturnType<typeof normalizeMessage>): void {
    if (result.outcome !== 'skipped') return;
    this.deps.metrics.skipped.inc({ reason: result.reason });
    this.log.debug?.(
      { eventId: msg.id ?? null, event: msg.event, reason: result.reason, detail: result.detail ?? null },
      'message skipped',
    );
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
    this.closeStream();
    this.supersedeReading();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.enqueueControl(async () => {
        if (!this.reading) this.openStream();
      });
    }, delay);
    this.retryTimer.unref();
  }

  private async onConnected(msg: StreamMessage): Promise<void> {
    const cp = this.stored!;
    let info: { firstEventId?: string } = {};
    try {
      info = JSON.parse(msg.data) as { firstEventId?: string };
    } catch {
      return;
    }
    const first = info.firstEventId;
    // A checkpoint older than the first retained event means OpenCTI trimmed events we never read: deletes in
    // that gap are lost for good, so only a full re-sync (recovery + sweep) can restore the truth.
    if (first && /^\d+-\d+$/.test(first) && cp.start_from !== '0-0' && !cp.sweep) {
      if (compareEventIds(cp.start_from, first) < 0) {
        this.log.warn(
          { checkpoint: cp.start_from, firstEventId: first },
          'stream trimmed past our checkpoint: starting a full re-sync',
        );
        this.requestGeneration('trimmed');
      }
    }
  }

  /**
   * During a generation's recovery, the first id past `<recover ms>-0` means the whole snapshot was read: OpenCTI
   * lists objects with ids `<updated_at ms>-0` ≤ it, goes live strictly after it, and a heartbeat carries the
   * channel's last id — during the listing the last listed one; a synthetic `<now>-0` only comes from the live
   * read after the listing (docs/opencti-api.md). `<recover ms>` is the platform's own position
   * (platformPosition), so no comparison here involves this process's clock.
   */
  private async maybeEndRecovery(id: string): Promise<void> {
    const sweep = this.stored?.sweep;
    if (!sweep || compareEventIds(id, sweep.afterId) <= 0) return;
    const tracker = this.tracker;
    await this.flush();
    // Only once every recovery message before this one is in Redis (not after an abandoned reading).
    if (!this.reading || tracker !== this.tracker || tracker.pending() > 0) return;
    if (this.stored?.sweep !== sweep) return;
    const marker: SweepMarkerJob = { kind: 'sweep', generation: sweep.generation, eventId: sweep.afterId };
    await this.deps.queues.indicators.add('sweep', marker, { jobId: jobId(marker) });
    this.deps.metrics.jobs.inc({ op: 'sweep' });
    this.log.info({ generation: sweep.generation }, 'recovery enqueued; sweep marker enqueued after it');
    await this.storeCheckpoint({ ...this.stored, sweep: null });
  }

  /** Counter children by label, so the per-message path does not hash label objects. */
  private readonly eventCounters = new Map<string, { inc(): void }>();
  private countEvent(type: string): void {
    let c = this.eventCounters.get(type);
    if (!c) {
      c = this.deps.metrics.events.labels({ type });
      if (this.eventCounters.size < 100) this.eventCounters.set(type, c);
    }
    c.inc();
  }

  private normalizeCache: NormalizeConfig | undefined;
  private normalizeConfig(generation: number): NormalizeConfig {
    if (this.normalizeCache?.generation !== generation) {
      this.normalizeCache = { ...this.deps.settings.normalize, generation };
    }
    return this.normalizeCache;
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
        this.stored?.sweep ? 'recovery progress' : 'stream progress',
      );
      this.progress.lastLog = now;
    }
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
      if (this.paused || tracker !== this.tracker) return;
      try {
        const jobs = batch.filter((p): p is { job: Job } => 'job' in p).map((p) => p.job);
        const dead = batch.filter((p): p is Exclude<Pending, { job: Job }> => 'deadEvent' in p);
        for (const d of dead) {
          await addDeadLetter(
            this.deps.queues,
            { kind: 'event', payload: d.deadEvent, error: d.reason },
            this.deadLetterOptions(),
          );
        }
        if (jobs.length > 0) {
          await this.deps.queues.indicators.addBulk(
            jobs.map((job) => ({
              name: job.kind === 'indicator' ? (job as IndicatorJob).op : 'sweep',
              data: job,
              opts: { jobId: jobId(job) },
            })),
          );
          for (const job of jobs)
            this.deps.metrics.jobs.inc({ op: job.kind === 'indicator' ? job.op : 'sweep' });
          this.deps.metrics.batchSize.observe(jobs.length);
        }
        tracker.flushed(upTo);
        await this.commit(tracker);
        this.enqueueFailures = 0;
        if (jobs.length > 0) await this.checkBackpressure();
      } catch (err) {
        if (tracker === this.tracker) this.flushFailed(err);
      }
    });
    return this.flushing;
  }

  private async commit(tracker: CheckpointTracker): Promise<void> {
    if (!this.stored || !this.lease.isHeld() || tracker !== this.tracker) return;
    const id = tracker.checkpoint();
    if (id === this.stored.start_from || compareEventIds(id, this.stored.start_from) < 0) return;
    await this.storeCheckpoint({ ...this.stored, start_from: id });
  }

  /** Runs inside the flush chain, right after a batch landed. */
  private async checkBackpressure(): Promise<void> {
    if (this.paused || !this.reading) return;
    const waiting = await this.backlog();
    this.deps.metrics.backlog.set(waiting);
    if (waiting < this.deps.settings.highWatermark || this.paused || !this.reading) return;
    this.paused = true;
    this.deps.metrics.paused.set(1);
    this.publishStatus(
      'paused',
      `backlog ${waiting} above the high-water mark ${this.deps.settings.highWatermark}`,
    );
    // What was read after this batch is dropped (not committed): it is read again when reading resumes.
    this.closeStream();
    this.supersedeReading();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.log.warn(
      { backlog: waiting, highWatermark: this.deps.settings.highWatermark },
      'backlog above the high-water mark: stream paused until workers catch up',
    );
  }

  private async backlog(): Promise<number> {
    const c = await this.deps.queues.indicators.getJobCounts('waiting', 'prioritized', 'delayed');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  /** Periodic: resume after backpressure, the CLI's resync request, events sent back from dead letters. */
  private async poll(): Promise<void> {
    if (!this.lease.isHeld() || this.stopping) return;
    try {
      // Every poll, not only while paused: the gauge must come back down as workers finish the work.
      const waiting = await this.backlog();
      this.deps.metrics.backlog.set(waiting);
      if (this.paused) {
        if (waiting <= this.deps.settings.lowWatermark) {
          this.paused = false;
          this.deps.metrics.paused.set(0);
          this.log.info({ backlog: waiting }, 'backlog below the low-water mark: resuming the stream');
          this.enqueueControl(async () => this.openStream());
        }
      }
      const k = this.deps.queues.keys;
      const requested = await this.deps.redis.getdel(`${k.base}:resync-requested`);
      if (requested) this.requestGeneration('requested');
      await this.replayEvents();
    } catch (err) {
      this.log.warn({ err: this.deps.redact((err as Error).message) }, 'ingest poll failed');
    }
  }

  /** Dead letters of kind `event` sent back by an operator: normalized again with the current generation. */
  private async replayEvents(): Promise<void> {
    const k = this.deps.queues.keys;
    for (let i = 0; i < 100; i++) {
      // Peek, enqueue, then pop: a failure in between leaves the event in the list (only the leader pops).
      const raw = await this.deps.redis.lindex(k.replayedEvents, 0);
      if (!raw) return;
      const msg = JSON.parse(raw) as StreamMessage & { id: string };
      const result = normalizeMessage(msg, {
        ...this.deps.settings.normalize,
        generation: this.stored!.generation,
      });
      if (result.outcome === 'jobs') {
        await this.deps.queues.indicators.addBulk(
          result.jobs.map((job) => ({ name: job.op, data: job, opts: { jobId: `${jobId(job)}-replay` } })),
        );
      } else if (result.outcome === 'malformed') {
        await addDeadLetter(
          this.deps.queues,
          { kind: 'event', payload: msg, error: result.reason },
          this.deadLetterOptions(),
        );
      }
      await this.deps.redis.lpop(k.replayedEvents);
      this.log.info({ eventId: msg.id, outcome: result.outcome }, 'dead-lettered event sent back');
    }
  }

  private async ping(): Promise<void> {
    if (!this.lease.isHeld() || !this.stored) return;
    const sent: ConnectorState = {
      start_from: this.stored.start_from,
      recover_until: this.stored.recover_until,
    };
    // Refreshed on every ping so `cli status` never reads an expired state from a healthy reader.
    this.publishStatus(
      this.paused ? 'paused' : this.status.state,
      this.paused ? 'backlog above the high-water mark' : this.status.message,
    );
    const res = await this.deps.opencti.pingConnector(this.deps.settings.connectorId, sent);
    this.pingSucceeded();
    if (res.reset) {
      // Recorded before acting: the flag is consumed by this ping, so a crash now must not lose the reset.
      await this.deps.redis.set(`${this.deps.queues.keys.resetSeen}`, new Date(this.now()).toISOString());
      this.log.warn({}, 'connector state reset from OpenCTI: starting a full re-sync');
      this.requestGeneration('reset');
    }
  }

  /**
   * The end of a recovery, taken from the platform, never from this process's clock (issue 13 case 5): the
   * millisecond part of the stream's last id, as reported by the `connected` frame of a connection opened for
   * this (docs/opencti-api.md: `connected` carries the Redis stream's `lastEventId`). A recovery up to that
   * date lists every object as of then (updated_at ≤ it) and goes live right after `<ms>-0` ("Recovery"): the
   * events after it are exactly the ones the listing may have missed. With ingest's clock instead, a platform
   * ahead lists too little (the snapshot ends before its last events, so the sweep marker comes before them and
   * the sweep revokes what they would have kept), and a platform behind skips the live events until ingest's
   * time (a lost update) while the first id past the recovery only comes minutes later.
   * An empty stream (`lastEventId` `0-0`) has no position: the first heartbeat with an id gives the platform's
   * time (a synthetic `<now>-0` once its read is idle). Resolves undefined when stopping or the lease is lost;
   * the stream reader retries a failing connection by itself.
   */
  private platformPosition(lastEventId: string): Promise<number | undefined> {
    if (this.stopping || !this.lease.isHeld()) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let handle: { close(): void } | undefined;
      let done = false;
      const finish = (ms: number | undefined) => {
        if (done) return;
        done = true;
        if (this.positionReader === reader) this.positionReader = undefined;
        handle?.close();
        if (ms !== undefined) this.log.info({ recoverUntil: isoMs(ms) }, 'OpenCTI stream position read');
        resolve(ms);
      };
      const reader = { close: () => finish(undefined) };
      this.positionReader = reader;
      handle = this.deps.openStream({
        lastEventId,
        onMessage: (msg) => {
          if (msg.event === 'connected') {
            let info: { lastEventId?: unknown } = {};
            try {
              info = JSON.parse(msg.data) as { lastEventId?: unknown };
            } catch {
              return;
            }
            const ms = idMs(info.lastEventId);
            if (ms !== undefined) finish(ms);
          } else if (msg.event === 'heartbeat' && msg.id !== lastEventId) {
            // Not the id we sent (OpenCTI's channel starts with it): a later one is the platform's.
            const ms = idMs(msg.id);
            if (ms !== undefined) finish(ms);
          }
        },
        onStatus: (st) => this.onStatus(st),
      });
      if (done) handle.close();
    });
  }

  /**
   * Generation G+1: reconnect from `0-0` with `recover=<the platform's stream position>`, stamp every job with
   * G+1, and enqueue the sweep marker once the recovery has been read (see maybeEndRecovery).
   */
  private requestGeneration(why: GenerationCause): void {
    if (this.generationQueued) return;
    this.generationQueued = true;
    this.enqueueControl(() => this.startGeneration(why));
  }

  private async startGeneration(why: GenerationCause): Promise<void> {
    if (!this.lease.isHeld() || !this.stored || this.stopping) {
      this.generationQueued = false;
      return;
    }
    this.closeStream();
    // The last commits of the old reading may still see the counter differ: they join this generation.
    await this.flush();
    const recoverMs = await this.platformPosition(this.stored.start_from);
    if (recoverMs === undefined) {
      this.generationQueued = false;
      return; // stopping, or the lease was lost: the replica that holds it acts on the request
    }
    await this.deps.beforeGenerationStart?.();
    this.generationQueued = false;
    const next = await this.startGenerationScript('next', {
      startFrom: '0-0',
      recoverUntil: isoMs(recoverMs),
      sweepAfterId: `${recoverMs}-0`,
    });
    if (!next) {
      // The lease is not ours (any more): the replica that holds it acts on the reset; the counter is untouched.
      this.log.warn({ why }, 'reader lease lost before the generation started: left to the new leader');
      return;
    }
    this.log.warn(
      { generation: next.generation, why },
      'generation started: full recovery from OpenCTI, then sweep',
    );
    this.openStream();
    await this.ping().catch((err: unknown) => this.pingFailed(err));
  }
}

/** The millisecond part of a stream id `<ms>-<seq>` when it is one and not `0-0`. */
function idMs(id: unknown): number | undefined {
  if (typeof id !== 'string') return undefined;
  const m = /^(\d{1,16})-\d{1,20}$/.exec(id);
  const ms = m ? Number(m[1]) : 0;
  return ms > 0 ? ms : undefined;
}

function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

function olderThan(version: string, [major, minor]: [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a < major || (a === major && b < minor);
}
