/** Redis stream ids `<epoch ms>-<seq>`, as OpenCTI uses them for live-stream events. */
export interface StreamId {
  ms: number;
  seq: number;
}

const ID_RE = /^(\d+)-(\d+)$/;

export function parseStreamId(id: string): StreamId | undefined {
  const m = ID_RE.exec(id);
  if (!m) return undefined;
  return { ms: Number(m[1]), seq: Number(m[2]) };
}

export function formatStreamId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

export function compareStreamIds(a: StreamId, b: StreamId): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.seq - b.seq;
}

export const ZERO_ID: StreamId = { ms: 0, seq: 0 };

/**
 * How OpenCTI turns a `from`/`recover` parameter into a stream id (sseMiddleware convertParameterToStreamId):
 * `0`/`0-0` → start; anything with exactly one `-` → taken as an id; otherwise parsed as a date → `<ms>-0`.
 * Returns undefined for an absent parameter and `'invalid'` for something that is neither.
 */
export function parameterToStreamId(param: string | undefined): StreamId | undefined | 'invalid' {
  if (!param) return undefined;
  if (param === '0' || param === '0-0') return ZERO_ID;
  if (param.split('-').length === 2) {
    const parsed = parseStreamId(param);
    if (parsed) return parsed;
    // OpenCTI would take the first part as a timestamp; a non-numeric one is an error there too.
    const ms = Number.parseInt(param.split('-')[0] ?? '', 10);
    return Number.isFinite(ms) ? { ms, seq: 0 } : 'invalid';
  }
  const date = Date.parse(param);
  return Number.isFinite(date) ? { ms: date, seq: 0 } : 'invalid';
}

/**
 * Hands out strictly increasing ids from a clock, like Redis XADD with `*`. Synthetic ids given to idle
 * heartbeats are registered too, so a later event never gets an id at or below one a client may have saved
 * (real OpenCTI takes the synthetic id from the platform clock and the event id from Redis: see `skewMs`).
 */
export class IdClock {
  private last: StreamId = { ms: 0, seq: 0 };
  constructor(private readonly now: () => number) {}

  next(): StreamId {
    const ms = Math.max(this.now(), this.last.ms);
    this.last = ms === this.last.ms ? { ms, seq: this.last.seq + 1 } : { ms, seq: 0 };
    return this.last;
  }

  /** Reserves an explicit id (raw events appended with a given id); it must be above every id handed out. */
  take(id: StreamId): void {
    if (compareStreamIds(id, this.last) <= 0) {
      throw new Error(`event id ${formatStreamId(id)} is not above the last id ${formatStreamId(this.last)}`);
    }
    this.last = id;
  }

  /** `<now>-0` for an idle heartbeat. With skewMs ≠ 0 the id is not registered (reproduces clock skew). */
  synthetic(skewMs = 0): StreamId {
    const ms = this.now() + skewMs;
    if (skewMs !== 0) return { ms, seq: 0 };
    if (ms > this.last.ms) this.last = { ms, seq: 0 };
    return this.last;
  }

  current(): StreamId {
    return this.last;
  }
}
