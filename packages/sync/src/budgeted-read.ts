// A collection read under the shared request budget, and its one-line summary: the worker's collection watcher
// and `cli adopt` run the same read (the CLI, a leaf, takes it from here rather than from the worker).

import { policyOf } from '@octi-sekoia/sekoia/errors';
import type {
  CollectionReads,
  CollectionSource,
  ReadInfo,
  ReadOptions,
  ReadResult,
} from './collection-reads.ts';
import type { Budget } from './port.ts';

/** Budget pause after a 429 / WAF block without Retry-After. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 30_000;

/**
 * Runs a collection read of generation G; a rate-limited error (429 / WAF block: the Sekoia client's
 * RateLimitedError carries that policy, packages/sekoia/src/errors.ts) pauses the shared budget before the error is rethrown
 * (the caller retries the read later: what was recorded stays valid).
 */
export async function readWithBudget(
  reads: CollectionReads,
  generation: number,
  client: CollectionSource,
  budget: Budget,
  opts: ReadOptions,
): Promise<ReadResult> {
  try {
    return await reads.read(generation, { listAll: (onPage) => client.listAll(onPage) }, opts);
  } catch (err) {
    const p = policyOf(err);
    if (p.policy === 'rate-limited')
      await budget.pause(p.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS).catch(() => undefined);
    throw err;
  }
}

export function describeRead(info: ReadInfo): string {
  return (
    `${info.indicators} indicators listed (${info.live} live, ${info.values} values, ${info.duplicates} duplicate ids): ` +
    `${info.trusted} adopted as they are, ${info.confirmed} confirmed, ${info.refreshed} with other attributes, ` +
    `${info.unsure} to search`
  );
}
