import { afterEach, describe, expect, it } from 'vitest';
import type { SekoiaSimulator } from '../src/sekoia/index.ts';
import { BATCH_EXAMPLE, DOC_CTI_IPV4, VALUES_BY_TYPE } from './sekoia-fixtures.ts';
import { call, createBatch, startSim, T0 } from './sekoia-helpers.ts';

let sim: SekoiaSimulator;
afterEach(async () => {
  await sim?.close();
});

const DAY = 86_400_000;
const post = (body: unknown) => call(sim, 'POST', `${sim.collectionId}/indicators`, body);

describe('POST /{id}/indicators', () => {
  it('answers the reference example with {items,total,has_more} and complete indicators', async () => {
    sim = await startSim();
    const r = await post(BATCH_EXAMPLE);
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(2);
    expect(r.body.has_more).toBe(false);
    const byName = Object.fromEntries(r.body.items.map((i: { name: string }) => [i.name, i]));
    expect(byName['evil.example']).toMatchObject({
      id: expect.stringMatching(
        /^indicator--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      name: 'evil.example',
      pattern: "[domain-name:value = 'evil.example']",
      pattern_type: 'stix',
      valid_from: new Date(T0).toISOString(),
      valid_until: '2026-12-01T00:00:00.000Z',
      kill_chain_phases: [],
      description: 'octi:42',
      revoked: false,
      x_ic_observable_types: ['domain-name'],
      x_ic_collection_ref: sim.collectionId,
    });
    expect(byName['203.0.113.9'].pattern).toBe("[ipv4-addr:value = '203.0.113.9']");
    expect(sim.control.liveValues()).toEqual(['203.0.113.9', 'evil.example']);
  });

  it('detects the type from the value (DOC-CTI example and every supported type)', async () => {
    sim = await startSim();
    const r = await createBatch(sim, [DOC_CTI_IPV4.value, ...VALUES_BY_TYPE.map((v) => v.value)]);
    expect(r.status).toBe(200);
    const byName = new Map(r.body.items.map((i: { name: string }) => [i.name, i]));
    expect(byName.get(DOC_CTI_IPV4.value)).toMatchObject({ pattern: DOC_CTI_IPV4.pattern });
    for (const v of VALUES_BY_TYPE) {
      expect(byName.get(v.value)).toMatchObject({
        pattern: v.pattern,
        x_ic_observable_types: [v.observable],
      });
    }
  });

  it('escapes quotes and backslashes in the pattern', async () => {
    sim = await startSim();
    const r = await createBatch(sim, ["http://evil.example/it's"]);
    expect(r.status).toBe(200);
    expect(r.body.items[0].pattern).toBe("[url:value = 'http://evil.example/it\\'s']");
  });

  it('requires both keys and 1 to 100 items', async () => {
    sim = await startSim();
    const one = [{ value: '203.0.113.9' }];
    const hundred = Array.from({ length: 100 }, (_, i) => ({ value: `10.0.${i >> 8}.${i & 255}` }));
    const cases: Array<[unknown, number]> = [
      [{ indicators: one }, 400],
      [{ default_fields: {} }, 400],
      [{ default_fields: null, indicators: one }, 400],
      [{ default_fields: {}, indicators: [] }, 400],
      [{ default_fields: {}, indicators: [...hundred, { value: '10.1.0.0' }] }, 400],
      [{ default_fields: {}, indicators: [{ nope: 'x' }] }, 400],
      [{ default_fields: {}, indicators: 'x' }, 400],
      [{ default_fields: {}, indicators: hundred }, 200],
    ];
    for (const [body, status] of cases) expect((await post(body)).status).toBe(status);
    expect(sim.control.liveValues()).toHaveLength(100);
  });

  it('honours only value and valid_from per item; default_fields give the rest', async () => {
    sim = await startSim();
    const r = await post({
      default_fields: {
        description: 'default',
        valid_from: '2026-05-01T00:00:00Z',
        valid_until: '2026-09-01T00:00:00Z',
        kill_chain_phases: [{ kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: 'delivery' }],
        x_ic_related_threat_refs: ['intrusion-set--1'],
      },
      indicators: [
        {
          value: '203.0.113.9',
          valid_from: '2026-05-15T00:00:00Z',
          description: 'per-item, ignored',
          valid_until: '2030-01-01T00:00:00Z',
        },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.items[0]).toMatchObject({
      description: 'default',
      valid_from: '2026-05-15T00:00:00.000Z',
      valid_until: '2026-09-01T00:00:00.000Z',
      kill_chain_phases: [{ kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: 'delivery' }],
      x_ic_related_threat_refs: ['intrusion-set--1'],
    });
  });

  it('rejects malformed fields and valid_until before valid_from', async () => {
    sim = await startSim();
    const bad = [
      { valid_from: 'yesterday' },
      { valid_until: 12 },
      { kill_chain_phases: [{ phase_name: 'x' }] },
      { description: 5 },
      { valid_from: '2026-05-02T00:00:00Z', valid_until: '2026-05-01T00:00:00Z' },
    ];
    for (const f of bad) {
      expect((await post({ default_fields: f, indicators: [{ value: '203.0.113.9' }] })).status).toBe(400);
    }
    expect(sim.control.indicators()).toEqual([]);
  });

  it('applies the default validity when valid_until is absent (switch)', async () => {
    sim = await startSim();
    const r = await createBatch(sim, ['203.0.113.9', 'evil.example', 'd41d8cd98f00b204e9800998ecf8427e']);
    const byName = new Map(
      r.body.items.map((i: { name: string; valid_until: string }) => [i.name, i.valid_until]),
    );
    expect(byName.get('203.0.113.9')).toBe(new Date(T0 + 30 * DAY).toISOString());
    expect(byName.get('evil.example')).toBe(new Date(T0 + 180 * DAY).toISOString());
    expect(byName.get('d41d8cd98f00b204e9800998ecf8427e')).toBeNull();
    sim.control.setBehavior({ defaultValidity: false });
    const r2 = await createBatch(sim, ['203.0.113.10']);
    expect(r2.body.items[0].valid_until).toBeNull();
  });

  it('description over 500 characters: 400 by default, truncated with the switch', async () => {
    sim = await startSim();
    const long = 'é'.repeat(501);
    const r = await createBatch(sim, ['203.0.113.9'], { description: long });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INTHREAT4002');
    expect((await createBatch(sim, ['203.0.113.9'], { description: 'é'.repeat(500) })).status).toBe(200);
    sim.control.setBehavior({ descriptionOverflow: 'truncate' });
    const t = await createBatch(sim, ['203.0.113.10'], { description: `${'x'.repeat(499)}😀😀` });
    expect(t.status).toBe(200);
    expect([...t.body.items[0].description]).toHaveLength(500);
    expect(t.body.items[0].description.endsWith('😀')).toBe(true);
  });

  it('an undetectable value rejects the whole batch by default, only itself with reject-item', async () => {
    sim = await startSim();
    const r = await createBatch(sim, ['203.0.113.9', 'not a value at all']);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INTHREAT4001');
    expect(r.body.message).toContain('not a value at all');
    expect(sim.control.indicators()).toEqual([]);

    sim.control.setBehavior({ invalidValue: 'reject-item' });
    const r2 = await createBatch(sim, ['203.0.113.9', 'not a value at all']);
    expect(r2.status).toBe(200);
    expect(r2.body.items.map((i: { name: string }) => i.name)).toEqual(['203.0.113.9']);
    expect(r2.body.total).toBe(1);
  });

  it('items keep input order by default; shuffled with the switch (seeded), same set', async () => {
    const values = Array.from({ length: 30 }, (_, i) => `198.51.100.${i}`);
    sim = await startSim();
    expect((await createBatch(sim, values)).body.items.map((i: { name: string }) => i.name)).toEqual(values);
    await sim.close();
    sim = await startSim({ behavior: { itemOrder: 'shuffled' } });
    const names = (await createBatch(sim, values)).body.items.map((i: { name: string }) => i.name);
    expect(names).not.toEqual(values);
    expect([...names].sort()).toEqual([...values].sort());
  });

  it('name is the value as sent by default, the canonical value with the switch', async () => {
    sim = await startSim();
    const r = await createBatch(sim, ['  Evil.EXAMPLE ']);
    expect(r.body.items[0].name).toBe('Evil.EXAMPLE');
    expect(sim.control.liveValues()).toEqual(['evil.example']);
    sim.control.setBehavior({ itemName: 'canonical' });
    const r2 = await createBatch(sim, ['Other.EXAMPLE']);
    expect(r2.body.items[0]).toMatchObject({
      name: 'other.example',
      pattern: "[domain-name:value = 'other.example']",
    });
  });
});

describe('re-import of an existing value', () => {
  it('update (default): same id, fields overwritten', async () => {
    sim = await startSim();
    const first = (await createBatch(sim, ['203.0.113.9'], { description: 'one' })).body.items[0];
    sim.control.advanceClock(1000);
    const again = (await createBatch(sim, ['203.0.113.9'], { description: 'two' })).body.items[0];
    expect(again.id).toBe(first.id);
    expect(again.description).toBe('two');
    expect(again.modified).toBe(new Date(T0 + 1000).toISOString());
    expect(sim.control.indicators()).toHaveLength(1);
  });

  it('ignore: same id, fields unchanged', async () => {
    sim = await startSim({ behavior: { reimport: 'ignore' } });
    const first = (await createBatch(sim, ['203.0.113.9'], { description: 'one' })).body.items[0];
    const again = (await createBatch(sim, ['203.0.113.9'], { description: 'two' })).body.items[0];
    expect(again).toEqual(first);
  });

  it('duplicate: a new indicator each time', async () => {
    sim = await startSim({ behavior: { reimport: 'duplicate' } });
    const first = (await createBatch(sim, ['203.0.113.9'])).body.items[0];
    const again = (await createBatch(sim, ['203.0.113.9'])).body.items[0];
    expect(again.id).not.toBe(first.id);
    expect(sim.control.liveValues()).toEqual(['203.0.113.9', '203.0.113.9']);
  });

  it('the same value twice in one batch follows the same rule', async () => {
    sim = await startSim();
    const r = await createBatch(sim, ['evil.example', 'EVIL.example']);
    expect(r.body.items[0].id).toBe(r.body.items[1].id);
    expect(sim.control.liveValues()).toEqual(['evil.example']);
  });

  const revokedCase = async () => {
    const first = (await createBatch(sim, ['203.0.113.9'], { description: 'one' })).body.items[0];
    await call(sim, 'DELETE', `${sim.collectionId}/indicators/${first.id}`);
    const again = (await createBatch(sim, ['203.0.113.9'], { description: 'two' })).body.items[0];
    return { first, again };
  };

  it('revoked value, new (default): a new live indicator, the old one stays revoked', async () => {
    sim = await startSim();
    const { first, again } = await revokedCase();
    expect(again.id).not.toBe(first.id);
    expect(again.revoked).toBe(false);
    const all = sim.control.indicators();
    expect(all.map((i) => [i.id, i.revoked])).toEqual([
      [first.id, true],
      [again.id, false],
    ]);
  });

  it('revoked value, reactivate: the same id live again with the new fields', async () => {
    sim = await startSim({ behavior: { reimportRevoked: 'reactivate' } });
    const { first, again } = await revokedCase();
    expect(again).toMatchObject({ id: first.id, revoked: false, description: 'two' });
    expect(sim.control.liveValues()).toEqual(['203.0.113.9']);
  });

  it('revoked value, ignore: nothing becomes live, the revoked indicator is returned', async () => {
    sim = await startSim({ behavior: { reimportRevoked: 'ignore' } });
    const { first, again } = await revokedCase();
    expect(again).toMatchObject({ id: first.id, revoked: true, description: 'one' });
    expect(sim.control.liveValues()).toEqual([]);
  });
});
