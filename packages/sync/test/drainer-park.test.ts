// The drainer parks a claim whose values only await their creates and goes on claiming (issue 18, fill18): the
// shared create batches of every field group keep filling, so each group's batches leave full.
import type { IndicatorJob } from '@octi-sekoia/model';
import { keys } from '@octi-sekoia/queue';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyncEngine, Drainer } from '../src/index.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { attrs, StallableBudget } from './helpers.ts';

/** One indicator per value, `description` naming its field group; valid_from differs per value. */
function job(group: string, n: number): IndicatorJob {
  return {
    kind: 'indicator',
    generation: 1,
    eventId: `${n + 1}-0`,
    op: 'upsert',
    indicatorId: `${group}-${n}`,
    stixId: `indicator--${group}-${n}`,
    attributes: attrs(group, { validFrom: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString() }),
    values: [`${group}-${n}.example`],
  };
}

describe('drainer: parked claims', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  let drainer: Drainer | undefined;
  beforeEach(async () => {
    r = await testRedis('park');
    fake = new FakeSekoia();
  });
  afterEach(async () => {
    await drainer?.stop();
    drainer = undefined;
    await r.cleanup();
  });

  it('claims of values spread over two groups: every value is offered before a token, then creates = Σ⌈n_g/100⌉', async () => {
    const budget = new StallableBudget();
    budget.stall();
    const engine = createSyncEngine({
      redis: r.connect(),
      port: fake,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 5,
      sharedBatches: true,
      lockTtlMs: 3_000,
    });
    const sizes: Record<string, number> = { alpha: 200, beta: 100 };
    const values: string[] = [];
    for (const [group, size] of Object.entries(sizes)) {
      for (let n = 0; n < size; n++) {
        const j = job(group, n);
        await engine.state.recordDesired(j);
        values.push(j.values[0]!);
      }
    }
    const k = keys(r.prefix, 'c1').sync;
    const offered = async () => {
      const g = await r.client.zrange(k.createGroups, '0', '-1', 'WITHSCORES');
      let n = 0;
      for (let i = 1; i < g.length; i += 2) n += Number(g[i]);
      return n;
    };
    // One claim at a time, of 150 values: whichever values it takes, it cannot end while the budget holds every
    // request back. Before parking, the drainer waited for it: 150 values offered, the other 150 never claimed.
    drainer = new Drainer(engine, {
      batch: 150,
      concurrency: 1,
      idleMs: 20,
      settleMs: 0,
      burst: () => false,
      configurationRetryMs: 1_000,
      maxOpenCreates: 300,
    });
    drainer.start();
    await waitFor(async () => (await offered()) === 300, {
      what: 'all 300 values offered while the budget holds the requests back',
      timeoutMs: 10_000,
    });
    expect(drainer.parkedClaims).toBe(2);
    // The parked claims keep their values' locks while the drainer claims more (one writer per value).
    const locks = await r.client.mget(...values.map((v) => `${k.lockPrefix}${v}`));
    expect(locks.filter((l) => l === null)).toHaveLength(0);
    expect(new Set(locks).size).toBe(2);

    budget.release();
    await waitFor(async () => (await engine.dirtyCount()) === 0, { what: 'every value created' });
    expect(fake.count('create')).toBe(3);
    const live = fake.live();
    expect(live.size).toBe(300);
    for (const v of values) expect(live.get(v)).toHaveLength(1);
    await waitFor(() => drainer!.parkedClaims === 0, { what: 'the parked claims ended' });
  });
});
