import { readFileSync } from 'node:fs';
import { budgetKeys, LuaScript, type RedisClient } from '@octi-sekoia/queue';
import type { Budget } from './port.ts';

const takeLua = new LuaScript(
  'take-budget-token',
  readFileSync(new URL('./lua/take-budget-token.lua', import.meta.url), 'utf8'),
);
const pauseLua = new LuaScript(
  'pause-budget',
  readFileSync(new URL('./lua/pause-budget.lua', import.meta.url), 'utf8'),
);

export interface RequestBudgetOptions {
  /** Global key prefix (not the connector's: the budget is shared by every connector on this key). */
  keyPrefix: string;
  /** Sekoia host, e.g. `api.sekoia.io`. */
  host: string;
  /** Only a SHA-256 prefix of it is used in the key name. */
  apiKey: string;
  /** Sustained requests per second (default 5, Sekoia's WAF advice). */
  ratePerSecond?: number;
  /** Requests allowed at once after an idle period (default 5). */
  burst?: number;
  /** Upper bound of one sleep while waiting, so an abort or a lifted pause is noticed (default 1 s). */
  maxSleepMs?: number;
}

export interface TakeResult {
  granted: boolean;
  waitMs: number;
  /** Redis clock, µs: when the token was granted (or refused). */
  redisTimeUs: number;
}

/**
 * A token bucket in HTTP requests (GCRA, one Lua script), shared through Redis by every worker of every
 * connector using one Sekoia host + API key. Call `take()` before every request; `pause(ms)` on a 429 or WAF
 * block stops everyone for that long and empties the bucket.
 */
export class RequestBudget implements Budget {
  readonly keys: { tat: string; pause: string };
  readonly intervalUs: number;
  readonly burst: number;
  private readonly maxSleepMs: number;

  constructor(
    private readonly redis: RedisClient,
    opts: RequestBudgetOptions,
  ) {
    const rate = opts.ratePerSecond ?? 5;
    if (!(rate > 0)) throw new Error('RequestBudget: ratePerSecond must be > 0');
    this.intervalUs = Math.max(1, Math.round(1_000_000 / rate));
    this.burst = Math.max(1, Math.floor(opts.burst ?? 5));
    this.maxSleepMs = opts.maxSleepMs ?? 1000;
    this.keys = budgetKeys(opts.keyPrefix, opts.host, opts.apiKey);
  }

  /** One attempt; never waits. */
  async tryTake(): Promise<TakeResult> {
    const [granted, waitUs, now] = (await takeLua.run(
      this.redis,
      [this.keys.tat, this.keys.pause],
      [this.intervalUs, this.burst],
    )) as [number, number, number];
    return { granted: granted === 1, waitMs: Math.ceil(waitUs / 1000), redisTimeUs: now };
  }

  /** Waits for a token (polling Redis at the time it says, with jitter so waiters do not stampede). */
  async take(signal?: AbortSignal): Promise<void> {
    await this.takeTimed(signal);
  }

  /** Like take(), returning the grant (tests count grants against Redis time). */
  async takeTimed(signal?: AbortSignal): Promise<TakeResult> {
    for (;;) {
      signal?.throwIfAborted();
      const r = await this.tryTake();
      if (r.granted) return r;
      const ms = Math.min(this.maxSleepMs, r.waitMs) + Math.random() * Math.min(20, r.waitMs / 4 + 1);
      await sleep(ms, signal);
    }
  }

  async pause(ms: number): Promise<void> {
    await pauseLua.run(
      this.redis,
      [this.keys.tat, this.keys.pause],
      [Math.max(1, Math.ceil(ms)), this.intervalUs, this.burst],
    );
  }

  /** Remaining pause, ms (0 when not paused). */
  async pausedForMs(): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.keys.pause));
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    }
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
