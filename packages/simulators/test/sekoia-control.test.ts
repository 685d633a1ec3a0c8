import { join } from 'node:path';
import { startProcess } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { benchSekoiaSimulator } from '../bench/sekoia-sim.bench.ts';
import type { SekoiaSimulator } from '../src/sekoia/index.ts';
import { call, control, createBatch, startSim, T0 } from './sekoia-helpers.ts';

let sim: SekoiaSimulator;
afterEach(async () => {
  await sim?.close();
});

describe('inspection and control over HTTP', () => {
  it('full collection state, live values, counters and their reset', async () => {
    sim = await startSim();
    const items = (await createBatch(sim, ['203.0.113.1', '203.0.113.2'], { description: 'd' })).body.items;
    await call(sim, 'DELETE', `${sim.collectionId}/indicators/${items[0].id}`);
    await call(sim, 'GET', 'ioc-collection--nope');

    const state = await control(sim, 'GET', `collections/${sim.collectionId}/indicators`);
    expect(state.status).toBe(200);
    expect(state.body).toHaveLength(2);
    expect(state.body[0]).toMatchObject({
      id: items[0].id,
      name: '203.0.113.1',
      canonical: '203.0.113.1',
      pattern: "[ipv4-addr:value = '203.0.113.1']",
      description: 'd',
      revoked: true,
      revoked_at: new Date(T0).toISOString(),
      x_ic_collection_ref: sim.collectionId,
    });
    expect((await control(sim, 'GET', 'live-values')).body).toEqual(['203.0.113.2']);
    expect((await control(sim, 'GET', `collections/${sim.collectionId}/live-values`)).body).toEqual([
      '203.0.113.2',
    ]);
    expect((await control(sim, 'GET', `collections/${sim.collectionId}`)).body).toMatchObject({
      indicators_count: 1,
      deleted: false,
    });

    const counters = (await control(sim, 'GET', 'counters')).body;
    expect(counters['create-batch']).toEqual({ 200: 1 });
    expect(counters['revoke-indicator']).toEqual({ 200: 1 });
    expect(counters['get-collection']).toEqual({ 404: 1 });
    expect(sim.control.requestCount()).toBe(3);
    await control(sim, 'DELETE', 'counters');
    expect(sim.control.requestCount()).toBe(0);
    // Control calls are not counted.
    expect((await control(sim, 'GET', 'counters')).body['get-collection']).toEqual({});
  });

  it('keys, collections, clock, behaviour and clearing over HTTP', async () => {
    sim = await startSim();
    expect((await control(sim, 'POST', 'keys', { key: 'k2', manage: false })).status).toBe(200);
    expect((await call(sim, 'GET', sim.collectionId, undefined, { key: 'k2' })).status).toBe(200);
    expect((await createBatch(sim, ['203.0.113.1'])).status).toBe(200);
    await control(sim, 'POST', 'keys', { key: 'k2', revoked: true });
    expect((await call(sim, 'GET', sim.collectionId, undefined, { key: 'k2' })).status).toBe(401);
    expect((await control(sim, 'POST', 'keys', {})).status).toBe(400);

    const created = await control(sim, 'POST', 'collections', { name: 'second' });
    const id = created.body.id as string;
    expect((await call(sim, 'GET', id)).body.name).toBe('second');
    await control(sim, 'DELETE', `collections/${id}`);
    expect((await call(sim, 'GET', id)).status).toBe(404);

    const clock = await control(sim, 'POST', 'clock', { advanceMs: 3_600_000 });
    expect(clock.body.now).toBe(T0 + 3_600_000);
    await control(sim, 'POST', 'clock', { nowMs: T0 });
    expect(sim.control.now()).toBe(T0);

    expect((await control(sim, 'PATCH', 'behavior', { reimport: 'duplicate' })).body.reimport).toBe(
      'duplicate',
    );
    await createBatch(sim, ['203.0.113.1']);
    expect(sim.control.liveValues()).toEqual(['203.0.113.1', '203.0.113.1']);
    await control(sim, 'POST', 'clear');
    expect(sim.control.indicators()).toEqual([]);

    const st = (await control(sim, 'GET', 'state')).body;
    expect(st.behavior.reimport).toBe('duplicate');
    expect(st.collections.map((c: { id: string }) => c.id)).toContain(sim.collectionId);
    expect((await control(sim, 'GET', 'nope')).status).toBe(404);
  });
});

describe('standalone CLI', () => {
  it('starts on the given port with the given key and collection, prints its URL, stops on SIGTERM', async () => {
    const collection = 'ioc-collection--6f1c0a54-1111-4222-8333-944455556666';
    const proc = startProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '../src/sekoia/cli.ts'),
        '--port',
        '0',
        '--api-key',
        'cli-key',
        '--collection',
        collection,
        '--behavior',
        '{"reimport":"duplicate"}',
      ],
      { cwd: join(import.meta.dirname, '..') },
    );
    try {
      await proc.waitForOutput(/listening on (http:\/\/\S+)/);
      expect(proc.output()).not.toContain('cli-key');
      const url = /listening on (http:\/\/\S+)/.exec(proc.output())![1]!;
      const res = await fetch(`${url}/api/v2/inthreat/ioc-collections/${collection}`, {
        headers: { authorization: 'Bearer cli-key' },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(collection);
      const behavior = await (await fetch(`${url}/_sim/behavior`)).json();
      expect(behavior).toMatchObject({ reimport: 'duplicate' });
    } finally {
      proc.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });
});

describe('benchmark', () => {
  it('runs and reports requests per second (figures in the README, no timing assertion here)', async () => {
    const figures = await benchSekoiaSimulator({
      durationMs: 200,
      concurrency: 4,
      scenarios: ['get-collection', 'create-batch-1'],
    });
    expect(figures.map((f) => f.scenario)).toEqual(['get-collection', 'create-batch-1']);
    for (const f of figures) {
      expect(f.requests).toBeGreaterThan(0);
      expect(f.errors).toBe(0);
    }
  });
});
