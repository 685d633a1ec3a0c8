import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SekoiaClient } from '../src/client.ts';
import {
  ConfigurationError,
  NotFoundError,
  QuotaFullError,
  RateLimitedError,
  RejectedError,
  RetryableError,
  SekoiaError,
} from '../src/errors.ts';
import { rejection, SECRET_KEY, type Setup, setup } from './helpers.ts';

let s: Setup;
afterEach(async () => {
  await s?.close();
});

/** Every error produced in this file, checked at the end for the key. */
const collected: Error[] = [];
async function failure(p: Promise<unknown>): Promise<SekoiaError> {
  const err = await rejection(p);
  collected.push(err);
  expect(err).toBeInstanceOf(SekoiaError);
  return err as SekoiaError;
}

describe('RetryableError', () => {
  it('connection dropped after the request was applied (the batch exists)', async () => {
    s = await setup({ faults: { dropAfterRate: 1 } });
    const err = await failure(s.client.createBatch({}, [{ value: '203.0.113.9' }]));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.policy).toBe('retryable');
    expect(s.sim.control.liveValues()).toEqual(['203.0.113.9']);
    // The caller's recovery: an exact search finds what the lost answer created.
    s.sim.control.setFaults({ dropAfterRate: 0 });
    expect((await s.client.searchExact('203.0.113.9')).map((h) => h.revoked)).toEqual([false]);
  });

  it('connection dropped before the request was applied', async () => {
    s = await setup({ faults: { dropBeforeRate: 1 } });
    const err = await failure(s.client.revoke('indicator--x'));
    expect(err).toBeInstanceOf(RetryableError);
    // The socket closed without an answer: Node's reset code (the client's fallback would be 'network-error').
    expect((err as RetryableError).code).toBe('ECONNRESET');
  });

  it('connection refused', async () => {
    s = await setup();
    const url = s.sim.url;
    await s.sim.close();
    const c = new SekoiaClient({
      baseUrl: url,
      apiKey: SECRET_KEY,
      collectionId: 'ioc-collection--x',
      timeoutMs: 2000,
    });
    const err = await failure(c.getCollection());
    c.close();
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe('ECONNREFUSED');
  });

  it('timeout, including a body that trickles in', async () => {
    s = await setup(
      { faults: { rules: [{ route: 'get-collection', action: { kind: 'latency', ms: 30_000 } }] } },
      { timeoutMs: 300 },
    );
    const err = await failure(s.client.getCollection());
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe('timeout');
    s.sim.control.setFaults({
      rules: [{ route: 'get-collection', action: { kind: 'slow-body', chunkDelayMs: 2000 } }],
    });
    const slow = await failure(s.client.getCollection());
    expect((slow as RetryableError).code).toBe('timeout');
  });

  it('truncated body', async () => {
    s = await setup({ faults: { rules: [{ route: 'count-total-iocs', action: { kind: 'truncate' } }] } });
    expect(await failure(s.client.countTotalIocs())).toBeInstanceOf(RetryableError);
  });

  it.each([500, 502, 503, 504] as const)('HTTP %i (502 is an HTML page)', async (status) => {
    s = await setup({ faults: { errorRate: 1, errorStatuses: [status] } });
    const err = await failure(s.client.getCollection());
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.status).toBe(status);
  });
});

describe('RateLimitedError', () => {
  it('429 with Retry-After in seconds', async () => {
    s = await setup({
      faults: { rules: [{ action: { kind: 'rate-limit', retryAfter: 'seconds', seconds: 7 } }] },
    });
    const err = await failure(s.client.createBatch({}, [{ value: '203.0.113.9' }]));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({
      policy: 'rate-limited',
      status: 429,
      retryAfterMs: 7000,
      source: 'rate-limit',
    });
  });

  it('429 with Retry-After as an HTTP date', async () => {
    s = await setup({
      faults: { rules: [{ action: { kind: 'rate-limit', retryAfter: 'date', seconds: 30 } }] },
    });
    const err = (await failure(s.client.getCollection())) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.retryAfterMs).toBeLessThanOrEqual(31_000);
  });

  it('429 without Retry-After, from the token bucket', async () => {
    s = await setup({ faults: { rateLimit: { rps: 0.01, burst: 1, retryAfter: 'none' } } });
    await s.client.getCollection();
    const err = (await failure(s.client.getCollection())) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBeUndefined();
  });

  it('a WAF 403 (HTML page) is a rate limit; a real 403 (JSON) is a configuration error', async () => {
    s = await setup({
      keys: [{ key: 'view-only-key', manage: false }],
      faults: { waf: { status: 403, maxRps: 1000, maxErrorsPer5s: 1, blockMs: 600_000 } },
    });
    const viewOnly = new SekoiaClient({
      baseUrl: s.sim.url,
      apiKey: 'view-only-key',
      collectionId: s.sim.collectionId,
      timeoutMs: 5000,
    });
    try {
      const real = await failure(viewOnly.revoke('indicator--x'));
      expect(real).toBeInstanceOf(ConfigurationError);
      expect(real).toMatchObject({ reason: 'forbidden', status: 403 });
      expect(real.message).toMatch(/Manage IOC collections/);
    } finally {
      viewOnly.close();
    }
    // One more error (a 404) pushes the WAF over its limit of 1 error per 5 s.
    await failure(s.client.edit('indicator--x', {}));
    const waf = (await failure(s.client.getCollection())) as RateLimitedError;
    expect(waf).toBeInstanceOf(RateLimitedError);
    expect(waf).toMatchObject({ status: 403, source: 'waf', policy: 'rate-limited' });
  });

  it('a WAF 429 block with Retry-After', async () => {
    s = await setup({
      faults: { waf: { status: 429, maxRps: 1, maxErrorsPer5s: 8, blockMs: 60_000, retryAfter: 'seconds' } },
    });
    const results = await Promise.allSettled([
      s.client.getCollection(),
      s.client.getCollection(),
      s.client.getCollection(),
    ]);
    const blocked = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    collected.push(blocked.reason);
    expect(blocked.reason).toBeInstanceOf(RateLimitedError);
    expect(blocked.reason).toMatchObject({ source: 'waf', status: 429 });
    expect(blocked.reason.retryAfterMs).toBeGreaterThan(0);
  });
});

describe('RejectedError', () => {
  it('400 on a batch with an undetectable value carries Sekoia’s message', async () => {
    s = await setup();
    const err = (await failure(
      s.client.createBatch({}, [{ value: '203.0.113.9' }, { value: 'not a value' }]),
    )) as RejectedError;
    expect(err).toBeInstanceOf(RejectedError);
    expect(err).toMatchObject({ policy: 'rejected', status: 400, sekoiaCode: 'INTHREAT4001' });
    expect(err.sekoiaMessage).toContain('not a value');
    expect(err.message).toContain('not a value');
  });

  it('400 on a long description (edit)', async () => {
    s = await setup();
    const [a] = await s.client.createBatch({}, [{ value: '203.0.113.9' }]);
    const err = await failure(s.client.edit(a!.id, { description: 'x'.repeat(501) }));
    expect(err).toBeInstanceOf(RejectedError);
  });
});

describe('QuotaFullError', () => {
  it('a refused create with the community quota used up', async () => {
    s = await setup({ behavior: { quotaMax: 2 } });
    await s.client.createBatch({}, [{ value: '10.0.0.1' }, { value: '10.0.0.2' }]);
    const err = (await failure(s.client.createBatch({}, [{ value: '10.0.0.3' }]))) as QuotaFullError;
    expect(err).toBeInstanceOf(QuotaFullError);
    expect(err).toMatchObject({ policy: 'quota-full', count: 2, max: 2 });
  });

  it('per-collection quota: a community count above max means the collection’s own count decides', async () => {
    s = await setup({ behavior: { quotaMax: 2, quotaScope: 'collection', quotaOverflowStatus: 403 } });
    const other = s.sim.control.createCollection();
    const otherClient = new SekoiaClient({
      baseUrl: s.sim.url,
      apiKey: SECRET_KEY,
      collectionId: other,
      timeoutMs: 5000,
    });
    await otherClient.createBatch({}, [{ value: '10.0.1.1' }, { value: '10.0.1.2' }]);
    otherClient.close();
    await s.client.createBatch({}, [{ value: '10.0.0.1' }]);
    // Community 3 > max 2, this collection 1 < 2: an invalid value is an ordinary rejection, not a full quota.
    expect(await failure(s.client.createBatch({}, [{ value: 'not a value' }]))).toBeInstanceOf(RejectedError);
    await s.client.createBatch({}, [{ value: '10.0.0.2' }]);
    const err = (await failure(s.client.createBatch({}, [{ value: '10.0.0.3' }]))) as QuotaFullError;
    expect(err).toBeInstanceOf(QuotaFullError);
    expect(err).toMatchObject({ count: 2, max: 2, status: 403 });
  });

  it('quotaFull fault', async () => {
    s = await setup({ faults: { quotaFull: true } });
    expect(await failure(s.client.createBatch({}, [{ value: '10.0.0.1' }]))).toBeInstanceOf(QuotaFullError);
  });

  it('a batch that does not fit while room is left is an ordinary rejection (bisecting fits it)', async () => {
    s = await setup({ behavior: { quotaMax: 3 } });
    await s.client.createBatch({}, [{ value: '10.0.0.1' }]);
    const err = await failure(
      s.client.createBatch({}, [{ value: '10.0.0.2' }, { value: '10.0.0.3' }, { value: '10.0.0.4' }]),
    );
    expect(err).toBeInstanceOf(RejectedError);
    expect(await s.client.createBatch({}, [{ value: '10.0.0.2' }, { value: '10.0.0.3' }])).toHaveLength(2);
  });
});

describe('ConfigurationError', () => {
  it('401: revoked key, or every request refused', async () => {
    s = await setup();
    s.sim.control.revokeKey(SECRET_KEY);
    const err = await failure(s.client.getCollection());
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err).toMatchObject({ reason: 'unauthorized', policy: 'configuration', status: 401 });
    expect(err.message).toMatch(/SEKOIA_INTEL_APIKEY/);
    s.sim.control.setKey({ key: SECRET_KEY, revoked: false });
    s.sim.control.setFaults({ unauthorized: true });
    expect(await failure(s.client.createBatch({}, [{ value: '10.0.0.1' }]))).toMatchObject({
      reason: 'unauthorized',
    });
  });

  it('collection deleted: every operation says so in plain words', async () => {
    s = await setup();
    const [a] = await s.client.createBatch({}, [{ value: '10.0.0.1' }]);
    s.sim.control.deleteCollection();
    const ops = [
      s.client.getCollection(),
      s.client.createBatch({}, [{ value: '10.0.0.2' }]),
      s.client.searchExact('10.0.0.1'),
      s.client.listAll(() => undefined),
      s.client.edit(a!.id, { description: 'x' }),
      s.client.revoke(a!.id),
    ];
    for (const p of ops) {
      const err = await failure(p);
      expect(err).toBeInstanceOf(ConfigurationError);
      expect(err).toMatchObject({ reason: 'collection-not-found', status: 404 });
      expect(err.message).toBe('IOC collection not found: create it in Sekoia.io first');
    }
  });

  it('a wrong base URL is not mistaken for a missing indicator', async () => {
    s = await setup();
    const c = new SekoiaClient({
      baseUrl: `${s.sim.url}/wrong/prefix`,
      apiKey: SECRET_KEY,
      collectionId: s.sim.collectionId,
      timeoutMs: 5000,
    });
    try {
      const err = await failure(c.revoke('indicator--x'));
      expect(err).toMatchObject({ reason: 'collection-not-found' });
      expect(err.message).toMatch(/SEKOIA_INTEL_URL/);
      expect(await failure(c.countTotalIocs())).toMatchObject({ reason: 'unexpected-response' });
    } finally {
      c.close();
    }
  });

  it('an HTML answer with 200 (web app instead of API) is unexpected-response', async () => {
    s = await setup({
      faults: {
        rules: [
          { route: 'get-collection', action: { kind: 'status', status: 200, html: '<html>app</html>' } },
        ],
      },
    });
    expect(await failure(s.client.getCollection())).toMatchObject({
      reason: 'unexpected-response',
      status: 200,
    });
  });
});

describe('NotFoundError vs a deleted collection', () => {
  it('404 on an indicator with the collection present is NotFoundError (edit) / not-found (revoke)', async () => {
    s = await setup();
    const err = (await failure(
      s.client.edit('indicator--00000000-0000-4000-8000-000000000000', {}),
    )) as NotFoundError;
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({
      policy: 'not-found',
      indicatorId: 'indicator--00000000-0000-4000-8000-000000000000',
    });
    expect(await s.client.revoke('indicator--00000000-0000-4000-8000-000000000000')).toBe('not-found');
  });

  it('404 on an indicator with the collection gone (fault) is ConfigurationError', async () => {
    s = await setup();
    const [a] = await s.client.createBatch({}, [{ value: '10.0.0.1' }]);
    s.sim.control.setFaults({ collectionGone: true });
    expect(await failure(s.client.revoke(a!.id))).toMatchObject({ reason: 'collection-not-found' });
    s.sim.control.setFaults({ collectionGone: false });
    expect(await s.client.revoke(a!.id)).toBe('revoked');
  });

  it('an error of the disambiguating GET is the one thrown', async () => {
    s = await setup({
      faults: { rules: [{ route: 'get-collection', action: { kind: 'server-error', status: 503 } }] },
    });
    const err = await failure(s.client.revoke('indicator--x'));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err).toMatchObject({ status: 503, operation: 'getCollection' });
  });
});

describe('the API key never leaks', () => {
  it('appears in no message, stack, JSON or inspection of any error above', () => {
    expect(collected.length).toBeGreaterThan(25);
    for (const err of collected) {
      for (const text of [
        err.message,
        String(err),
        err.stack ?? '',
        JSON.stringify(err),
        inspect(err, { depth: 10 }),
      ]) {
        expect(text).not.toContain(SECRET_KEY);
      }
      const json = JSON.parse(JSON.stringify(err));
      expect(json).toMatchObject({ name: err.name, message: err.message, policy: expect.any(String) });
      for (const k of ['config', 'headers', 'request', 'response', 'cause'])
        expect(json).not.toHaveProperty(k);
    }
  });
});
