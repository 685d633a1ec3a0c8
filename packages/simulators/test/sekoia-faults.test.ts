import { afterEach, describe, expect, it } from 'vitest';
import type { SekoiaSimulator } from '../src/sekoia/index.ts';
import { COLLECTION_NOT_FOUND } from './sekoia-fixtures.ts';
import { call, control, createBatch, startSim } from './sekoia-helpers.ts';

let sim: SekoiaSimulator;
afterEach(async () => {
  await sim?.close();
});

const get = () => call(sim, 'GET', sim.collectionId);

/** The outcome of a request that may end without an answer. */
async function attempt(fn: () => Promise<{ status: number }>): Promise<number | 'network-error'> {
  try {
    return (await fn()).status;
  } catch {
    return 'network-error';
  }
}

describe('latency', () => {
  it('a latency rule on one route makes a short client timeout fire; other routes answer', async () => {
    sim = await startSim({
      faults: { rules: [{ route: 'get-collection', action: { kind: 'latency', ms: 30_000 } }] },
    });
    const slow = await attempt(() =>
      call(sim, 'GET', sim.collectionId, undefined, { signal: AbortSignal.timeout(200) }),
    );
    expect(slow).toBe('network-error');
    expect((await call(sim, 'GET', 'count-total-iocs')).status).toBe(200);
  });

  it('global latency and jitter are set at run time (handle and HTTP)', async () => {
    sim = await startSim();
    sim.control.setFaults({ latencyMs: 5, jitterMs: 5 });
    expect((await get()).status).toBe(200);
    const r = await control(sim, 'PATCH', 'faults', { latencyMs: 30_000 });
    expect(r.body.latencyMs).toBe(30_000);
    expect(
      await attempt(() =>
        call(sim, 'GET', sim.collectionId, undefined, { signal: AbortSignal.timeout(200) }),
      ),
    ).toBe('network-error');
    await control(sim, 'DELETE', 'faults');
    expect((await get()).status).toBe(200);
  });
});

describe('rate limit (token bucket)', () => {
  it('429 with Retry-After in seconds once the bucket is empty', async () => {
    sim = await startSim({ faults: { rateLimit: { rps: 0.01, burst: 2 } } });
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(200);
    const r = await get();
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(sim.control.requestCount('get-collection', 429)).toBe(1);
  });

  it('Retry-After as an HTTP date', async () => {
    sim = await startSim({ faults: { rateLimit: { rps: 0.01, burst: 1, retryAfter: 'date' } } });
    await get();
    const r = await get();
    expect(r.status).toBe(429);
    const date = r.headers.get('retry-after')!;
    expect(date).toMatch(/GMT$/);
    expect(Date.parse(date)).toBeGreaterThan(Date.now());
  });

  it('without Retry-After', async () => {
    sim = await startSim({ faults: { rateLimit: { rps: 0.01, burst: 1, retryAfter: 'none' } } });
    await get();
    const r = await get();
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBeNull();
  });
});

describe('WAF', () => {
  it('blocks with an HTML 403 after more than X requests per second; an API 403 is JSON', async () => {
    sim = await startSim({
      keys: [{ key: 'view-only', manage: false }],
      faults: { waf: { status: 403, maxRps: 5, maxErrorsPer5s: 1000, blockMs: 600_000 } },
    });
    const api403 = await call(sim, 'POST', `${sim.collectionId}/indicators`, {}, { key: 'view-only' });
    expect(api403.status).toBe(403);
    expect(api403.headers.get('content-type')).toContain('application/json');
    expect(api403.body.message).toMatch(/permission/);
    // A burst well over the threshold (concurrent, so it lands within one second).
    const burst = await Promise.all(Array.from({ length: 20 }, () => get()));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 403).length).toBeGreaterThanOrEqual(15);
    const blocked = await get();
    expect(blocked.status).toBe(403);
    expect(blocked.headers.get('content-type')).toContain('text/html');
    expect(blocked.body).toBeUndefined();
    expect(blocked.text).toContain('Request blocked');
  });

  it('blocks with 429 after more than 8 errors in 5 s', async () => {
    sim = await startSim({
      faults: { waf: { status: 429, maxRps: 10_000, maxErrorsPer5s: 8, blockMs: 600_000 } },
    });
    const errors = await Promise.all(
      Array.from({ length: 9 }, () => call(sim, 'GET', 'ioc-collection--nope')),
    );
    expect(errors.map((e) => e.status)).toEqual(Array(9).fill(404));
    const r = await get();
    expect(r.status).toBe(429);
    expect(r.headers.get('content-type')).toContain('text/html');
  });
});

describe('server errors and dropped connections', () => {
  it('5xx with probability; 502 is an HTML gateway page, the others JSON', async () => {
    sim = await startSim({ faults: { errorRate: 1, errorStatuses: [502] } });
    const r = await get();
    expect(r.status).toBe(502);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.text).toContain('502 Bad Gateway');
    sim.control.setFaults({ errorStatuses: [500, 503, 504] });
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const a = await get();
      expect(a.body).toHaveProperty('message');
      seen.add(a.status);
    }
    expect([...seen].sort()).toEqual([500, 503, 504]);
  });

  it('the same seed gives the same faults', async () => {
    const run = async (seed: number) => {
      sim = await startSim({ seed, faults: { errorRate: 0.5 } });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await get()).status);
      await sim.close();
      return out;
    };
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(1);
  });

  it('drop before applying: no answer and nothing stored', async () => {
    sim = await startSim({ faults: { dropBeforeRate: 1 } });
    expect(await attempt(() => createBatch(sim, ['203.0.113.9']))).toBe('network-error');
    expect(sim.control.liveValues()).toEqual([]);
    expect(sim.control.requestCount('create-batch', 'drop-before')).toBe(1);
  });

  it('drop after applying: no answer but the batch is stored (a retry would duplicate it)', async () => {
    sim = await startSim({ behavior: { reimport: 'duplicate' }, faults: { dropAfterRate: 1 } });
    expect(await attempt(() => createBatch(sim, ['203.0.113.9']))).toBe('network-error');
    expect(sim.control.liveValues()).toEqual(['203.0.113.9']);
    sim.control.setFaults({ dropAfterRate: 0 });
    expect((await createBatch(sim, ['203.0.113.9'])).status).toBe(200);
    expect(sim.control.liveValues()).toEqual(['203.0.113.9', '203.0.113.9']);
    expect(sim.control.counters()['create-batch']).toEqual({ 'drop-after': 1, 200: 1 });
  });

  it('rules are per route and per Nth call, and stop after `times`', async () => {
    sim = await startSim({
      faults: {
        rules: [
          { route: 'create-batch', nth: [2], action: { kind: 'drop', when: 'after' } },
          { route: ['revoke-indicator'], times: 1, action: { kind: 'server-error', status: 503 } },
          { route: 'list-indicators', action: { kind: 'rate-limit', retryAfter: 'seconds', seconds: 7 } },
        ],
      },
    });
    expect(await attempt(() => createBatch(sim, ['10.0.0.1']))).toBe(200);
    expect(await attempt(() => createBatch(sim, ['10.0.0.2']))).toBe('network-error');
    expect(await attempt(() => createBatch(sim, ['10.0.0.3']))).toBe(200);
    expect(sim.control.liveValues()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    const id = sim.control.indicators()[0]!.id;
    expect((await call(sim, 'DELETE', `${sim.collectionId}/indicators/${id}`)).status).toBe(503);
    expect((await call(sim, 'DELETE', `${sim.collectionId}/indicators/${id}`)).status).toBe(200);
    const limited = await call(sim, 'GET', `${sim.collectionId}/indicators`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect((await get()).status).toBe(200);
  });

  it('rules with a probability and custom statuses', async () => {
    sim = await startSim({
      faults: {
        rules: [
          { route: 'get-collection', action: { kind: 'status', status: 418, body: { message: 'teapot' } } },
        ],
      },
    });
    const r = await get();
    expect(r.status).toBe(418);
    expect(r.body).toEqual({ message: 'teapot' });
    sim.control.setFaults({
      rules: [{ route: 'get-collection', probability: 0, action: { kind: 'server-error', status: 500 } }],
    });
    expect((await get()).status).toBe(200);
  });

  it('truncated bodies fail the read; slow bodies arrive complete', async () => {
    sim = await startSim({ faults: { rules: [{ route: 'create-batch', action: { kind: 'truncate' } }] } });
    expect(await attempt(() => createBatch(sim, ['203.0.113.9']))).toBe('network-error');
    expect(sim.control.liveValues()).toEqual(['203.0.113.9']);
    sim.control.setFaults({
      rules: [{ route: 'create-batch', action: { kind: 'slow-body', chunkDelayMs: 5 } }],
    });
    const r = await createBatch(sim, ['203.0.113.10']);
    expect(r.status).toBe(200);
    expect(r.body.items[0].name).toBe('203.0.113.10');
  });
});

describe('configuration faults', () => {
  it('every request 401 while unauthorized is set', async () => {
    sim = await startSim();
    sim.control.setFaults({ unauthorized: true });
    expect((await get()).status).toBe(401);
    expect((await call(sim, 'GET', 'count-total-iocs')).status).toBe(401);
    sim.control.setFaults({ unauthorized: false });
    expect((await get()).status).toBe(200);
  });

  it('collectionGone: 404 INTHREAT2500 everywhere, state kept when it comes back', async () => {
    sim = await startSim();
    await createBatch(sim, ['203.0.113.9']);
    await control(sim, 'PATCH', 'faults', { collectionGone: true });
    const r = await call(sim, 'GET', `${sim.collectionId}/indicators`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual(COLLECTION_NOT_FOUND);
    expect((await get()).body).toEqual(COLLECTION_NOT_FOUND);
    await control(sim, 'PATCH', 'faults', { collectionGone: false });
    expect((await get()).body.indicators_count).toBe(1);
  });

  it('rejectRevoke: DELETE of a matched id or value is refused, others are revoked, force deletion unaffected', async () => {
    sim = await startSim();
    const items = (await createBatch(sim, ['203.0.113.7', 'Evil.Example', '203.0.113.8'])).body.items;
    sim.control.setFaults({ rejectRevoke: { match: [items[0].id, 'evil.example'], status: 422 } });
    const del = (id: string) => call(sim, 'DELETE', `${sim.collectionId}/indicators/${id}`);
    for (const it of items.slice(0, 2)) {
      const r = await del(it.id);
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('INTHREAT4005');
    }
    expect((await del(items[2].id)).status).toBe(200);
    expect(sim.control.liveValues().sort()).toEqual(['203.0.113.7', 'evil.example']);
    sim.control.resetFaults();
    expect((await del(items[0].id)).status).toBe(200);
  });

  it('quotaFull: creates refused, count = max, revokes and edits go on', async () => {
    sim = await startSim();
    const id = (await createBatch(sim, ['203.0.113.9'])).body.items[0].id;
    sim.control.setFaults({ quotaFull: true });
    const r = await createBatch(sim, ['203.0.113.10']);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INTHREAT4013');
    expect((await call(sim, 'GET', 'count-total-iocs')).body).toEqual({ count: 500000, max: 500000 });
    expect(
      (await call(sim, 'PUT', `${sim.collectionId}/indicators/${id}`, { description: 'x' })).status,
    ).toBe(200);
    expect((await call(sim, 'DELETE', `${sim.collectionId}/indicators/${id}`)).status).toBe(200);
  });
});
