// Issue 13's failure edges of the reconcile loop (cases 6, 7 and 10), each with the situation that broke it.
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Budget, createSyncEngine, type FoundIndicator, unlimitedBudget } from '../src/index.ts';
import type { ReconcilerOptions } from '../src/reconciler.ts';
import type { SyncStateOptions } from '../src/state.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { StallableBudget, upsert } from './helpers.ts';

const FAST: ReconcilerOptions = {
  lingerMs: 5,
  backoffBaseMs: 1,
  backoffMaxMs: 10,
  lostAnswerSearchDelayMs: 0,
  defaultRetryAfterMs: 1,
  configurationRetryMs: 1,
};

describe('reconcile failure edges (issue 13)', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  beforeEach(async () => {
    r = await testRedis('edges');
    fake = new FakeSekoia();
  });
  afterEach(async () => {
    await r.cleanup();
  });

  function engine(
    opts: ReconcilerOptions & Partial<SyncStateOptions> = {},
    budget: Budget = unlimitedBudget,
    port = fake,
  ) {
    return createSyncEngine({
      redis: r.connect(),
      port,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      writeHorizonMs: 60_000,
      ...FAST,
      ...opts,
    });
  }

  it('case 7: one value failing does not stop lock renewal for the other values of its claim', async () => {
    const lockTtlMs = 900;
    const rec = engine({ lockTtlMs });
    await rec.applyJob(upsert('i1', '1-0', ['a.example'], { generation: 1 }));
    // Generation 2: a.example is verified by a search, which a broken answer makes throw (any unexpected error of
    // one value: a port bug, Redis refusing that value's record); b.example is created, held in flight.
    await r.client.set(rec.state.keys.generation, '2');
    await rec.state.recordDesired(upsert('i1', '2-0', ['a.example'], { generation: 2 }));
    await rec.state.recordDesired(upsert('i2', '2-1', ['b.example'], { generation: 2 }));
    const search = fake.searchExact.bind(fake);
    let broken = 0;
    fake.searchExact = async (value: string) => {
      if (value !== 'a.example') return search(value);
      broken += 1;
      return null as unknown as FoundIndicator[];
    };
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    fake.fault = (call) => (call.kind === 'create' ? { gate } : undefined);

    const claim = rec.reconcileDirty({ max: 10 });
    const settled = claim.then(
      () => 'resolved',
      (err: unknown) => String(err),
    );
    await waitFor(() => fake.count('create') === 2 && broken === 1, {
      what: 'create of b.example in flight, search of a.example made',
    });
    // Observe b.example's lock over three lock lifetimes while its create is in flight: it must stay ours.
    const lockKey = rec.state.keys.sync.lock('b.example');
    const token = await r.client.get(lockKey);
    expect(token).not.toBeNull();
    const lost: number[] = [];
    const end = Date.now() + 3 * lockTtlMs;
    while (Date.now() < end) {
      if ((await r.client.get(lockKey)) !== token) lost.push(Date.now());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    openGate();
    expect(await settled).toMatch(/TypeError/);
    expect(lost).toEqual([]);
    expect([...fake.live().keys()].sort()).toEqual(['a.example', 'b.example']);
  });

  it('case 6: a bisected half waits for its token longer than the write horizon, its lock lost: not sent', async () => {
    const writeHorizonMs = 200;
    const budget = new StallableBudget();
    const rec = engine({ writeHorizonMs, lockTtlMs: 60_000 }, budget);
    // Another worker, its clock past our intents' horizon (as if the budget had stalled us that long).
    const other = engine({ writeHorizonMs, now: () => Date.now() + 10 * writeHorizonMs });
    fake.refuse.add('bad.example');
    await rec.state.recordDesired(upsert('i1', '1-0', ['a.example', 'bad.example'], { description: 'd' }));
    fake.fault = (call) => {
      // The first POST (both values) is rejected: then stall the budget before the halves are sent.
      if (call.kind === 'create' && call.values.length === 2) budget.stall();
      return undefined;
    };
    const claim = rec.reconcileDirty({ max: 10 });
    await waitFor(() => budget.waiting === 1, { what: 'the first half waiting for its budget token' });
    // Meanwhile our lock on a.example is lost (a process pause, Redis failover) and the other worker, seeing our
    // intent expired, searches (nothing was created) and creates the value.
    await r.client.del(rec.state.keys.sync.lock('a.example'));
    await r.client.zadd(rec.state.keys.sync.dirty, 0, 'a.example');
    const report = await other.reconcileValues(['a.example']);
    expect(report).toMatchObject({ searches: 1, creates: 1, done: 1 });
    budget.release();
    await claim;
    // The half holding a.example must not be sent on its stale intent: a.example exists once.
    expect(fake.live().get('a.example')).toHaveLength(1);
    expect(fake.calls.filter((c) => c.kind === 'create' && c.values.includes('a.example'))).toHaveLength(2);
  });

  it('case 10: a value whose desired state changes while its claim waits for a token is written once, with the new attributes', async () => {
    const budget = new StallableBudget();
    const rec = engine({}, budget);
    await rec.applyJob(upsert('i1', '1-0', ['a.example'], { description: 'v1' }));
    expect(fake.count('create')).toBe(1);
    // v2 is claimed (an edit is decided), then the budget stalls before the edit's token.
    budget.stall();
    await rec.state.recordDesired(upsert('i1', '2-0', ['a.example'], { description: 'v2' }));
    const claim = rec.reconcileDirty({ max: 10 });
    await waitFor(() => budget.waiting === 1, { what: 'the edit waiting for its budget token' });
    // The indicator changes again while the claim waits.
    await rec.state.recordDesired(upsert('i1', '3-0', ['a.example'], { description: 'v3' }));
    budget.release();
    await claim;
    await waitFor(
      async () => {
        await rec.reconcileDirty({ max: 10 });
        return (await rec.dirtyCount()) === 0;
      },
      { what: 'dirty set drained', intervalMs: 5 },
    );
    expect(
      fake
        .live()
        .get('a.example')
        ?.map((a) => a.description),
    ).toEqual(['v3']);
    // One edit, with v3: v2's attributes never went out.
    expect(fake.calls.filter((c) => c.kind === 'edit').map((c) => c.attributes.description)).toEqual(['v3']);
  });

  it('case 4: the sweep keeps exempt indicators (by internal or STIX id) and says which it kept', async () => {
    const rec = engine();
    for (const id of ['i1', 'i2', 'i3', 'i4'])
      await rec.applyJob(upsert(id, '1-0', [`${id}.example`], { generation: 1 }));
    await r.client.set(rec.state.keys.generation, '2');
    await rec.applyJob(upsert('i1', '2-0', ['i1.example'], { generation: 2 }));
    // i2 named by its internal id, i3 by its STIX id; i1 was seen in 2 (its exemption changes nothing).
    const sweep = await rec.sweep(2, { exempt: ['i2', 'indicator--i3', 'i1'] });
    expect(sweep).toEqual({ removed: 1, dirtied: 1, skipped: false, kept: ['i2', 'i3'] });
    expect(await r.client.exists(rec.state.keys.sync.sweepExempt)).toBe(0);
    await waitFor(
      async () => {
        await rec.reconcileDirty({ max: 10 });
        return (await rec.dirtyCount()) === 0;
      },
      { what: 'dirty set drained', intervalMs: 5 },
    );
    expect([...fake.live().keys()].sort()).toEqual(['i1.example', 'i2.example', 'i3.example']);
  });
});
