// Create batches (issue 18): which values share a request, and when a request is sealed.
import type { IndicatorJob } from '@octi-sekoia/model';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Budget, createSyncEngine, unlimitedBudget } from '../src/index.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { attrs, StallableBudget } from './helpers.ts';

function job(indicatorId: string, eventId: string, values: string[], validFrom: string): IndicatorJob {
  return {
    kind: 'indicator',
    generation: 1,
    eventId,
    op: 'upsert',
    indicatorId,
    stixId: `indicator--${indicatorId}`,
    attributes: attrs('shared', { validFrom, validUntil: '2030-01-01T00:00:00.000Z' }),
    values,
  };
}

describe('create batches', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  beforeEach(async () => {
    r = await testRedis('coll');
    fake = new FakeSekoia();
  });
  afterEach(async () => {
    await r.cleanup();
  });

  const engine = (budget: Budget = unlimitedBudget) =>
    createSyncEngine({
      redis: r.connect(),
      port: fake,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 5,
    });

  it('values whose fields differ only by valid_from share one create, each sent with its own valid_from', async () => {
    const rec = engine();
    await rec.state.recordDesired(job('i1', '1-0', ['a.example', 'b.example'], '2026-03-01T10:00:00.000Z'));
    await rec.state.recordDesired(job('i2', '2-0', ['c.example'], '2026-03-02T11:30:00.000Z'));
    const report = await rec.reconcileDirty({ max: 10 });
    expect(report).toMatchObject({ creates: 3, done: 3 });
    expect(fake.count('create')).toBe(1);
    const validFrom = (v: string) =>
      fake
        .live()
        .get(v)
        ?.map((a) => a.validFrom);
    expect(validFrom('a.example')).toEqual(['2026-03-01T10:00:00.000Z']);
    expect(validFrom('c.example')).toEqual(['2026-03-02T11:30:00.000Z']);
    // Each value's applied record carries its own fingerprint: nothing left to edit.
    await rec.state.markDirty(['a.example', 'b.example', 'c.example']);
    expect(await rec.reconcileDirty({ max: 10 })).toMatchObject({ edits: 0, creates: 0, done: 3 });
  });

  it('a batch takes its budget token before it is sealed and keeps filling while it waits for it', async () => {
    const budget = new StallableBudget();
    budget.stall();
    const rec = engine(budget);
    const from = '2026-03-01T10:00:00.000Z';
    await rec.state.recordDesired(job('i1', '1-0', ['a.example', 'b.example'], from));
    await rec.state.recordDesired(job('i2', '2-0', ['c.example', 'd.example'], from));
    const first = rec.reconcileValues(['a.example', 'b.example']);
    await waitFor(() => budget.waiting === 1 && rec.collector.openValues === 2, {
      what: 'the first claim waiting in an open batch for its token',
    });
    // A later claim, long after the linger time: its values join the batch still waiting for its token.
    const second = rec.reconcileValues(['c.example', 'd.example']);
    await waitFor(() => rec.collector.openValues === 4, { what: 'the second claim in the same batch' });
    budget.release();
    expect([await first, await second]).toMatchObject([{ done: 2 }, { done: 2 }]);
    expect(fake.count('create')).toBe(1);
    expect(budget.taken).toBe(1);
    expect([...fake.live().keys()].sort()).toEqual(['a.example', 'b.example', 'c.example', 'd.example']);
  });
});
