import { afterEach, describe, expect, it } from 'vitest';
import type { SekoiaSimulator } from '../src/sekoia/index.ts';
import { SEARCH_EXAMPLE } from './sekoia-fixtures.ts';
import { call, createBatch, startSim } from './sekoia-helpers.ts';

let sim: SekoiaSimulator;
afterEach(async () => {
  await sim?.close();
});

const list = (query: string) => call(sim, 'GET', `${sim.collectionId}/indicators?${query}`);
const del = (id: string, body?: unknown) => call(sim, 'DELETE', `${sim.collectionId}/indicators/${id}`, body);
const put = (id: string, body: unknown) => call(sim, 'PUT', `${sim.collectionId}/indicators/${id}`, body);

describe('GET /{id}/indicators', () => {
  it('term is a substring of the pattern: the reference example also hits longer values', async () => {
    sim = await startSim();
    await createBatch(sim, ['198.51.100.7', '198.51.100.70', '198.51.100.8', '1198.51.100.7.example']);
    const r = await list(SEARCH_EXAMPLE.query);
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { name: string }) => i.name).sort()).toEqual([
      '1198.51.100.7.example',
      '198.51.100.7',
      '198.51.100.70',
    ]);
    expect(r.body.total).toBe(3);
    expect(r.body.has_more).toBe(false);
    // Matching is on the pattern, so a type name matches too.
    expect((await list('term=domain-name')).body.total).toBe(1);
  });

  it('limit defaults to 20 and must be 1..100; offset pages; total and has_more', async () => {
    sim = await startSim();
    const values = Array.from({ length: 45 }, (_, i) => `10.0.0.${i + 1}`);
    await createBatch(sim, values);
    const first = await list('');
    expect(first.body.items).toHaveLength(20);
    expect(first.body).toMatchObject({ total: 45, has_more: true });
    const last = await list('limit=20&offset=40');
    expect(last.body.items).toHaveLength(5);
    expect(last.body.has_more).toBe(false);
    const seen: string[] = [];
    for (let offset = 0; ; offset += 7) {
      const page = await list(`term=10.0.0.&limit=7&offset=${offset}`);
      seen.push(...page.body.items.map((i: { name: string }) => i.name));
      if (!page.body.has_more) break;
    }
    expect(seen).toEqual(values);
    expect((await list('limit=100')).body.items).toHaveLength(45);
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'offset=-1', 'offset=1.5']) {
      expect((await list(q)).status).toBe(400);
    }
    expect((await list('offset=1000')).body).toEqual({ items: [], total: 45, has_more: false });
  });

  it('lists revoked indicators by default; listRevoked=false hides them', async () => {
    sim = await startSim();
    const items = (await createBatch(sim, ['203.0.113.1', '203.0.113.2'])).body.items;
    await del(items[0].id);
    const all = await list('term=203.0.113.');
    expect(all.body.items.map((i: { revoked: boolean }) => i.revoked)).toEqual([true, false]);
    sim.control.setBehavior({ listRevoked: false });
    const live = await list('term=203.0.113.');
    expect(live.body.items.map((i: { name: string }) => i.name)).toEqual(['203.0.113.2']);
    expect(live.body.total).toBe(1);
  });

  it('term is case-sensitive by default (switch) and URL-decoded', async () => {
    sim = await startSim();
    await createBatch(sim, ['http://evil.example/a?b=1&c=2#frag', 'Evil.Example']);
    expect((await list(`term=${encodeURIComponent('a?b=1&c=2#frag')}`)).body.total).toBe(1);
    expect((await list('term=evil.example')).body.total).toBe(1);
    sim.control.setBehavior({ termCaseSensitive: false });
    expect((await list('term=evil.example')).body.total).toBe(2);
  });
});

describe('DELETE /{id}/indicators/{id}', () => {
  it('revokes: 200 with revoked:true; the indicator stays, revoked', async () => {
    sim = await startSim();
    const item = (await createBatch(sim, ['203.0.113.9'])).body.items[0];
    const r = await del(item.id);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: item.id, name: '203.0.113.9', revoked: true });
    expect(sim.control.liveValues()).toEqual([]);
    expect(sim.control.indicators()[0]).toMatchObject({ revoked: true, revoked_at: expect.any(String) });
  });

  it('unknown id or an indicator of another collection: 404', async () => {
    sim = await startSim();
    const other = sim.control.createCollection();
    const foreign = (await createBatch(sim, ['203.0.113.9'], {}, other)).body.items[0];
    const r = await del('indicator--00000000-0000-4000-8000-000000000000');
    expect(r.status).toBe(404);
    expect(r.body.message).toBe('Unknown collection or indicator');
    expect((await del(foreign.id)).status).toBe(404);
    expect(sim.control.liveValues(other)).toEqual(['203.0.113.9']);
  });

  it('repeat revoke: 200 by default, 404 with the switch', async () => {
    sim = await startSim();
    const item = (await createBatch(sim, ['203.0.113.9'])).body.items[0];
    await del(item.id);
    const again = await del(item.id);
    expect(again.status).toBe(200);
    expect(again.body.revoked).toBe(true);
    sim.control.setBehavior({ repeatRevoke: 404 });
    expect((await del(item.id)).status).toBe(404);
  });

  it('force_deletion only 24 h after revocation, on the simulator clock', async () => {
    sim = await startSim();
    const item = (await createBatch(sim, ['203.0.113.9'])).body.items[0];
    expect((await del(item.id, { force_deletion: true })).status).toBe(400);
    await del(item.id);
    sim.control.advanceClock(23 * 3_600_000);
    const early = await del(item.id, { force_deletion: true });
    expect(early.status).toBe(400);
    expect(early.body.code).toBe('INTHREAT4004');
    sim.control.advanceClock(3_600_000);
    expect((await del(item.id, { force_deletion: true })).status).toBe(200);
    expect(sim.control.indicators()).toEqual([]);
    expect((await del(item.id)).status).toBe(404);
    expect((await list('term=203.0.113.9')).body.total).toBe(0);
  });
});

describe('PUT /{id}/indicators/{id}', () => {
  it('edits the five editable fields (partial by default)', async () => {
    sim = await startSim();
    const item = (
      await createBatch(sim, ['203.0.113.9'], { description: 'one', valid_until: '2026-09-01T00:00:00Z' })
    ).body.items[0];
    const r = await put(item.id, { description: 'two', kill_chain_phases: ['delivery'] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: item.id,
      description: 'two',
      kill_chain_phases: ['delivery'],
      valid_until: '2026-09-01T00:00:00.000Z',
    });
    const all = await put(item.id, {
      description: 'three',
      valid_from: '2026-06-02T00:00:00Z',
      valid_until: '2026-10-01T00:00:00Z',
      kill_chain_phases: [],
      x_ic_related_threat_refs: ['intrusion-set--2'],
      revoked: true,
    });
    expect(all.body).toMatchObject({
      description: 'three',
      valid_from: '2026-06-02T00:00:00.000Z',
      valid_until: '2026-10-01T00:00:00.000Z',
      x_ic_related_threat_refs: ['intrusion-set--2'],
      revoked: false,
    });
    expect(sim.control.indicators()[0]?.description).toBe('three');
  });

  it('value, name or pattern: 400; unknown id: 404; long description: 400', async () => {
    sim = await startSim();
    const item = (await createBatch(sim, ['203.0.113.9'])).body.items[0];
    for (const body of [
      { value: '203.0.113.10' },
      { name: 'x' },
      { pattern: "[ipv4-addr:value = '1.1.1.1']" },
    ]) {
      const r = await put(item.id, body);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('INTHREAT4003');
    }
    expect((await put('indicator--00000000-0000-4000-8000-000000000000', { description: 'x' })).status).toBe(
      404,
    );
    expect((await put(item.id, { description: 'x'.repeat(501) })).status).toBe(400);
    expect((await put(item.id, { valid_until: '2020-01-01T00:00:00Z' })).status).toBe(400);
    expect(sim.control.indicators()[0]?.name).toBe('203.0.113.9');
  });

  it('replace mode clears the editable fields not given', async () => {
    sim = await startSim({ behavior: { putMode: 'replace' } });
    const item = (await createBatch(sim, ['203.0.113.9'], { description: 'one', kill_chain_phases: ['x'] }))
      .body.items[0];
    const r = await put(item.id, { valid_until: '2026-10-01T00:00:00Z' });
    expect(r.body).toMatchObject({
      description: null,
      kill_chain_phases: [],
      valid_until: '2026-10-01T00:00:00.000Z',
    });
  });
});
