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
  /**
   * DELETE …/indicators/{id}: 404 for the indicator is 'not-found' (already gone); a gone collection throws.
   * `value`: given when the value is not desired any more (this revoke takes it out of Sekoia, it does not only
   * drop a duplicate), so the adapter forgets what it reported about the value (the worker's approximations).
   */
  revoke(id: string, value?: string): Promise<'revoked' | 'not-found'>;
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

/** The budget the engine takes a token from before every request (RequestBudget, or a no-op). */
export interface Budget {
  take(signal?: AbortSignal): Promise<void>;
  pause(ms: number): Promise<void>;
}

export const unlimitedBudget: Budget = {
  take: async () => {},
  pause: async () => {},
};
