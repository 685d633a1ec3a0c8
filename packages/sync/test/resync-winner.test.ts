// A re-sync (generation G+1) of a value held by several indicators (issue 18): the winner among the holders is
// the last event in stream order whatever generation recorded it, and the value is written only once every
// holder has been re-read (or swept) — so an unchanged collection costs no write, a changed one one write.
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyncEngine, type Reconciler } from '../src/index.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { upsert } from './helpers.ts';

describe('re-sync of a shared value', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  let rec: Reconciler;
  beforeEach(async () => {
    r = await testRedis('rsw');
    fake = new FakeSekoia();
    rec = createSyncEngine({
      redis: r.connect(),
      port: fake,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 5,
      holdDuringRecovery: true,
    });
    // The first generation's recovery: both holders arrive before its sweep, the value waits for them.
    await r.client.set(rec.state.keys.generation, '1');
    await rec.applyJob(upsert('i1', '1-0', ['shared.example'], { description: 'one' }));
    await rec.applyJob(upsert('i2', '2-0', ['shared.example'], { description: 'two' }));
    expect(fake.calls).toEqual([]);
    await rec.sweep(1);
    await rec.reconcileDirty({ max: 10 });
    // Created once, with the fields of the last event: no edit.
    expect(fake.calls).toEqual([
      expect.objectContaining({
        kind: 'create',
        attributes: expect.objectContaining({ description: 'two' }),
      }),
    ]);
    fake.calls.length = 0;
    await r.client.set(rec.state.keys.generation, '2'); // ingest starts generation 2: everything is re-read
  });
  afterEach(async () => {
    await r.cleanup();
  });

  const writes = () => fake.calls.filter((c) => c.kind !== 'search');

  it('unchanged holders re-read one by one: no write', async () => {
    await rec.applyJob(upsert('i1', '1-0', ['shared.example'], { generation: 2, description: 'one' }));
    const [v] = await rec.state.readValues(['shared.example']);
    expect(v?.desired).toMatchObject({
      winner: { indicatorId: 'i2' },
      recovering: 2,
      staleHolders: true,
      generation: 2,
    });
    await rec.reconcileDirty({ max: 10 });
    await rec.applyJob(upsert('i2', '2-0', ['shared.example'], { generation: 2, description: 'two' }));
    await rec.reconcileDirty({ max: 10 });
    await rec.sweep(2);
    await rec.reconcileDirty({ max: 10 });
    expect(writes()).toEqual([]);
    expect(await rec.dirtyCount()).toBe(0);
    expect(fake.live().get('shared.example')).toEqual([expect.objectContaining({ description: 'two' })]);
  });

  it('holders changed during the gap: written once, with the last event’s fields, after both are re-read', async () => {
    await rec.applyJob(upsert('i1', '3-0', ['shared.example'], { generation: 2, description: 'one, new' }));
    await rec.reconcileDirty({ max: 10 });
    expect(writes()).toEqual([]); // i2 not re-read yet: the value waits
    await rec.applyJob(upsert('i2', '5-0', ['shared.example'], { generation: 2, description: 'two, new' }));
    await rec.reconcileDirty({ max: 10 });
    await rec.sweep(2);
    await rec.reconcileDirty({ max: 10 });
    expect(writes()).toEqual([
      expect.objectContaining({
        kind: 'edit',
        attributes: expect.objectContaining({ description: 'two, new' }),
      }),
    ]);
    expect(await rec.dirtyCount()).toBe(0);
  });

  it('a holder not re-read is swept: the value waits for the sweep, then is written once', async () => {
    await rec.applyJob(upsert('i1', '1-0', ['shared.example'], { generation: 2, description: 'one' }));
    await rec.reconcileDirty({ max: 10 });
    expect(writes()).toEqual([]);
    await rec.sweep(2); // i2 was deleted in OpenCTI while nobody listened
    await rec.reconcileDirty({ max: 10 });
    expect(writes()).toEqual([
      expect.objectContaining({ kind: 'edit', attributes: expect.objectContaining({ description: 'one' }) }),
    ]);
    expect(await rec.dirtyCount()).toBe(0);
  });
});

describe('holding writes back during a recovery', () => {
  it('is bounded: past settleMaxMs without a sweep, the value is written', async () => {
    const r = await testRedis('rsb');
    try {
      let clock = 1_000_000;
      const fake = new FakeSekoia();
      const rec = createSyncEngine({
        redis: r.connect(),
        port: fake,
        keyPrefix: r.prefix,
        connectorId: 'c1',
        lingerMs: 5,
        settleMaxMs: 60_000,
        holdDuringRecovery: true,
        now: () => clock,
      });
      await r.client.set(rec.state.keys.generation, '1');
      await rec.applyJob(upsert('i1', '1-0', ['v.example'], { description: 'one' }));
      expect(fake.calls).toEqual([]);
      clock += 60_001; // the sweep never came (ingest gone mid-recovery)
      await rec.reconcileValues(['v.example']);
      expect(fake.count('create')).toBe(1);
    } finally {
      await r.cleanup();
    }
  });
});
