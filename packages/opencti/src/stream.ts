/**
 * OpenCTI live-stream reader (docs/opencti-api.md) on eventsource 4.1.1.
 *
 * - Every connection is a fresh EventSource whose fetch wrapper sends Authorization, the stream headers and our
 *   own Last-Event-ID (never a `from` query parameter; `recover` stays in the query string on every reconnect).
 * - Any failure (network, EOF, 401/410/5xx, server `error` event, watchdog) closes it; we reconnect after an
 *   exponential backoff with jitter. The library's own reconnection is not used: its fixed 3 s delay has no
 *   backoff, and it would resume from the last id received — which loses the main event when a cut falls between
 *   dependency messages and the event sharing their id (resume is exclusive, §8).
 * - Resume id: the greatest id of a create/update/delete/merge message followed, on the same connection, by a
 *   message with a greater id (the whole group of that id has then been received). Synthetic heartbeat ids are
 *   never used as resume points (platform/Redis clock skew, §8).
 * - Messages reach onMessage strictly in order; a returned promise is awaited before the next one. When the
 *   in-memory backlog reaches `maxBufferedMessages`, reading pauses (TCP backpressure).
 * - A half-received message is dropped (the library parses only complete messages).
 */
import { type ErrorEvent, EventSource } from 'eventsource';
import { redactSecret } from './errors.ts';
import { compareEventIds, isEventId } from './event-id.ts';
import { isDataEvent, provesProgress, type StreamMessage } from './stream-message.ts';

/** The `connected` message (Redis XINFO of the whole stream). */
export interface ConnectedInfo {
  lastEventId?: string;
  firstEventId?: string;
  firstEventDate?: string;
  lastEventDate?: string;
  streamSize?: number;
  connectionId?: string;
  [key: string]: unknown;
}

export type StreamState = 'connecting' | 'open' | 'retrying' | 'unauthorized' | 'stopped' | 'error';

export interface StreamStatus {
  state: StreamState;
  httpStatus?: number;
  /** Plain operator text (no token). */
  message: string;
  /** Delay before the next attempt, when one is scheduled. */
  retryInMs?: number;
}

/** pino-compatible subset. */
export interface StreamLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface OpenStreamOptions {
  /** OPENCTI_URL (base). */
  url: string;
  token: string;
  streamId: string;
  /** Where to start (exclusive): the committed checkpoint, `0-0` for the start of the stream. */
  lastEventId: string;
  /** ISO date: `?recover=` on every connection (recovery runs only while it is after the resume id's date). */
  recover?: string;
  listenDelete: boolean;
  noDependencies: boolean;
  withInferences: boolean;
  /** No id-bearing message for this long (while not waiting on onMessage) → reconnect. */
  heartbeatTimeoutMs: number;
  backoff: { baseMs: number; maxMs: number };
  onMessage(msg: StreamMessage): void | Promise<void>;
  onConnected(info: ConnectedInfo): void | Promise<void>;
  onStatus(status: StreamStatus): void;
  logger?: StreamLogger;
  /** Messages held in memory before reading pauses. Default 1000. */
  maxBufferedMessages?: number;
  fetch?: typeof fetch;
}

export interface StreamHandle {
  close(): void;
  /** The Last-Event-ID the next connection would send. */
  resumeId(): string;
  /** The last status reported. */
  state(): StreamState;
}

/** a > b for stream ids; false when either is not an id. */
function idAfter(a: string, b: string): boolean {
  return isEventId(a) && isEventId(b) && compareEventIds(a, b) > 0;
}

/** Tracks the resume id over a sequence of messages (one instance per connection, plus the delivered view). */
class ResumeTracker {
  private candidate: string | undefined;
  constructor(public resume: string) {}
  newConnection(): void {
    this.candidate = undefined;
  }
  see(id: string | undefined, event: string): void {
    if (!id) return;
    if (this.candidate && provesProgress(event) && idAfter(id, this.candidate)) {
      if (!isEventId(this.resume) || idAfter(this.candidate, this.resume)) this.resume = this.candidate;
      this.candidate = undefined;
    }
    if (isDataEvent(event) && (!this.candidate || idAfter(id, this.candidate))) this.candidate = id;
  }
}

type QueueItem =
  | { kind: 'message'; msg: StreamMessage }
  | { kind: 'connected'; info: ConnectedInfo }
  | { kind: 'boundary' };

export function openStream(opts: OpenStreamOptions): StreamHandle {
  const log = opts.logger;
  const maxBuffered = opts.maxBufferedMessages ?? 1000;
  const doFetch = opts.fetch ?? fetch;
  const base = opts.url.replace(/\/+$/, '');
  const streamUrl = `${base}/stream/${encodeURIComponent(opts.streamId)}${
    opts.recover ? `?recover=${encodeURIComponent(opts.recover)}` : ''
  }`;
  const where = `live stream ${opts.streamId}`;
  const clean = (text: string) => redactSecret(text, opts.token);

  let closed = false;
  let generation = 0;
  let es: EventSource | undefined;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let lastActivity = performance.now();
  let lastReported: string | undefined;
  let currentState: StreamState = 'connecting';
  /** What we received (resume point of the next connection). */
  const received = new ResumeTracker(opts.lastEventId);
  /** What onMessage accepted (resume point after a handler failure). */
  const delivered = new ResumeTracker(opts.lastEventId);
  const queue: QueueItem[] = [];
  let draining = false;
  let roomWaiters: Array<() => void> = [];

  /** Reports a status unless it repeats the last one (a 401 streak is reported once); true when reported. */
  const report = (status: StreamStatus): boolean => {
    currentState = status.state;
    const key = `${status.state}:${status.httpStatus ?? ''}`;
    if (key === lastReported) return false;
    lastReported = key;
    try {
      opts.onStatus(status);
    } catch (err) {
      log?.error({ err: String(err) }, 'onStatus threw');
    }
    return true;
  };

  const releaseRoom = () => {
    if (roomWaiters.length === 0) return; // the usual case, once per message: no new array
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const w of waiters) w();
  };

  const backoffDelay = () => {
    const exp = Math.min(opts.backoff.maxMs, opts.backoff.baseMs * 2 ** Math.min(failures, 30));
    // "Equal jitter": between half and all of the exponential delay.
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  };

  /** Ends the current connection (if it is still `gen`) and schedules the next one. */
  const fail = (gen: number, status: Omit<StreamStatus, 'retryInMs'>, logLevel: 'warn' | 'info' = 'warn') => {
    if (closed || gen !== generation) return;
    generation++;
    es?.close();
    es = undefined;
    releaseRoom();
    const delay = backoffDelay();
    failures++;
    const fresh = report({ ...status, retryInMs: delay });
    // Repeats of the same problem go to debug: the operator saw it once.
    log?.[fresh ? logLevel : 'debug'](
      { streamId: opts.streamId, httpStatus: status.httpStatus, retryInMs: delay, resumeId: received.resume },
      status.message,
    );
    retryTimer = setTimeout(connect, delay);
  };

  const drain = async () => {
    if (draining) return;
    draining = true;
    try {
      while (queue.length > 0 && !closed) {
        const item = queue.shift() as QueueItem;
        if (item.kind === 'boundary') {
          delivered.newConnection();
          continue;
        }
        try {
          const r = item.kind === 'connected' ? opts.onConnected(item.info) : opts.onMessage(item.msg);
          if (r && typeof (r as Promise<void>).then === 'function') await r;
        } catch (err) {
          // Not delivered: drop what is buffered and read again from the last id whose group was accepted.
          queue.length = 0;
          received.resume = delivered.resume;
          const reason = err instanceof Error ? err.message : String(err);
          log?.error(
            { streamId: opts.streamId, resumeId: delivered.resume },
            clean(`message handler failed: ${reason}`),
          );
          fail(generation, {
            state: 'error',
            message: clean(
              `The stream message handler failed (${reason}); reconnecting to the ${where} from ${delivered.resume}`,
            ),
          });
          continue;
        }
        if (item.kind === 'message') delivered.see(item.msg.id, item.msg.event);
        lastActivity = performance.now();
        if (queue.length < maxBuffered) releaseRoom();
      }
    } finally {
      draining = false;
    }
  };

  const enqueue = (item: QueueItem) => {
    queue.push(item);
    // While a drain runs it takes this item too: no call (and no promise) per message.
    if (!draining) void drain();
  };

  /** Wraps the response body so that reading waits while the backlog is full (real TCP backpressure). */
  const gated = (res: Response, gen: number): Response => {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(ctrl) {
          while (queue.length >= maxBuffered && gen === generation && !closed) {
            await new Promise<void>((resolve) => roomWaiters.push(resolve));
          }
          if (gen !== generation || closed) {
            await reader.cancel().catch(() => {});
            ctrl.error(new DOMException('This connection was closed', 'AbortError'));
            return;
          }
          const { done, value } = await reader.read();
          if (done) ctrl.close();
          else ctrl.enqueue(value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };

  function connect(): void {
    retryTimer = undefined;
    if (closed) return;
    const gen = ++generation;
    const resume = received.resume;
    received.newConnection();
    enqueue({ kind: 'boundary' });
    lastActivity = performance.now();
    let httpStatus: number | undefined;
    let statusText = '';
    let sawId = false;
    if (failures === 0 && lastReported === undefined) {
      report({ state: 'connecting', message: `Connecting to the OpenCTI ${where}` });
    }
    log?.debug({ streamId: opts.streamId, lastEventId: resume, recover: opts.recover ?? null }, 'connecting');

    const onEvent = (ev: MessageEvent) => {
      if (gen !== generation || closed) return;
      const id = ev.lastEventId || undefined;
      const event = ev.type;
      const data = typeof ev.data === 'string' ? ev.data : String(ev.data);
      if (event === 'connected' && !id) {
        let info: ConnectedInfo;
        try {
          info = JSON.parse(data) as ConnectedInfo;
        } catch {
          log?.warn({ streamId: opts.streamId }, 'unreadable connected message ignored');
          return;
        }
        enqueue({ kind: 'connected', info });
        return;
      }
      if (id) {
        lastActivity = performance.now();
        received.see(id, event);
        if (!sawId) {
          sawId = true;
          failures = 0; // the connection works: the next failure starts the backoff again
        }
      }
      enqueue({ kind: 'message', msg: id ? { id, event, data } : { event, data } });
      if (event === 'error' && !id) {
        // [7.x] processing failed after the headers: fatal for this connection.
        let detail = '';
        try {
          detail = String((JSON.parse(data) as { message?: unknown }).message ?? '');
        } catch {}
        fail(gen, {
          state: 'retrying',
          message: clean(`OpenCTI reported a ${where} error (${detail}); reconnecting`),
        });
      }
    };

    class Source extends EventSource {
      override dispatchEvent(ev: Event): boolean {
        if (ev instanceof MessageEvent) onEvent(ev);
        return super.dispatchEvent(ev);
      }
    }

    const source = new Source(streamUrl, {
      fetch: async (input, init) => {
        const inherited = Object.fromEntries(
          Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [
            k.toLowerCase(),
            v,
          ]),
        );
        // Ours win: the Last-Event-ID is the tracked resume id, not the library's last id received.
        const res = await doFetch(input, {
          ...init,
          headers: {
            ...inherited,
            accept: 'text/event-stream',
            'cache-control': 'no-cache',
            authorization: `Bearer ${opts.token}`,
            'last-event-id': resume,
            'listen-delete': String(opts.listenDelete),
            'no-dependencies': String(opts.noDependencies),
            'with-inferences': String(opts.withInferences),
          },
        });
        httpStatus = res.status;
        statusText = res.statusText;
        if (res.status !== 200 || !res.body || gen !== generation) return res;
        return gated(res, gen);
      },
    });
    es = source;
    source.onopen = () => {
      if (gen !== generation) return;
      lastReported = undefined; // a later 401/410 is reported again
      report({
        state: 'open',
        httpStatus: 200,
        message: `Connected to the OpenCTI ${where} (from ${resume})`,
      });
      log?.info({ streamId: opts.streamId, lastEventId: resume }, 'live stream connected');
    };
    source.onerror = (ev: ErrorEvent) => {
      if (gen !== generation || closed) return;
      const status = ev.code ?? (httpStatus !== undefined && httpStatus !== 200 ? httpStatus : undefined);
      const reason = statusText ? ` ${statusText}` : '';
      if (status === 401) {
        fail(gen, {
          state: 'unauthorized',
          httpStatus: 401,
          message: clean(
            `OpenCTI refused the ${where} (HTTP 401${reason}): check OPENCTI_TOKEN, that CONNECTOR_LIVE_STREAM_ID exists and that its user may read it; retrying`,
          ),
        });
      } else if (status === 410) {
        fail(gen, {
          state: 'stopped',
          httpStatus: 410,
          message: `The OpenCTI ${where} is stopped (HTTP 410): start it in Data sharing → Live streams; retrying`,
        });
      } else if (status !== undefined) {
        const detail = status === 200 && ev.message ? ` (${ev.message})` : '';
        fail(gen, {
          state: 'error',
          httpStatus: status,
          message: clean(`OpenCTI answered HTTP ${status}${reason}${detail} on the ${where}; retrying`),
        });
      } else {
        const detail = ev.message ? ` (${ev.message})` : ' (connection closed)';
        fail(
          gen,
          { state: 'retrying', message: clean(`Lost the OpenCTI ${where}${detail}; reconnecting`) },
          'info',
        );
      }
    };
  }

  const watchdogPeriod = Math.max(10, Math.min(1000, Math.floor(opts.heartbeatTimeoutMs / 4)));
  const watchdog = setInterval(() => {
    if (closed || retryTimer || !es) return;
    // Waiting on onMessage is the caller's backpressure, not a dead connection.
    if (draining || queue.length > 0) return;
    if (performance.now() - lastActivity < opts.heartbeatTimeoutMs) return;
    fail(generation, {
      state: 'retrying',
      message: `No message from the OpenCTI ${where} for ${opts.heartbeatTimeoutMs} ms (not even a heartbeat); reconnecting`,
    });
  }, watchdogPeriod);

  connect();

  return {
    close() {
      if (closed) return;
      closed = true;
      generation++;
      clearInterval(watchdog);
      if (retryTimer) clearTimeout(retryTimer);
      es?.close();
      es = undefined;
      queue.length = 0;
      releaseRoom();
    },
    resumeId: () => received.resume,
    state: () => currentState,
  };
}
