/**
 * One live-stream connection, reproducing OpenCTI's sseMiddleware (docs/opencti-api.md): `connected`,
 * optional recovery, then the Redis stream read after the start id with per-connection visibility, dependencies
 * and heartbeats. Fault switches (cuts, silence, newer-platform events) act here.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { eventIdMs } from '@octi-sekoia/opencti/vocabulary';
import type { StreamPredicate } from './filter.ts';
import { compareStreamIds, formatStreamId, type StreamId } from './ids.ts';
import { displayName, entityTypeOf, OCTI_EXT, refsOf, type StixObject } from './stix.ts';
import type { LogEntry, World } from './world.ts';

export interface OpenCtiSimSwitches {
  /** [7.x] `consumer_metrics` with every heartbeat. */
  consumerMetrics: boolean;
  /** [7.x] Answer a recovery request with `no-recover` (stream with origin filters) and skip the recovery. */
  noRecover: boolean;
  /** [7.x] Send `event: error` right after `connected` (and after recovery), then end the response. */
  errorEvent: boolean;
  /** Send an event name no client knows (`unknown_future_event`, no id) with every heartbeat. */
  unknownEvents: boolean;
  /** No heartbeats at all (a silent connection). */
  heartbeatsPaused: boolean;
  /** [7.x] Skip a heartbeat while the socket buffer is not drained. */
  skipHeartbeatWhileBuffered: boolean;
  /** Emit a `delete` per merge source after the `merge` (UNCONFIRMED in OpenCTI, §8). */
  mergeDeletesSources: boolean;
  /** Skew of synthetic idle-heartbeat ids (platform clock vs Redis clock, §8). 0 = safe ids. */
  syntheticHeartbeatSkewMs: number;
  /** The next N data frames are each written twice (duplicate delivery). */
  duplicateFrames: number;
  /** A heartbeat (id = the shared id) after each dependency message, before its event (possible in OpenCTI). */
  heartbeatInsideDependencyGroups: boolean;
}

export const DEFAULT_SWITCHES: OpenCtiSimSwitches = {
  consumerMetrics: false,
  noRecover: false,
  errorEvent: false,
  unknownEvents: false,
  heartbeatsPaused: false,
  skipHeartbeatWhileBuffered: true,
  mergeDeletesSources: false,
  syntheticHeartbeatSkewMs: 0,
  duplicateFrames: 0,
  heartbeatInsideDependencyGroups: false,
};

export interface ConnectionParams {
  streamId: string;
  /** Undefined = only new events (`$`). */
  start: StreamId | undefined;
  recover?: StreamId;
  publishDeletion: boolean;
  noDependencies: boolean;
  withInferences: boolean;
  /** The stream's current filters (OpenCTI re-reads them after every batch). */
  filter: () => StreamPredicate;
  /** Raw `/stream`: every event, no filters, recovery or dependencies. */
  generic: boolean;
}

export interface SseHost {
  world: World;
  switches: OpenCtiSimSwitches;
  heartbeatMs: number;
  idleReadMs: number;
  /** Pause after each object listed by a recovery (a slow database); 0 = none. */
  recoveryItemDelayMs: number;
  now(): number;
  isStreamLive(streamId: string): boolean;
}

export interface CutOptions {
  /** `destroy`: reset the socket now; `end`: clean EOF now; `mid-message`: write half a frame, then `ending`. */
  mode: 'destroy' | 'end' | 'mid-message';
  /** mid-message: complete frames still written before the cut one (default 0). */
  afterMessages?: number;
  /** mid-message: which frames count — data frames only (default) or any frame including heartbeats. */
  frames?: 'data' | 'any';
  /** mid-message: how the connection ends after the half frame (default destroy). */
  ending?: 'destroy' | 'end';
}

class LruSet {
  private readonly map = new Map<string, true>();
  constructor(private readonly max: number) {}
  has(k: string): boolean {
    return this.map.has(k);
  }
  add(k: string): void {
    this.map.delete(k);
    this.map.set(k, true);
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }
}

const FLUSH_BYTES = 256 * 1024;
const BATCH = 2000;

function frame(id: string | undefined, event: string, payload: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${payload}\n\n`;
}

function updatedAtMs(stix: StixObject): number {
  const ext = (stix.extensions as Record<string, Record<string, unknown>> | undefined)?.[OCTI_EXT];
  return Date.parse(String(ext?.updated_at ?? stix.modified ?? 0));
}

function isInferred(stix: StixObject): boolean {
  const ext = (stix.extensions as Record<string, Record<string, unknown>> | undefined)?.[OCTI_EXT];
  return ext?.is_inferred === true;
}

export class SseConnection {
  readonly id = randomUUID();
  readonly openedAt = new Date().toISOString();
  private closed = false;
  private readCursor: StreamId = { ms: 0, seq: 0 };
  private channelLastId: StreamId | undefined;
  /** Real (monotonic) time of the last read, for idle detection: the simulated clock may stand still. */
  private lastReadAt = 0;
  private recovering = false;
  private buf: string[] = [];
  private bufBytes = 0;
  private draining = false;
  private wake: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly cache = new LruSet(5000);
  private armedCut: (CutOptions & { remaining: number }) | undefined;
  /** Id-bearing data frames written (for inspection). */
  framesSent = 0;
  /** Heartbeat periods elapsed (whether or not a heartbeat was sent). */
  ticks = 0;

  constructor(
    private readonly host: SseHost,
    readonly params: ConnectionParams,
    readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly onClose: (c: SseConnection) => void,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** The id the next heartbeat would carry. */
  get lastEventId(): string | undefined {
    return this.channelLastId ? formatStreamId(this.channelLastId) : undefined;
  }

  start(): void {
    this.res.on('close', () => this.close());
    this.unsubscribe = this.host.world.onAppend(() => this.wake?.());
    this.run().catch(() => {
      // A write on a destroyed socket: nothing to report, the client reconnects.
      this.terminate('destroy');
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.unsubscribe?.();
    this.wake?.();
    this.onClose(this);
  }

  /** Ends or resets the connection now (after what is already buffered). */
  terminate(mode: 'destroy' | 'end'): void {
    if (this.closed && this.res.writableEnded) return;
    const pending = this.takeBuffer();
    this.close();
    if (mode === 'end') {
      if (!this.res.writableEnded) this.res.end(pending);
    } else if (pending) this.res.write(pending, () => this.res.socket?.destroy());
    else this.res.socket?.destroy();
  }

  /** Writes a frame now, after what is buffered (control API: broadcast, error event). */
  inject(id: string | undefined, event: string, payload: string): void {
    this.emit(id, event, payload, 'control');
    void this.flush().catch(() => this.terminate('destroy'));
  }

  cut(opts: CutOptions): void {
    if (opts.mode === 'mid-message') this.armedCut = { ...opts, remaining: opts.afterMessages ?? 0 };
    else this.terminate(opts.mode);
  }

  private takeBuffer(): string {
    const s = this.buf.join('');
    this.buf = [];
    this.bufBytes = 0;
    return s;
  }

  private emit(
    id: string | undefined,
    event: string,
    payload: string,
    kind: 'data' | 'heartbeat' | 'control',
  ): void {
    if (this.closed) return;
    const text = frame(id, event, payload);
    const cut = this.armedCut;
    if (cut && (kind === 'data' || cut.frames === 'any')) {
      if (cut.remaining > 0) cut.remaining--;
      else {
        this.armedCut = undefined;
        const bytes = Buffer.from(text);
        const half = bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)));
        const pending = this.takeBuffer();
        this.close();
        if (pending) this.res.write(pending);
        this.res.write(half, () => {
          if (cut.ending === 'end') this.res.end();
          else this.res.socket?.destroy();
        });
        return;
      }
    }
    this.buf.push(text);
    this.bufBytes += text.length;
    if (kind === 'data' && id) {
      this.framesSent++;
      if (this.host.switches.duplicateFrames > 0) {
        this.host.switches.duplicateFrames--;
        this.buf.push(text);
        this.bufBytes += text.length;
      }
    }
    if (id && kind !== 'heartbeat') this.channelLastId = { ...parseIdLoose(id) };
  }

  private async flush(): Promise<void> {
    if (this.closed || this.buf.length === 0) return;
    const ok = this.res.write(this.takeBuffer());
    if (!ok && !this.closed) {
      this.draining = true;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off('drain', done);
          this.res.off('close', done);
          resolve();
        };
        this.res.on('drain', done);
        this.res.on('close', done);
      });
      this.draining = false;
    }
  }

  private async run(): Promise<void> {
    const { world, switches } = this.host;
    const p = this.params;
    this.res.writeHead(200, {
      Connection: 'keep-alive',
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'no-cache, no-transform',
    });
    this.res.socket?.setNoDelay(true);
    this.emit(undefined, 'connected', JSON.stringify({ ...world.info(), connectionId: this.id }), 'control');
    // OpenCTI's channel starts with the start id as its last id (heartbeats need one; `$` has none yet).
    this.channelLastId = p.start;
    this.lastReadAt = performance.now();
    this.heartbeat = setInterval(() => this.tick(), this.host.heartbeatMs);
    await this.flush();

    let start = p.start;
    // Recovery runs only when recover-date > from-date (dates = the ids' millisecond parts).
    if (!p.generic && p.recover && start && p.recover.ms > start.ms) {
      if (switches.noRecover) {
        const id = `${this.host.now()}-0`;
        this.emit(
          id,
          'no-recover',
          JSON.stringify({
            stream: p.streamId,
            message: 'Recovery is not available for a stream with origin filters, resuming from the start id',
            resume_from: formatStreamId(start),
          }),
          'control',
        );
      } else {
        await this.recover(start.ms, p.recover.ms);
        start = { ms: p.recover.ms, seq: 0 };
      }
    }
    if (switches.errorEvent) {
      this.emit(
        undefined,
        'error',
        JSON.stringify({ stream: p.streamId, message: 'Simulated stream processing error' }),
        'control',
      );
      this.terminate('end');
      return;
    }
    this.readCursor = start ?? world.lastId();
    this.lastReadAt = performance.now();
    while (!this.closed) {
      if (!this.host.isStreamLive(p.streamId)) {
        // Stream stopped/deleted while connected: OpenCTI simply ends the response (clean EOF).
        this.terminate('end');
        return;
      }
      const entries = world.entries();
      let i = world.indexAfter(this.readCursor);
      if (i >= entries.length) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      const end = Math.min(entries.length, i + BATCH);
      for (; i < end && !this.closed; i++) {
        const e = entries[i] as LogEntry;
        this.process(e);
        this.readCursor = e.sid;
        if (this.bufBytes >= FLUSH_BYTES) break;
      }
      // After each batch OpenCTI sets the channel's last id to the last id read (visible or not).
      this.channelLastId = this.readCursor;
      this.lastReadAt = performance.now();
      await this.flush();
    }
  }

  private tick(): void {
    if (this.closed) return;
    this.ticks++;
    const { world, switches } = this.host;
    const now = this.host.now();
    const elapsed = performance.now() - this.lastReadAt;
    const caughtUp = world.indexAfter(this.readCursor) >= world.entries().length;
    if (!this.recovering && caughtUp && elapsed >= this.host.idleReadMs) {
      // OpenCTI's blocking XREAD timed out: the processor reports a synthetic `<now>-0` last id.
      const syn = world.ids.synthetic(switches.syntheticHeartbeatSkewMs);
      if (!this.channelLastId || compareStreamIds(syn, this.channelLastId) > 0) this.channelLastId = syn;
      this.lastReadAt = performance.now();
    }
    if (switches.heartbeatsPaused) return;
    const last = this.channelLastId;
    if (last && !(this.draining && switches.skipHeartbeatWhileBuffered)) {
      this.emit(
        formatStreamId(last),
        'heartbeat',
        JSON.stringify(new Date(last.ms).toISOString()),
        'heartbeat',
      );
    }
    if (switches.consumerMetrics && last) {
      const lag = Math.max(0, now - this.readCursor.ms);
      this.emit(
        formatStreamId(last),
        'consumer_metrics',
        JSON.stringify({
          deliveryRate: this.framesSent,
          processingRate: this.framesSent,
          resolutionRate: 1,
          productionRate: world.entries().length,
          timeLag: caughtUp ? 0 : lag,
          estimatedOutOfDepth: 0,
        }),
        'control',
      );
    }
    if (switches.unknownEvents) {
      this.emit(
        undefined,
        'unknown_future_event',
        JSON.stringify({ message: 'an event name this client does not know' }),
        'control',
      );
    }
    void this.flush().catch(() => this.terminate('destroy'));
  }

  private process(e: LogEntry): void {
    const env = e.envelope;
    if (!env) {
      this.emit(e.noId ? undefined : (e.wireId ?? e.id), e.event, e.payload, 'data');
      return;
    }
    const p = this.params;
    const stix = env.data;
    if (Number.parseInt(env.version ?? '0', 10) < 4) return;
    if (p.generic) {
      this.emit(e.id, e.event, e.payload, 'data');
      return;
    }
    if (isInferred(stix) && !p.withInferences) return;
    const filter = p.filter();
    const visible = filter(stix);
    const isRelation = stix.type === 'relationship' || stix.type === 'sighting';
    if (env.type === 'update') {
      const wasVisible = e.previous ? filter(e.previous) : visible;
      if (wasVisible && !visible) {
        // Leaving the filters: `event: delete` carrying the update envelope (listen-delete=false suppresses it).
        if (p.publishDeletion) {
          this.emit(e.id, 'delete', e.payload, 'data');
          this.cache.add(stix.id);
        }
      } else if (!wasVisible && visible) {
        if (this.publishDependencies(e.id, stix)) {
          this.emit(e.id, 'create', e.payload, 'data');
          this.cache.add(stix.id);
        }
      } else if (visible) {
        if (this.publishDependencies(e.id, stix)) {
          this.emit(e.id, e.event, e.payload, 'data');
          this.cache.add(stix.id);
        }
      } else if (isRelation && !p.noDependencies) this.publishRelationAsDependency(e, stix, filter);
      return;
    }
    if (visible) {
      if (env.type === 'delete') {
        if (p.publishDeletion) {
          this.emit(e.id, e.event, e.payload, 'data');
          this.cache.add(stix.id);
        }
      } else if (this.publishDependencies(e.id, stix)) {
        this.emit(e.id, e.event, e.payload, 'data');
        this.cache.add(stix.id);
      }
    } else if (isRelation && !p.noDependencies) this.publishRelationAsDependency(e, stix, filter);
  }

  /** A relationship outside the filters whose source or target is inside is sent as a dependency (§3). */
  private publishRelationAsDependency(e: LogEntry, stix: StixObject, filter: StreamPredicate): void {
    const world = this.host.world;
    const from = world.resolve(String(stix.source_ref ?? stix.sighting_of_ref));
    const toRef = stix.target_ref ?? (stix.where_sighted_refs as string[] | undefined)?.[0];
    const to = world.resolve(String(toRef));
    if (!from || !to) return;
    if (!filter(from.stix) && !filter(to.stix)) return;
    this.publishDependencies(e.id, stix);
    const env = e.envelope;
    this.emit(
      e.id,
      e.event,
      JSON.stringify({
        data: stix,
        message: env?.message,
        origin: { referer: 'init-dependencies' },
        version: '4',
      }),
      'data',
    );
  }

  private dependencyFrame(eventId: string, obj: StixObject): void {
    const type = entityTypeOf(obj.type);
    const payload = JSON.stringify({
      data: obj,
      message: `creates a ${type} \`${displayName(obj)}\``,
      origin: { referer: 'init-dependencies' },
      version: '4',
    });
    this.emit(eventId, 'create', payload, 'data');
    this.cache.add(obj.id);
    if (this.host.switches.heartbeatInsideDependencyGroups && !this.host.switches.heartbeatsPaused) {
      // OpenCTI awaits database reads between dependency messages: its heartbeat timer can fire there, with
      // the channel's last id = the id the dependencies share with their (not yet sent) event.
      const ms = eventIdMs(eventId);
      this.emit(eventId, 'heartbeat', JSON.stringify(new Date(ms).toISOString()), 'heartbeat');
    }
  }

  /**
   * Referenced objects not yet sent on this connection (author, markings, … parents first), then — unless
   * no-dependencies — every relationship touching the object with its own missing refs. All reuse the trigger's
   * id. Like OpenCTI, a relationship's refs include the trigger object itself when it was not sent yet, so it can
   * arrive first as an `init-dependencies` create carrying its current state.
   */
  private publishDependencies(eventId: string, stix: StixObject): boolean {
    if (!this.publishMissingRefs(eventId, stix)) return false;
    if (!this.params.noDependencies) {
      const ext = (stix.extensions as Record<string, Record<string, unknown>> | undefined)?.[OCTI_EXT];
      const internalId = typeof ext?.id === 'string' ? ext.id : undefined;
      if (internalId) {
        for (const rel of this.host.world.relationshipsOf(internalId)) {
          if (this.cache.has(rel.stix.id)) continue;
          this.publishMissingRefs(eventId, rel.stix);
          this.dependencyFrame(eventId, rel.stix);
        }
      }
    }
    return true;
  }

  private publishMissingRefs(eventId: string, stix: StixObject): boolean {
    const missing = this.resolveMissing(refsOf(stix), new Set([stix.id]));
    if (stix.type === 'relationship' || stix.type === 'sighting') {
      const ids = new Set(missing.map((m) => m.id));
      const fromId = String(stix.source_ref ?? stix.sighting_of_ref);
      const toId = String(stix.target_ref ?? (stix.where_sighted_refs as string[] | undefined)?.[0]);
      const has = (id: string) => ids.has(id) || this.cache.has(id);
      if (!has(fromId) || !has(toId)) return false;
    }
    for (const m of missing) if (!this.cache.has(m.id)) this.dependencyFrame(eventId, m);
    return true;
  }

  private resolveMissing(refs: string[], seen: Set<string>): StixObject[] {
    const world = this.host.world;
    const found: StixObject[] = [];
    for (const ref of refs) {
      if (this.cache.has(ref) || seen.has(ref)) continue;
      seen.add(ref);
      const e = world.resolve(ref);
      if (e && !this.cache.has(e.stix.id)) found.push(e.stix);
    }
    if (found.length === 0) return [];
    const parents = this.resolveMissing(
      found.flatMap((o) => refsOf(o)),
      seen,
    );
    return [...parents, ...found];
  }

  /** Snapshot of current objects with from ≤ updated_at ≤ recover, updated_at asc then internal id (§2). */
  private async recover(fromMs: number, toMs: number): Promise<void> {
    this.recovering = true;
    const p = this.params;
    const filter = p.filter();
    const items: Array<{ at: number; internalId: string; stixId: string }> = [];
    for (const e of this.host.world.objects()) {
      if (e.deleted) continue;
      if (isInferred(e.stix) && !p.withInferences) continue;
      const at = updatedAtMs(e.stix);
      if (at < fromMs || at > toMs || !filter(e.stix)) continue;
      items.push({ at, internalId: e.internalId, stixId: e.stix.id });
    }
    items.sort(
      (a, b) => a.at - b.at || (a.internalId < b.internalId ? -1 : a.internalId > b.internalId ? 1 : 0),
    );
    for (const item of items) {
      if (this.closed) break;
      const e = this.host.world.get(item.internalId);
      if (!e || e.deleted || this.cache.has(e.stix.id)) continue;
      const eventId = `${item.at}-0`;
      if (this.publishDependencies(eventId, e.stix) && !this.cache.has(e.stix.id)) {
        const type = entityTypeOf(e.stix.type);
        this.emit(
          eventId,
          'create',
          JSON.stringify({
            data: e.stix,
            message: `creates a ${type} \`${displayName(e.stix)}\``,
            origin: { referer: 'init-create' },
            version: '4',
          }),
          'data',
        );
        this.cache.add(e.stix.id);
      }
      if (this.host.recoveryItemDelayMs > 0) {
        await this.flush();
        await new Promise((resolve) => setTimeout(resolve, this.host.recoveryItemDelayMs));
      } else if (this.bufBytes >= FLUSH_BYTES) await this.flush();
    }
    await this.flush();
    this.recovering = false;
  }

  describe(): ConnectionInfo {
    return {
      id: this.id,
      streamId: this.params.streamId,
      openedAt: this.openedAt,
      headers: maskHeaders(this.req.headers),
      url: this.req.url ?? '',
      lastEventId: this.lastEventId,
      framesSent: this.framesSent,
      ticks: this.ticks,
    };
  }
}

export interface ConnectionInfo {
  id: string;
  streamId: string;
  openedAt: string;
  /** Request headers as received, `authorization` masked. */
  headers: Record<string, string>;
  /** Request path and query string. */
  url: string;
  /** The id the server would put in its next heartbeat. */
  lastEventId: string | undefined;
  framesSent: number;
  ticks: number;
}

export function maskHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const value = Array.isArray(v) ? v.join(', ') : v;
    out[k] = k === 'authorization' ? value.replace(/^(\S+)\s+.*$/, '$1 ***') : value;
  }
  return out;
}

function parseIdLoose(id: string): StreamId {
  const [ms, seq] = id.split('-');
  return { ms: Number(ms), seq: Number(seq ?? 0) };
}
