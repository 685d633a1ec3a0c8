/**
 * Errors of the Sekoia client. Each carries the failure policy the caller applies (docs/architecture.md
 * "Failure policy"), like BullMQ's UnrecoverableError / RateLimitError. Messages are built here from the
 * status and Sekoia's own message — never from an axios error, whose config holds the Authorization header.
 */

/**
 * The one failure-policy vocabulary: the Sekoia client's errors carry it and the sync engine acts on it, with no
 * translation in between (the engine's reaction to each: packages/sync/README.md, "Failure policy").
 */
export type ErrorPolicy =
  /** Network error, timeout, dropped connection, 5xx: retry with backoff. */
  | 'retryable'
  /** 429 or a WAF block: pause the request budget for retryAfterMs (or a backoff), no attempt consumed. */
  | 'rate-limited'
  /** 400/413/422 on a value or batch: bisect, then record the single value as rejected. */
  | 'rejected'
  /** 401, 403, collection gone, not the IOC API: open the circuit, probe, resume by itself. */
  | 'configuration'
  /** The indicator does not exist (the collection does): treat that id as revoked. */
  | 'not-found'
  /**
   * Creates refused because the IOC quota is used up: stop creates only; revokes and edits go on. The refused
   * create is answered and did nothing: the engine retries it like an answered 'retryable' (the worker's quota
   * watch blocks its creates meanwhile).
   */
  | 'quota-full';

const POLICIES: ReadonlySet<string> = new Set<ErrorPolicy>([
  'retryable',
  'rate-limited',
  'rejected',
  'configuration',
  'not-found',
  'quota-full',
]);

/** What a thrower of a policy error provides (every SekoiaError; test doubles of the Sekoia port). */
export interface PolicyError {
  policy: ErrorPolicy;
  retryAfterMs?: number;
  /**
   * For 'retryable': true when the origin answered, so the request is certainly no longer being processed (e.g. a
   * 500/503 from Sekoia itself). Absent = it may still be in flight (timeout, reset, 502/504 from a proxy): the
   * engine then leaves the value alone until its write horizon has passed.
   */
  answered?: boolean;
}

/** The policy of any thrown error; an error without one is treated as retryable (it may be in flight). */
export function policyOf(err: unknown): {
  policy: ErrorPolicy;
  retryAfterMs?: number;
  answered: boolean;
  message: string;
} {
  const e = err as Partial<PolicyError> | null | undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (e && typeof e === 'object' && typeof e.policy === 'string' && POLICIES.has(e.policy)) {
    const retryAfterMs =
      typeof e.retryAfterMs === 'number' && e.retryAfterMs >= 0 ? e.retryAfterMs : undefined;
    return { policy: e.policy, retryAfterMs, answered: e.answered === true, message };
  }
  return { policy: 'retryable', answered: false, message };
}

export type SekoiaOperation =
  | 'getCollection'
  | 'countTotalIocs'
  | 'createBatch'
  | 'edit'
  | 'revoke'
  | 'forceDelete'
  | 'searchExact'
  | 'listAll'
  | 'listFeed';

export interface SekoiaErrorDetails {
  operation: SekoiaOperation;
  /** HTTP status, when an answer arrived. */
  status?: number;
}

export class SekoiaError extends Error implements PolicyError {
  readonly policy: ErrorPolicy;
  readonly operation: SekoiaOperation;
  readonly status: number | undefined;

  constructor(policy: ErrorPolicy, message: string, details: SekoiaErrorDetails) {
    super(message);
    this.name = new.target.name;
    this.policy = policy;
    this.operation = details.operation;
    this.status = details.status;
  }

  /**
   * Whether Sekoia itself answered (an HTTP status other than a gateway's 502/504): the request is then no longer
   * in flight. A getter, so it stays out of toJSON.
   */
  get answered(): boolean {
    return this.status !== undefined && this.status !== 502 && this.status !== 504;
  }

  /** What logs, dead letters and Bull Board show: plain fields, no request config, no headers. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, message: this.message };
    for (const [k, v] of Object.entries(this)) if (v !== undefined) out[k] = v;
    return out;
  }
}

export class RetryableError extends SekoiaError {
  /** Node/axios error code for network failures (ECONNRESET, ECONNREFUSED, …) or 'timeout'. */
  readonly code: string | undefined;
  constructor(message: string, details: SekoiaErrorDetails & { code?: string }) {
    super('retryable', message, details);
    this.code = details.code;
  }
}

export class RateLimitedError extends SekoiaError {
  /** From Retry-After (delta-seconds or HTTP date); undefined when absent or unreadable: use a backoff. */
  readonly retryAfterMs: number | undefined;
  /** 'rate-limit' for a JSON 429 from the API, 'waf' for an HTML block page (429 or 403). */
  readonly source: 'rate-limit' | 'waf';
  constructor(
    message: string,
    details: SekoiaErrorDetails & { retryAfterMs: number | undefined; source: 'rate-limit' | 'waf' },
  ) {
    super('rate-limited', message, details);
    this.retryAfterMs = details.retryAfterMs;
    this.source = details.source;
  }
}

export class RejectedError extends SekoiaError {
  /** Sekoia's own `message` and `code` from the body, when it sent JSON. */
  readonly sekoiaMessage: string | undefined;
  readonly sekoiaCode: string | undefined;
  constructor(
    message: string,
    details: SekoiaErrorDetails & { sekoiaMessage?: string; sekoiaCode?: string },
  ) {
    super('rejected', message, details);
    this.sekoiaMessage = details.sekoiaMessage;
    this.sekoiaCode = details.sekoiaCode;
  }
}

export type ConfigurationReason =
  | 'unauthorized'
  | 'forbidden'
  | 'collection-not-found'
  /** The URL answers, but not as the IOC API (HTML page, redirect, 405): SEKOIA_INTEL_URL is wrong. */
  | 'unexpected-response';

export class ConfigurationError extends SekoiaError {
  readonly reason: ConfigurationReason;
  constructor(reason: ConfigurationReason, message: string, details: SekoiaErrorDetails) {
    super('configuration', message, details);
    this.reason = reason;
  }
}

export class NotFoundError extends SekoiaError {
  readonly indicatorId: string;
  constructor(indicatorId: string, details: SekoiaErrorDetails) {
    super('not-found', `Sekoia.io indicator ${indicatorId} not found in the IOC collection`, details);
    this.indicatorId = indicatorId;
  }
}

export class QuotaFullError extends SekoiaError {
  readonly count: number;
  readonly max: number;
  constructor(count: number, max: number, details: SekoiaErrorDetails) {
    super(
      'quota-full',
      `Sekoia.io IOC quota reached (${count} of ${max}): new values wait until space is freed; revokes and edits go on`,
      details,
    );
    this.count = count;
    this.max = max;
  }
}
