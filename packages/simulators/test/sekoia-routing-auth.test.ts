import { afterEach, describe, expect, it } from 'vitest';
import type { SekoiaSimulator } from '../src/sekoia/index.ts';
import { COLLECTION_NOT_FOUND } from './sekoia-fixtures.ts';
import { call, createBatch, startSim } from './sekoia-helpers.ts';

let sim: SekoiaSimulator;
afterEach(async () => {
  await sim?.close();
});

describe('routing', () => {
  it('serves /v2/inthreat/… and /api/v2/inthreat/… with the CollectionSchema', async () => {
    sim = await startSim();
    await createBatch(sim, ['203.0.113.9', 'evil.example']);
    for (const prefix of ['/v2/inthreat/ioc-collections', '/api/v2/inthreat/ioc-collections']) {
      const r = await call(sim, 'GET', `${prefix}/${sim.collectionId}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('application/json');
      expect(r.body).toMatchObject({
        id: sim.collectionId,
        name: expect.any(String),
        description: expect.any(String),
        created: expect.any(String),
        modified: expect.any(String),
        created_by: expect.any(String),
        modified_by: expect.any(String),
        community_uuid: expect.any(String),
        available_for_sub_communities: false,
        indicators_count: 2,
      });
    }
    expect(sim.collectionId).toMatch(/^ioc-collection--[0-9a-f-]{36}$/);
  });

  it('answers 404 on unknown paths and 405 on a wrong method', async () => {
    sim = await startSim();
    expect((await call(sim, 'GET', '/v1/whatever')).status).toBe(404);
    expect((await call(sim, 'GET', `${sim.collectionId}/unknown`)).status).toBe(404);
    expect((await call(sim, 'POST', sim.collectionId, {})).status).toBe(405);
    expect((await call(sim, 'DELETE', `${sim.collectionId}/indicators`)).status).toBe(405);
  });

  it('answers 400 on malformed JSON', async () => {
    sim = await startSim();
    const r = await call(sim, 'POST', `${sim.collectionId}/indicators`, undefined, {
      raw: '{"default_fields":',
    });
    expect(r.status).toBe(400);
  });
});

describe('auth', () => {
  it('401 without a key, with an unknown key, a revoked key or an expired key; the key is never echoed', async () => {
    sim = await startSim({ keys: [{ key: 'rotating-key', expiresAt: Date.parse('2026-06-02T00:00:00Z') }] });
    const path = sim.collectionId;
    expect((await call(sim, 'GET', path, undefined, { key: null })).status).toBe(401);
    const unknown = await call(sim, 'GET', path, undefined, { key: 'not-a-key-123' });
    expect(unknown.status).toBe(401);
    expect(unknown.text).not.toContain('not-a-key-123');

    expect((await call(sim, 'GET', path, undefined, { key: 'rotating-key' })).status).toBe(200);
    sim.control.advanceClock(24 * 3_600_000);
    expect((await call(sim, 'GET', path, undefined, { key: 'rotating-key' })).status).toBe(401);

    expect((await call(sim, 'GET', path)).status).toBe(200);
    sim.control.revokeKey(sim.apiKey);
    const revoked = await call(sim, 'GET', path);
    expect(revoked.status).toBe(401);
    expect(revoked.text).not.toContain(sim.apiKey);
  });

  it('403 when the key lacks the permission: reads need view, writes need manage', async () => {
    sim = await startSim({
      keys: [
        { key: 'view-only', view: true, manage: false },
        { key: 'manage-only', view: false, manage: true },
      ],
    });
    const c = sim.collectionId;
    expect((await call(sim, 'GET', c, undefined, { key: 'view-only' })).status).toBe(200);
    expect((await call(sim, 'GET', `${c}/indicators`, undefined, { key: 'view-only' })).status).toBe(200);
    expect((await call(sim, 'GET', 'count-total-iocs', undefined, { key: 'view-only' })).status).toBe(200);
    const denied = await call(
      sim,
      'POST',
      `${c}/indicators`,
      { default_fields: {}, indicators: [{ value: '203.0.113.9' }] },
      { key: 'view-only' },
    );
    expect(denied.status).toBe(403);
    expect(denied.body.message).toMatch(/Manage IOC collections/);
    expect(sim.control.liveValues()).toEqual([]);
    expect((await call(sim, 'PUT', `${c}/indicators/indicator--x`, {}, { key: 'view-only' })).status).toBe(
      403,
    );
    expect(
      (await call(sim, 'DELETE', `${c}/indicators/indicator--x`, undefined, { key: 'view-only' })).status,
    ).toBe(403);
    expect((await call(sim, 'GET', c, undefined, { key: 'manage-only' })).status).toBe(403);
    const created = await call(
      sim,
      'POST',
      `${c}/indicators`,
      { default_fields: {}, indicators: [{ value: '203.0.113.9' }] },
      { key: 'manage-only' },
    );
    expect(created.status).toBe(200);
  });
});

describe('collections', () => {
  it('a bare UUID is 404 by default and resolved with bareUuid=accept', async () => {
    sim = await startSim();
    const bare = sim.collectionId.slice('ioc-collection--'.length);
    const r = await call(sim, 'GET', bare);
    expect(r.status).toBe(404);
    expect(r.body).toEqual(COLLECTION_NOT_FOUND);
    sim.control.setBehavior({ bareUuid: 'accept' });
    const ok = await call(sim, 'GET', bare);
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(sim.collectionId);
    expect((await createBatch(sim, ['203.0.113.9'], {}, bare)).body.items[0].x_ic_collection_ref).toBe(
      sim.collectionId,
    );
  });

  it('an unknown collection is 404 INTHREAT2500', async () => {
    sim = await startSim();
    const r = await call(sim, 'GET', 'ioc-collection--00000000-0000-4000-8000-000000000000/indicators');
    expect(r.status).toBe(404);
    expect(r.body).toEqual(COLLECTION_NOT_FOUND);
  });

  it('after deletion every subroute answers 404 {"message":"IOC Collection not found","code":"INTHREAT2500"}', async () => {
    sim = await startSim();
    const c = sim.collectionId;
    const id = (await createBatch(sim, ['203.0.113.9'])).body.items[0].id;
    sim.control.deleteCollection();
    const answers = await Promise.all([
      call(sim, 'GET', c),
      call(sim, 'GET', `${c}/indicators?term=203`),
      call(sim, 'POST', `${c}/indicators`, { default_fields: {}, indicators: [{ value: '203.0.113.10' }] }),
      call(sim, 'POST', `${c}/indicators/text`, { indicators: '203.0.113.11' }),
      call(sim, 'DELETE', `${c}/indicators/${id}`),
      call(sim, 'PUT', `${c}/indicators/${id}`, { description: 'x' }),
    ]);
    for (const a of answers) {
      expect(a.status).toBe(404);
      expect(a.body).toEqual(COLLECTION_NOT_FOUND);
    }
  });

  it('several collections are independent', async () => {
    sim = await startSim();
    const other = sim.control.createCollection({ name: 'other' });
    await createBatch(sim, ['203.0.113.9']);
    await createBatch(sim, ['evil.example'], {}, other);
    expect(sim.control.liveValues()).toEqual(['203.0.113.9']);
    expect(sim.control.liveValues(other)).toEqual(['evil.example']);
  });
});

describe('count-total-iocs and quota', () => {
  it('returns {count,max}; default max 500000; community scope counts every collection', async () => {
    sim = await startSim();
    const other = sim.control.createCollection();
    await createBatch(sim, ['203.0.113.9', 'evil.example']);
    await createBatch(sim, ['bad@evil.example'], {}, other);
    const r = await call(sim, 'GET', 'count-total-iocs');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ count: 3, max: 500000 });
  });

  it('community scope: a full community refuses creates in any collection (default 400, INTHREAT code)', async () => {
    sim = await startSim({ behavior: { quotaMax: 3 } });
    const other = sim.control.createCollection();
    expect((await createBatch(sim, ['203.0.113.1', '203.0.113.2'], {}, other)).status).toBe(200);
    const r = await createBatch(sim, ['203.0.113.3', '203.0.113.4']);
    expect(r.status).toBe(400);
    expect(r.body.code).toMatch(/^INTHREAT\d+$/);
    expect(r.body.code).toBe('INTHREAT4013');
    expect(sim.control.liveValues()).toEqual([]);
    expect((await createBatch(sim, ['203.0.113.3'])).status).toBe(200);
    expect((await call(sim, 'GET', 'count-total-iocs')).body).toEqual({ count: 3, max: 3 });
  });

  it('collection scope: each collection has its own quota', async () => {
    sim = await startSim({ behavior: { quotaMax: 2, quotaScope: 'collection' } });
    const other = sim.control.createCollection();
    expect((await createBatch(sim, ['203.0.113.1', '203.0.113.2'], {}, other)).status).toBe(200);
    expect((await createBatch(sim, ['203.0.113.3', '203.0.113.4'])).status).toBe(200);
    expect((await createBatch(sim, ['203.0.113.5'])).status).toBe(400);
    // Documented as a community total: it still sums every collection.
    expect((await call(sim, 'GET', 'count-total-iocs')).body).toEqual({ count: 4, max: 2 });
  });

  it('overflow status is configurable', async () => {
    sim = await startSim({ behavior: { quotaMax: 1, quotaOverflowStatus: 403 } });
    await createBatch(sim, ['203.0.113.1']);
    const r = await createBatch(sim, ['203.0.113.2']);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('INTHREAT4013');
  });

  it('revoking frees space unless quotaCountsRevoked', async () => {
    sim = await startSim({ behavior: { quotaMax: 1 } });
    const id = (await createBatch(sim, ['203.0.113.1'])).body.items[0].id;
    expect((await createBatch(sim, ['203.0.113.2'])).status).toBe(400);
    await call(sim, 'DELETE', `${sim.collectionId}/indicators/${id}`);
    expect((await call(sim, 'GET', 'count-total-iocs')).body.count).toBe(0);
    expect((await createBatch(sim, ['203.0.113.2'])).status).toBe(200);

    sim.control.setBehavior({ quotaCountsRevoked: true, quotaMax: 2 });
    expect((await call(sim, 'GET', 'count-total-iocs')).body).toEqual({ count: 2, max: 2 });
    expect((await createBatch(sim, ['203.0.113.3'])).status).toBe(400);
  });

  it('re-importing existing values uses no quota', async () => {
    sim = await startSim({ behavior: { quotaMax: 2 } });
    await createBatch(sim, ['203.0.113.1', '203.0.113.2']);
    expect((await createBatch(sim, ['203.0.113.1', '203.0.113.2'], { description: 'again' })).status).toBe(
      200,
    );
  });
});
