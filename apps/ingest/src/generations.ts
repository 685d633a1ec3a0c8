import type { SweepMarkerJob } from '@octi-sekoia/model';
import { compareEventIds, eventIdMs, isEventId } from '@octi-sekoia/opencti';
import type { CheckpointStore, StoredCheckpoint } from './checkpoint-store.ts';
import type { ConnectedInfo, OpenStream, StreamStatus } from './ports.ts';
import type { IngestSettings } from './settings.ts';

/** Why a generation starts (logged). */
export type GenerationCause = 'reset' | 'requested' | 'trimmed' | 'diverged';

export interface GenerationsDeps {
  store: CheckpointStore;
  settings: Pick<IngestSettings, 'startTimestamp' | 'recoverIsoDate'>;
  openStream: OpenStream;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
  now: () => number;
  /** This replica holds the reader lease and is not stopping. */
  isReader(): boolean;
  /** Runs `fn` on the service's control chain (stream (re)starts and generation changes, one at a time). */
  enqueueControl(fn: () => Promise<void>): void;
  /** Closes the stream and waits for what was read to be written (a generation's last commits join it). */
  stopReading(): Promise<void>;
  /** Opens the stream from the stored checkpoint. */
  startReading(): void;
  /** Tells OpenCTI the new state at once. */
  ping(): Promise<void>;
  /**
   * Flushes what was read; true when every message of the current reading read so far is in Redis (the
   * reading was not abandoned meanwhile).
   */
  readingFlushed(): Promise<boolean>;
  /** False when Redis turned out to have lost writes (CheckpointStore.markWrites): nothing is committed then. */
  writeSweepMarker(marker: SweepMarkerJob): Promise<boolean>;
  /** Status of the connection that reads the platform's position (the stream's statuses). */
  onStatus(status: StreamStatus): void;
  /** Test seam: see IngestDeps.beforeGenerationStart. */
  beforeGenerationStart?: () => Promise<void>;
}

/**
 * Generations (docs/architecture.md): a full re-sync is generation G+1 — the stream read again from `0-0` with a
 * recovery up to the platform's current position, every job stamped G+1, and a sweep marker once the recovery is
 * read, so the worker revokes what G+1 did not see. Started by the first run, an OpenCTI reset, `cli resync`, a
 * stream trimmed past the checkpoint, or a generation counter that moved behind the reading.
 */
export class Generations {
  /** A new generation is queued: further triggers (a second reset, a trimmed gap seen again) join it. */
  private queued = false;
  /** The connection that reads the platform's stream position before a recovery (see readPosition). */
  private positionReader: { close(): void } | undefined;

  constructor(private readonly deps: GenerationsDeps) {}

  /** Stops reading the platform's position (lease lost, stopping): the waiting step gives up. */
  cancelPositionRead(): void {
    this.positionReader?.close();
  }

  /**
   * The stored checkpoint, or on a first run generation 1's. Undefined when stopping or the lease was lost
   * while asking OpenCTI for its stream position.
   */
  async load(): Promise<StoredCheckpoint | undefined> {
    const stored = await this.deps.store.read();
    if (stored) return stored;
    const first = await this.startFirst();
    if (!first) this.deps.store.forget();
    return first;
  }

  /**
   * Generation G+1: reconnect from `0-0` with `recover=<the platform's stream position>`, stamp every job with
   * G+1, and enqueue the sweep marker once the recovery has been read (see maybeEndRecovery).
   */
  request(why: GenerationCause): void {
    if (this.queued) return;
    this.queued = true;
    this.deps.enqueueControl(() => this.start(why));
  }

  /** An OpenCTI reset (seen on a ping): recorded first, so a crash before acting on it does not lose it. */
  async onReset(): Promise<void> {
    await this.deps.store.recordReset(new Date(this.deps.now()).toISOString());
    this.deps.log.warn({}, 'connector state reset from OpenCTI: starting a full re-sync');
    this.request('reset');
  }

  /** A reset consumed by a ping of a replica that died before starting the generation: act on it now. */
  resumeReset(seenAt: string): void {
    this.deps.log.warn({ seenAt }, 'an OpenCTI reset was seen but not acted on: starting it now');
    this.request('reset');
  }

  /**
   * The counter moved behind this reading (a replica that stalled past its lease on an older version, a hand
   * edit): every job it stamps is refused as stale-generation, so start a generation over at once.
   */
  onDiverged(reading: number, counter: number): void {
    if (this.queued) return;
    this.deps.log.warn(
      { reading, counter },
      'the generation counter differs from the one this reading stamps: starting a new generation',
    );
    this.request('diverged');
  }

  /**
   * A checkpoint older than the first retained event means OpenCTI trimmed events we never read: deletes in
   * that gap are lost for good, so only a full re-sync (recovery + sweep) can restore the truth.
   */
  onConnected(info: ConnectedInfo): void {
    const cp = this.deps.store.current;
    const first = info.firstEventId;
    if (!cp || !first || !isEventId(first) || cp.start_from === '0-0' || cp.sweep) return;
    if (compareEventIds(cp.start_from, first) < 0) {
      this.deps.log.warn(
        { checkpoint: cp.start_from, firstEventId: first },
        'stream trimmed past our checkpoint: starting a full re-sync',
      );
      this.request('trimmed');
    }
  }

  /** [7.x] `no-recover`: recovery skipped (origin filters): a sweep would revoke everything not replayed. */
  async onNoRecover(): Promise<void> {
    const cp = this.deps.store.current;
    if (!cp?.sweep) return;
    this.deps.log.warn({}, 'OpenCTI skipped the recovery of this generation (no-recover): no sweep will run');
    await this.deps.store.store({ ...cp, sweep: null });
  }

  /**
   * During a generation's recovery, the first id past `<recover ms>-0` means the whole snapshot was read: OpenCTI
   * lists objects with ids `<updated_at ms>-0` ≤ it, goes live strictly after it, and a heartbeat carries the
   * channel's last id — during the listing the last listed one; a synthetic `<now>-0` only comes from the live
   * read after the listing (docs/opencti-api.md). `<recover ms>` is the platform's own position
   * (readPosition), so no comparison here involves this process's clock.
   */
  async maybeEndRecovery(id: string): Promise<void> {
    const sweep = this.deps.store.current?.sweep;
    if (!sweep || compareEventIds(id, sweep.afterId) <= 0) return;
    // Only once every recovery message before this one is in Redis (not after an abandoned reading).
    if (!(await this.deps.readingFlushed())) return;
    const cp = this.deps.store.current;
    if (cp?.sweep !== sweep) return;
    const marker: SweepMarkerJob = { kind: 'sweep', generation: sweep.generation, eventId: sweep.afterId };
    if (!(await this.deps.writeSweepMarker(marker))) return;
    this.deps.log.info({ generation: sweep.generation }, 'recovery enqueued; sweep marker enqueued after it');
    await this.deps.store.store({ ...cp, sweep: null });
  }

  /** First run, as pycti: from the start timestamp or the beginning, with a recovery unless disabled. */
  private async startFirst(): Promise<StoredCheckpoint | undefined> {
    // Up to the configured date, else up to the platform's current stream position.
    const s = this.deps.settings;
    const startFrom = s.startTimestamp ? `${s.startTimestamp}-0` : '0-0';
    let recoverMs: number | null = null;
    if (s.recoverIsoDate !== false) {
      if (s.recoverIsoDate !== undefined) recoverMs = Date.parse(s.recoverIsoDate);
      else {
        const position = await this.readPosition(startFrom);
        if (position === undefined) return undefined;
        recoverMs = position;
      }
    }
    if (recoverMs !== null && recoverMs <= eventIdMs(startFrom)) {
      // No recovery unless recover-date > from-date (docs/opencti-api.md "Request"): no snapshot, no sweep.
      this.deps.log.warn(
        { start_from: startFrom, recover_until: isoMs(recoverMs) },
        'the recovery date is not after the start of the stream: no recovery, no sweep',
      );
      recoverMs = null;
    }
    // The first recovery is generation 1's snapshot: its sweep revokes what an adopted collection holds that
    // OpenCTI does not (a no-op on an empty collection). Without recovery there is no snapshot, so no sweep.
    const first = await this.deps.store.startGeneration('first', {
      startFrom,
      recoverUntil: recoverMs === null ? null : isoMs(recoverMs),
      sweepAfterId: recoverMs === null ? null : `${recoverMs}-0`,
    });
    if (!first) return undefined; // the lease was lost meanwhile: the replica that holds it reads
    this.deps.log.info(
      { start_from: first.start_from, recover_until: first.recover_until, generation: first.generation },
      'first run',
    );
    return first;
  }

  private async start(why: GenerationCause): Promise<void> {
    const current = this.deps.store.current;
    if (!this.deps.isReader() || !current) {
      this.queued = false;
      return;
    }
    // The last commits of the old reading may still see the counter differ: they join this generation.
    await this.deps.stopReading();
    const recoverMs = await this.readPosition((this.deps.store.current ?? current).start_from);
    if (recoverMs === undefined) {
      this.queued = false;
      return; // stopping, or the lease was lost: the replica that holds it acts on the request
    }
    await this.deps.beforeGenerationStart?.();
    this.queued = false;
    const next = await this.deps.store.startGeneration('next', {
      startFrom: '0-0',
      recoverUntil: isoMs(recoverMs),
      sweepAfterId: `${recoverMs}-0`,
    });
    if (!next) {
      // The lease is not ours (any more): the replica that holds it acts on the reset; the counter is untouched.
      this.deps.log.warn({ why }, 'reader lease lost before the generation started: left to the new leader');
      return;
    }
    this.deps.log.warn(
      { generation: next.generation, why },
      'generation started: full recovery from OpenCTI, then sweep',
    );
    this.deps.startReading();
    await this.deps.ping();
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
  private readPosition(lastEventId: string): Promise<number | undefined> {
    if (!this.deps.isReader()) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let handle: { close(): void } | undefined;
      let done = false;
      const finish = (ms: number | undefined) => {
        if (done) return;
        done = true;
        if (this.positionReader === reader) this.positionReader = undefined;
        handle?.close();
        if (ms !== undefined) this.deps.log.info({ recoverUntil: isoMs(ms) }, 'OpenCTI stream position read');
        resolve(ms);
      };
      const reader = { close: () => finish(undefined) };
      this.positionReader = reader;
      handle = this.deps.openStream({
        lastEventId,
        onConnected: (info) => {
          const ms = idMs(info.lastEventId);
          if (ms !== undefined) finish(ms);
        },
        onMessage: (msg) => {
          if (msg.event === 'heartbeat' && msg.id !== lastEventId) {
            // Not the id we sent (OpenCTI's channel starts with it): a later one is the platform's.
            const ms = idMs(msg.id);
            if (ms !== undefined) finish(ms);
          }
        },
        onStatus: (st) => this.deps.onStatus(st),
      });
      if (done) handle.close();
    });
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
