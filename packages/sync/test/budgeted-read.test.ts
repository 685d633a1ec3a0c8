import { RateLimitedError, RetryableError } from '@octi-sekoia/sekoia';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CollectionSource } from '../src/collection-reads.ts';
import { CollectionReads, describeRead, RequestBudget, readWithBudget } from '../src/index.ts';

/** A collection whose listing fails with `err` (the Sekoia client's own error classes). */
const failing = (err: Error): CollectionSource => ({
  listAll: async () => {
    throw err;
  },
});

describe('readWithBudget (the collection read of the worker and of cli adopt)', () => {
  let r: TestRedis;
  let reads: CollectionReads;
  let budget: RequestBudget;
  beforeEach(async () => {
    r = await testRedis('budgeted-read');
    reads = new CollectionReads(r.connect(), { keyPrefix: r.prefix, connectorId: 'c1' });
    budget = new RequestBudget(r.connect(), {
      keyPrefix: r.prefix,
      host: 'api.sekoia.io',
      apiKey: 'sk-test-budgeted-read',
      ratePerSecond: 50,
      burst: 3,
    });
  });
  afterEach(async () => {
    await r.cleanup();
  });

  it("a 429 from Sekoia pauses the shared budget for its Retry-After, and the read's error reaches the caller", async () => {
    const err = new RateLimitedError('429', {
      operation: 'listAll',
      status: 429,
      retryAfterMs: 60_000,
      source: 'rate-limit',
    });
    await expect(readWithBudget(reads, 1, failing(err), budget, { by: 'test' })).rejects.toBe(err);
    // Set to 60 s a moment ago: more than half of it is left whatever the machine's load.
    expect(await budget.pausedForMs()).toBeGreaterThan(30_000);
  });

  it('another failure leaves the budget alone', async () => {
    const err = new RetryableError('socket hang up', { operation: 'listAll', code: 'ECONNRESET' });
    await expect(readWithBudget(reads, 1, failing(err), budget, { by: 'test' })).rejects.toBe(err);
    expect(await budget.pausedForMs()).toBe(0);
  });

  it('a read that succeeds is described in one line', async () => {
    const ok: CollectionSource = { listAll: async () => 0 };
    const result = await readWithBudget(reads, 1, ok, budget, { by: 'test' });
    expect(result.kind).toBe('read');
    if (result.kind === 'read')
      expect(describeRead(result.info)).toMatch(/^0 indicators listed \(0 live, 0 values/);
  });
});
