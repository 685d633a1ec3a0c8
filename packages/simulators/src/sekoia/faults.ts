import { SeededRandom } from './rng.ts';
import type { FaultRule, RetryAfterMode, SekoiaFaults, SekoiaRoute } from './types.ts';

/** An answer decided by fault injection instead of the API. */
export interface FaultResponse {
  status: number;
  body: string;
  contentType: string;
  headers: Record<string, string>;
  /** Set on WAF blocks: they do not feed the WAF's own error counter. */
  waf?: boolean;
}

/** What fault injection decided for one request, at arrival. */
export interface FaultPlan {
  delayMs: number;
  /** Answer (or drop) without applying the request. */
  pre?: FaultResponse | 'drop';
  /** Apply the request, then misbehave while answering. */
  post?: 'drop' | 'truncate' | { slowChunkMs: number };
}

const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
/** WAF answers are HTML pages, never the API's JSON: that is how a client can tell a WAF 403 from an API 403. */
const HTML_WAF =
  '<html><head><title>Request blocked</title></head><body><h1>Request blocked</h1><p>Your request was blocked by the web application firewall. Please retry later.</p></body></html>';
const SERVER_ERROR_MESSAGES: Record<number, string> = {
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): FaultResponse {
  return { status, body: JSON.stringify(body), contentType: 'application/json', headers };
}

function html(status: number, body: string, headers: Record<string, string> = {}): FaultResponse {
  return { status, body, contentType: 'text/html; charset=utf-8', headers };
}

export function serverError(status: number): FaultResponse {
  if (status === 502) return html(502, HTML_502);
  return json(status, { message: SERVER_ERROR_MESSAGES[status] ?? 'Server Error' });
}

/** Retry-After as delta-seconds or as an HTTP date (rounded up to a whole second, its resolution). */
export function retryAfterHeader(mode: RetryAfterMode | undefined, seconds: number): Record<string, string> {
  const s = Math.max(1, Math.ceil(seconds));
  if (mode === 'none') return {};
  if (mode === 'date')
    return { 'retry-after': new Date(Math.ceil((Date.now() + s * 1000) / 1000) * 1000).toUTCString() };
  return { 'retry-after': String(s) };
}

export const UNAUTHORIZED_BODY = { message: 'Authentication credentials were not provided or are invalid' };

/** Timestamps within a sliding window (amortised O(1)). */
class SlidingWindow {
  private times: number[] = [];
  private head = 0;
  add(t: number) {
    this.times.push(t);
  }
  count(now: number, windowMs: number): number {
    while (this.head < this.times.length && this.times[this.head]! <= now - windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
  clear() {
    this.times = [];
    this.head = 0;
  }
}

/** Decides faults per request. Rate limiting and the WAF run on real time (they model load, not data). */
export class FaultEngine {
  readonly rng: SeededRandom;
  private tokens = Number.NaN;
  private lastRefill = 0;
  private wafBlockedUntil = 0;
  private readonly wafRequests = new SlidingWindow();
  private readonly wafErrors = new SlidingWindow();
  private ruleState = new WeakMap<FaultRule, { seen: number; fired: number }>();

  constructor(
    seed: number,
    private readonly faults: () => SekoiaFaults,
  ) {
    this.rng = new SeededRandom(seed);
  }

  /** Forget rate-limit, WAF and per-rule counters (after the fault config changed). */
  resetState() {
    this.tokens = Number.NaN;
    this.wafBlockedUntil = 0;
    this.wafRequests.clear();
    this.wafErrors.clear();
    this.ruleState = new WeakMap();
  }

  /** Feeds the WAF's error counter with every answer sent (WAF blocks themselves excluded). */
  recordAnswer(status: number | 'drop') {
    const waf = this.faults().waf;
    if (!waf || (status !== 'drop' && status < 400)) return;
    const now = performance.now();
    this.wafErrors.add(now);
    if (now >= this.wafBlockedUntil && this.wafErrors.count(now, 5000) > waf.maxErrorsPer5s) {
      this.wafBlockedUntil = now + waf.blockMs;
    }
  }

  plan(route: SekoiaRoute): FaultPlan {
    const f = this.faults();
    const plan: FaultPlan = { delayMs: f.latencyMs + (f.jitterMs > 0 ? this.rng.next() * f.jitterMs : 0) };
    const now = performance.now();

    if (f.waf) {
      this.wafRequests.add(now);
      if (now >= this.wafBlockedUntil && this.wafRequests.count(now, 1000) > f.waf.maxRps) {
        this.wafBlockedUntil = now + f.waf.blockMs;
      }
      if (now < this.wafBlockedUntil) {
        const left = (this.wafBlockedUntil - now) / 1000;
        plan.pre = {
          ...html(f.waf.status, HTML_WAF, retryAfterHeader(f.waf.retryAfter ?? 'none', left)),
          waf: true,
        };
        return plan;
      }
    }

    if (f.rateLimit && f.rateLimit.rps > 0) {
      const rl = f.rateLimit;
      const burst = Math.max(1, rl.burst ?? rl.rps);
      if (Number.isNaN(this.tokens)) {
        this.tokens = burst;
        this.lastRefill = now;
      }
      this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) / 1000) * rl.rps);
      this.lastRefill = now;
      if (this.tokens < 1) {
        const wait = (1 - this.tokens) / rl.rps;
        plan.pre = json(
          429,
          { message: 'Too Many Requests' },
          retryAfterHeader(rl.retryAfter ?? 'seconds', wait),
        );
        return plan;
      }
      this.tokens -= 1;
    }

    if (f.unauthorized) {
      plan.pre = json(401, UNAUTHORIZED_BODY);
      return plan;
    }

    for (const rule of f.rules) {
      if (!this.fires(rule, route)) continue;
      const a = rule.action;
      switch (a.kind) {
        case 'latency':
          plan.delayMs += a.ms;
          continue;
        case 'drop':
          if (a.when === 'after') {
            plan.post ??= 'drop';
            continue;
          }
          plan.pre = 'drop';
          return plan;
        case 'truncate':
          plan.post ??= 'truncate';
          continue;
        case 'slow-body':
          plan.post ??= { slowChunkMs: a.chunkDelayMs };
          continue;
        case 'status':
          plan.pre =
            a.html !== undefined
              ? html(a.status, a.html, retryAfterHeader(a.retryAfter ?? 'none', 1))
              : json(
                  a.status,
                  a.body ?? { message: `Error ${a.status}` },
                  retryAfterHeader(a.retryAfter ?? 'none', 1),
                );
          return plan;
        case 'server-error':
          plan.pre = serverError(a.status);
          return plan;
        case 'rate-limit':
          plan.pre = json(
            429,
            { message: 'Too Many Requests' },
            retryAfterHeader(a.retryAfter ?? 'seconds', a.seconds ?? 1),
          );
          return plan;
        case 'unauthorized':
          plan.pre = json(401, UNAUTHORIZED_BODY);
          return plan;
      }
    }

    if (route !== 'unknown') {
      if (this.rng.chance(f.errorRate) && f.errorStatuses.length > 0) {
        plan.pre = serverError(f.errorStatuses[this.rng.int(f.errorStatuses.length)]!);
        return plan;
      }
      if (this.rng.chance(f.dropBeforeRate)) {
        plan.pre = 'drop';
        return plan;
      }
      if (this.rng.chance(f.dropAfterRate)) plan.post ??= 'drop';
    }
    return plan;
  }

  private fires(rule: FaultRule, route: SekoiaRoute): boolean {
    const routes =
      rule.route === undefined ? undefined : Array.isArray(rule.route) ? rule.route : [rule.route];
    if (routes ? !routes.includes(route) : route === 'unknown') return false;
    let st = this.ruleState.get(rule);
    if (!st) {
      st = { seen: 0, fired: 0 };
      this.ruleState.set(rule, st);
    }
    st.seen++;
    if (rule.times !== undefined && st.fired >= rule.times) return false;
    if (rule.nth && !rule.nth.includes(st.seen)) return false;
    if (rule.probability !== undefined && !this.rng.chance(rule.probability)) return false;
    st.fired++;
    return true;
  }
}
