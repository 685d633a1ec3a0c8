// The sweep SCANs with a large COUNT (its round trips follow the whole database, issue 18 point 1) but hands the
// records it finds to sweep-unseen.lua at most `chunk` at a time: every unseen indicator is still removed, every
// seen one kept, whatever the split.
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncState } from '../src/index.ts';
import { sweepUnseen } from '../src/sweep.ts';
import { upsert } from './helpers.ts';

describe('sweep scan', () => {
  let r: TestRedis;
  let state: SyncState;
  beforeEach(async () => {
    r = await testRedis('sweep-scan');
    state = new SyncState(r.client, { keyPrefix: r.prefix, connectorId: 'c1' });
  });
  afterEach(async () => {
    await r.cleanup();
  });

  it('removes every indicator not seen in G and only those, with SCAN batches larger than the script chunks', async () => {
    await r.client.set(state.keys.generation, '1');
    const n = 1_200;
    for (let i = 0; i < n; i += 100)
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          state.recordDesired(upsert(`i${i + j}`, `${i + j + 1}-0`, [`v${i + j}.example`])),
        ),
      );
    // Generation 2 sees every third indicator again.
    await r.client.set(state.keys.generation, '2');
    const seen = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 === 0);
    for (const i of seen)
      await state.recordDesired(upsert(`i${i}`, `${n + i + 1}-0`, [`v${i}.example`], { generation: 2 }));
    const r2 = await sweepUnseen(state, 2, { chunk: 7, scanCount: 5_000 });
    expect(r2).toMatchObject({ removed: n - seen.length, skipped: false });
    for (const i of [0, 1, 2, 3, 600, 1_199])
      expect(await state.indicatorsOf(`v${i}.example`)).toEqual(i % 3 === 0 ? [`i${i}`] : []);
    expect(await sweepUnseen(state, 2)).toMatchObject({ skipped: true });
  });
});
