import type { CreateFields, IocAttributes } from '@octi-sekoia/model';

/**
 * What the engine needs from Sekoia (implemented by @octi-sekoia/sekoia's client; tests use an in-memory
 * double). Every method is one HTTP request, except `searchExact`, which reads all pages: the engine takes one
 * budget token before each call, so a client that pages must take a token for each further page itself.
 */
export interface SekoiaPort {
  /**
   * POST …/indicators with 1..100 values sharing `fields` (Sekoia's `default_fields`), each with its own
   * `valid_from` (the one per-item field: docs/sekoia-api.md, "POST /{id}/indicators"). Items are matched back
   * by value.
   */
  createBatch(fields: CreateFields, items: CreateItem[]): Promise<CreatedIndicator[]>;
  /** PUT …/indicators/{id}; `value` is the value the indicator stands for (for what the adapter reports). */
  edit(id: string, fields: IocAttributes, value?: string): Promise<void>;
  /** DELETE …/indicators/{id}: 404 for the indicator is 'not-found' (already gone); a gone collection throws. */
  revoke(id: string): Promise<'revoked' | 'not-found'>;
  /**
   * DELETE …/indicators/{id} with `force_deletion`: deletes a revoked indicator for good, which Sekoia documents
   * as allowed 24 h after its revocation (earlier: a 'rejected' error). 404 → 'not-found'.
   */
  forceDelete(id: string): Promise<'deleted' | 'not-found'>;
  /** Every indicator whose value is exactly `value` (term search is a substring match: filtered), all pages. */
  searchExact(value: string): Promise<FoundIndicator[]>;
}

/** One value of a create request, with its own `valid_from`. */
export interface CreateItem {
  value: string;
  validFrom: string;
}

export interface CreatedIndicator {
  id: string;
  value: string;
  /** Sekoia answered the create with a revoked indicator (it ignores the re-import of a revoked value). */
  revoked?: boolean;
}

export interface FoundIndicator {
  id: string;
  value: string;
  revoked: boolean;
  /**
   * What the indicator carries, as the search answer lists it (absent without a `valid_from`): a verify search
   * then sees an edit made by hand in Sekoia, as a collection read does.
   */
  attributes?: IocAttributes;
}

/**
 * The contract the engine reads from thrown errors (the Sekoia client's errors carry exactly these fields):
 * - retryable: network error, timeout, 5xx — the request may or may not have been applied;
 * - rate-limited: 429 / WAF block — not applied; pause the shared budget for `retryAfterMs`;
 * - rejected: 400 — Sekoia refuses the content (a batch is bisected down to the value at fault);
 * - configuration: 401 / 403 / collection gone — nothing can succeed until an operator acts;
 * - not-found: the indicator id is unknown to Sekoia.
 * An error without a policy is treated as retryable.
 */
export type ErrorPolicy = 'retryable' | 'rate-limited' | 'rejected' | 'configuration' | 'not-found';

export interface PolicyError {
  policy: ErrorPolicy;
  retryAfterMs?: number;
  /**
   * Optional, for 'retryable': true when the origin answered, so the request is certainly no longer being
   * processed (e.g. a 500/503 from Sekoia itself). Absent = it may still be in flight (timeout, reset, 502/504
   * from a proxy): the value is then left alone until the write horizon has passed.
   */
  answered?: boolean;
  message?: string;
}

const POLICIES: ReadonlySet<string> = new Set([
  'retryable',
  'rate-limited',
  'rejected',
  'configuration',
  'not-found',
]);

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

/** A policy-carrying error, for tests and adapters. */
export class SekoiaPolicyError extends Error implements PolicyError {
  constructor(
    message: string,
    readonly policy: ErrorPolicy,
    readonly retryAfterMs?: number,
    readonly answered?: boolean,
  ) {
    super(message);
    this.name = 'SekoiaPolicyError';
  }
}

/** The budget the engine takes a token from before every request (RequestBudget, or a no-op). */
export interface Budget {
  take(signal?: AbortSignal): Promise<void>;
  pause(ms: number): Promise<void>;
}

export const unlimitedBudget: Budget = {
  take: async () => {},
  pause: async () => {},
};
