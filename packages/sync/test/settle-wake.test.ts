// The sweep's wake-up racing a reconcile that decides to hold a value back (issue 18): the sweep sets `swept`,
// then wakes the held values; a claim that read its value before and records its retry after that wake-up must
// not leave the value waiting the whole settle recheck.
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyncEngine } from '../src/index.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { upsert } from './helpers.ts';

describe('a value held back while its generation is swept', () => {
  let r: TestRedis;
  beforeEach(async () => {
    r = await testRedis('wake');
  });
  afterEach(async () => {
    await r.cleanup();
  });

  it('is due at once, not a settle recheck later', async () => {
    const fake = new FakeSekoia();
    const engine = () =>
      createSyncEngine({
        redis: r.connect(),
        port: fake,
        keyPrefix: r.prefix,
        connectorId: 'c1',
        lingerMs: 5,
        holdDuringRecovery: true,
        settleRecheckMs: 600_000,
      });
    const [rec, sweeper] = [engine(), engine()];
    await r.client.set(rec.state.keys.generation, '1');
    await rec.applyJob(upsert('i1', '1-0', ['a.example']));
    // The sweep of generation 1 runs (another worker) right after this claim read the value, still recovering.
    const read = rec.state.readValues.bind(rec.state);
    rec.state.readValues = async (values) => {
      const states = await read(values);
      await sweeper.sweep(1);
      return states;
    };
    const report = await rec.reconcileValues(['a.example']);
    expect(report).toMatchObject({ creates: 0, redirtied: 1 });
    rec.state.readValues = read;
    // Due now (without the wake-up it would wait settleRecheckMs, 10 min): the next passes create it once this
    // engine has read the swept generation (it reads it at most every 250 ms).
    expect(await rec.state.dueCount()).toBe(1);
    await waitFor(async () => (await rec.reconcileDirty({ max: 10 })).done === 1, {
      what: 'the value created',
    });
    expect(fake.count('create')).toBe(1);
    expect([...fake.live().keys()]).toEqual(['a.example']);
  });
});
