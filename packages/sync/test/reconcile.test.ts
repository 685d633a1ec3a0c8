import type { IndicatorJob } from '@octi-sekoia/model';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Budget,
  createSyncEngine,
  Reconciler,
  type RejectedValue,
  SyncState,
  unlimitedBudget,
} from '../src/index.ts';
import type { ReconcilerOptions } from '../src/reconciler.ts';
import type { SyncStateOptions } from '../src/state.ts';
import { sweepUnseen } from '../src/sweep.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { attrs, remove, upsert } from './helpers.ts';

const FAST: ReconcilerOptions = {
  lingerMs: 5,
  backoffBaseMs: 1,
  backoffMaxMs: 10,
  lostAnswerSearchDelayMs: 0,
  defaultRetryAfterMs: 1,
  configurationRetryMs: 1,
};

describe('reconcile', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  beforeEach(async () => {
    r = await testRedis('rec');
    fake = new FakeSekoia();
  });
  afterEach(async () => {
    await r.cleanup();
  });

  function engine(
    opts: ReconcilerOptions = {},
    stateOpts: Partial<SyncStateOptions> = {},
    budget: Budget = unlimitedBudget,
  ) {
    // A short write horizon: a lost answer is searched for after it (tests that hold requests set a long one).
    return createSyncEngine({
      redis: r.connect(),
      port: fake,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      writeHorizonMs: 200,
      ...FAST,
      ...opts,
      ...stateOpts,
    });
  }

  /** Reconciles until the dirty set is empty (retries are due after a few ms here). */
  async function drain(rec: Reconciler) {
    await waitFor(
      async () => {
        await rec.reconcileDirty({ max: 100 });
        return (await rec.dirtyCount()) === 0;
      },
      { what: 'dirty set drained', intervalMs: 5 },
    );
  }

  const liveValues = () => [...fake.live().keys()].sort();
  const descriptionOf = (v: string) =>
    fake
      .live()
      .get(v)
      ?.map((a) => a.description);

  it('creates, batching values that share attributes, and applying a job is idempotent', async () => {
    const rec = engine();
    const res = await rec.applyJob(
      upsert('i1', '1-0', ['a.example', 'b.example', '1.2.3.4'], { description: 'd' }),
    );
    expect(res).toMatchObject({ applied: true, report: { claimed: 3, done: 3, creates: 3 } });
    expect(fake.count('create')).toBe(1);
    expect(liveValues()).toEqual(['1.2.3.4', 'a.example', 'b.example']);
    const again = await rec.applyJob(
      upsert('i1', '1-0', ['a.example', 'b.example', '1.2.3.4'], { description: 'd' }),
    );
    expect(again).toMatchObject({ applied: false, outcome: 'duplicate', report: { claimed: 0 } });
    expect(fake.calls).toHaveLength(1);
    expect(await rec.dirtyCount()).toBe(0);
  });

  it('a value shared by two indicators survives the deletion of one and is revoked with the second', async () => {
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['shared.example', 'one.example'], { description: 'one' }));
    await rec.applyJob(upsert('i2', '2-0', ['shared.example'], { description: 'two' }));
    expect(descriptionOf('shared.example')).toEqual(['two']);
    await rec.applyJob(remove('i2', '3-0'));
    expect(liveValues()).toEqual(['one.example', 'shared.example']);
    expect(descriptionOf('shared.example')).toEqual(['one']); // i1 is now the last live event
    await rec.applyJob(remove('i1', '4-0'));
    expect(liveValues()).toEqual([]);
    expect(fake.count('create')).toBe(1); // both values in one batch
    expect(fake.count('edit')).toBe(2); // two → one → … as the winning event changed
    expect(fake.count('revoke')).toBe(2);
  });

  it('a pattern change revokes the old value and creates the new one', async () => {
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['old.example']));
    const oldId = [...fake.indicators.values()][0]!.id;
    await rec.applyJob(upsert('i1', '2-0', ['new.example']));
    expect(liveValues()).toEqual(['new.example']);
    expect(fake.indicators.get(oldId)?.revoked).toBe(true);
  });

  it('an attribute change edits in place; an unchanged re-send costs no request', async () => {
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['a.example'], { description: 'v1' }));
    await rec.applyJob(upsert('i1', '2-0', ['a.example'], { description: 'v2' }));
    expect(fake.count('edit')).toBe(1);
    expect(descriptionOf('a.example')).toEqual(['v2']);
    await rec.applyJob(upsert('i1', '3-0', ['a.example'], { description: 'v2' }));
    expect(fake.calls).toHaveLength(2);
  });

  it('a crash between recordDesired and reconcile loses nothing: the dirty set persists', async () => {
    const crashed = engine();
    await crashed.state.recordDesired(upsert('i1', '1-0', ['a.example', 'b.example']));
    await crashed.state.recordDesired(upsert('i2', '1-1', ['c.example']));
    crashed.state.redis.disconnect(); // the process dies before reconciling
    const restarted = engine();
    expect(await restarted.dirtyCount()).toBe(3);
    await drain(restarted);
    expect(liveValues()).toEqual(['a.example', 'b.example', 'c.example']);
  });

  it('a busy lock leaves the value dirty; the holder finishing removes it', async () => {
    const a = engine();
    const b = engine();
    await a.state.recordDesired(upsert('i1', '1-0', ['v.example']));
    const claimA = await a.state.claimDirty(10);
    expect(claimA.values).toEqual(['v.example']);
    const claimB = await b.state.claimValues(['v.example']);
    expect(claimB).toMatchObject({ values: [], busy: 0 }); // hidden while held
    const scanB = await b.state.claimDirty(10);
    expect(scanB.values).toEqual([]);
    expect(await b.dirtyCount()).toBe(1);
    await a.reconcileClaim(claimA);
    expect(await b.dirtyCount()).toBe(0);
    expect(liveValues()).toEqual(['v.example']);
  });

  it('a claimer that sees a busy lock on a due value skips it and leaves it dirty', async () => {
    const a = engine();
    await a.state.recordDesired(upsert('i1', '1-0', ['v.example']));
    const claimA = await a.state.claimDirty(10);
    // A newer event makes the value due again while A holds it.
    await a.state.recordDesired(upsert('i1', '2-0', ['v.example']));
    const b = engine();
    const claimB = await b.state.claimDirty(10);
    expect(claimB).toMatchObject({ values: [], busy: 1 });
    expect(await b.dirtyCount()).toBe(1);
    expect(await a.reconcileClaim(claimA)).toMatchObject({ done: 1 });
    expect(descriptionOf('v.example')).toEqual(['desc i1 @2-0']);
    expect(await b.dirtyCount()).toBe(0);
  });

  it('desired changing during a write sends the value back, and the next pass applies the change', async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => {
      release = res;
    });
    fake.fault = (c) => (c.kind === 'create' ? { gate } : undefined);
    const a = engine({}, { writeHorizonMs: 60_000 });
    await a.state.recordDesired(upsert('i1', '1-0', ['v.example']));
    const working = a.reconcileDirty();
    await waitFor(() => fake.count('create') === 1, { what: 'create sent' });
    await a.state.recordDesired(remove('i1', '2-0'));
    release();
    expect(await working).toMatchObject({ done: 0, redirtied: 1 });
    fake.fault = () => undefined;
    await drain(a);
    expect(liveValues()).toEqual([]);
    expect(fake.count('revoke')).toBe(1);
  });

  it('a lost lock re-dirties the value and still records the id that the write created', async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => {
      release = res;
    });
    fake.fault = (c) => (c.kind === 'create' ? { gate } : undefined);
    const a = engine({}, { writeHorizonMs: 60_000 });
    await a.state.recordDesired(upsert('i1', '1-0', ['v.example']));
    const claim = await a.state.claimDirty(10);
    const working = a.reconcileClaim(claim);
    await waitFor(() => fake.count('create') === 1, { what: 'create sent' });
    // The lock expires under the slow holder and another claim takes it.
    await r.client.set(a.state.keys.sync.lock('v.example'), 'someone-else');
    release();
    const report = await working;
    expect(report).toMatchObject({ done: 0, redirtied: 1, lost: 1 });
    const [st] = await a.state.readValues(['v.example']);
    expect(Object.keys(st!.applied.ids)).toEqual([[...fake.indicators.keys()][0]]);
    expect(st!.applied.intents).toEqual([]);
    await r.client.del(a.state.keys.sync.lock('v.example'));
    await r.client.zadd(a.state.keys.sync.dirty, 0, 'v.example');
    fake.fault = () => undefined;
    await drain(a);
    expect(fake.count('create')).toBe(1);
    expect(liveValues()).toEqual(['v.example']);
  });

  it('a claim never writes while another claim’s write intent is in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => {
      release = res;
    });
    fake.fault = (c) => (c.kind === 'create' ? { gate } : undefined);
    const a = engine({}, { writeHorizonMs: 60_000 });
    const b = engine({}, { writeHorizonMs: 60_000 });
    await a.state.recordDesired(upsert('i1', '1-0', ['v.example']));
    const working = a.reconcileClaim(await a.state.claimDirty(10));
    await waitFor(() => fake.count('create') === 1, { what: 'create sent' });
    // A's lock is lost; B claims the value while A's create is still in flight.
    await r.client.del(a.state.keys.sync.lock('v.example'));
    await r.client.zadd(a.state.keys.sync.dirty, 0, 'v.example');
    const reportB = await b.reconcileDirty();
    expect(reportB).toMatchObject({ claimed: 1, redirtied: 1, creates: 0, searches: 0 });
    release();
    await working;
    await r.client.zadd(a.state.keys.sync.dirty, 0, 'v.example');
    await drain(b);
    expect(fake.count('create')).toBe(1);
    expect(liveValues()).toEqual(['v.example']);
  });

  it('a crash after create-pending: once the intent expires, a search finds what was created', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const crashed = engine({}, { now, writeHorizonMs: 60_000 });
    await crashed.state.recordDesired(upsert('i1', '1-0', ['v.example'], { description: 'd' }));
    const claim = await crashed.state.claimDirty(10);
    const [st] = await crashed.state.readValues(claim.values);
    expect(
      await crashed.state.beginWrite(
        [{ value: 'v.example', claim, version: st!.desired.version, fp: st!.desired.fp! }],
        'create',
      ),
    ).toEqual(new Set(['v.example']));
    await fake.createWith(attrs('d'), ['v.example']); // the request lands, then the process dies
    crashed.state.redis.disconnect();
    await r.client.del(crashed.state.keys.sync.lock('v.example')); // its lock expires

    const next = engine({}, { now, writeHorizonMs: 60_000 });
    await r.client.zadd(next.state.keys.sync.dirty, 0, 'v.example');
    const early = await next.reconcileDirty();
    expect(early).toMatchObject({ claimed: 1, redirtied: 1, searches: 0, creates: 0 });
    clock += 61_000;
    await r.client.zadd(next.state.keys.sync.dirty, 0, 'v.example');
    const late = await next.reconcileDirty();
    expect(late).toMatchObject({ claimed: 1, done: 1, searches: 1, creates: 0, edits: 0 });
    expect(fake.count('create')).toBe(1);
    expect(liveValues()).toEqual(['v.example']);
  });

  it('a lost create answer: the search finds the indicator, nothing is created twice', async () => {
    let first = true;
    fake.fault = (c) => {
      if (c.kind === 'create' && first) {
        first = false;
        return { lose: true };
      }
      return undefined;
    };
    const rec = engine();
    const res = await rec.applyJob(upsert('i1', '1-0', ['v.example'], { description: 'd' }));
    expect(res.report).toMatchObject({ redirtied: 1, done: 0 });
    await drain(rec);
    expect(fake.count('create')).toBe(1);
    expect(fake.count('search')).toBe(1);
    expect(fake.count('edit')).toBe(0); // the lost create's attributes are known
    expect(liveValues()).toEqual(['v.example']);
  });

  it('a rejected batch is bisected; the rejected value is reported once and not re-sent until it changes', async () => {
    fake.refuse.add('bad.example');
    const rejected: RejectedValue[] = [];
    const rec = engine({ onRejected: (x) => void rejected.push(x) });
    const values = ['a.example', 'b.example', 'bad.example', 'c.example', 'd.example'];
    const res = await rec.applyJob(upsert('i1', '1-0', values, { description: 'same' }));
    expect(res.report).toMatchObject({ done: 5, rejected: 1 });
    expect(liveValues()).toEqual(['a.example', 'b.example', 'c.example', 'd.example']);
    expect(rejected).toEqual([
      {
        value: 'bad.example',
        reason: 'invalid value bad.example',
        desiredVersion: res.version,
        action: 'create',
      },
    ]);
    const calls = fake.count('create');
    // Looked at again at the same desired version: nothing is sent.
    await rec.state.markDirty(['bad.example']);
    await drain(rec);
    expect(fake.count('create')).toBe(calls);
    // Its desired version changes (another indicator exports it): tried again.
    fake.refuse.delete('bad.example');
    await rec.applyJob(upsert('i2', '2-0', ['bad.example']));
    expect(liveValues()).toContain('bad.example');
    expect(rejected).toHaveLength(1);
  });

  it('a rejection is recorded only once it was reported (the dead letter could not be written: retried)', async () => {
    fake.refuse.add('bad.example');
    let calls = 0;
    const rec = engine({
      onRejected: () => {
        calls++;
        if (calls === 1) throw new Error('Redis down while writing the dead letter');
      },
    });
    const res = await rec.applyJob(upsert('i1', '1-0', ['bad.example']));
    expect(res.report).toMatchObject({ redirtied: 1 });
    await drain(rec);
    expect(calls).toBe(2);
    const [st] = await rec.state.readValues(['bad.example']);
    expect(st!.applied.rejected).toEqual({ reason: 'invalid value bad.example', version: res.version });
  });

  it('a dead-letter replay (markDirty clearRejection) retries a rejected value at the same version', async () => {
    fake.refuse.add('bad.example');
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['bad.example']));
    fake.refuse.delete('bad.example');
    await rec.state.markDirty(['bad.example'], { clearRejection: true });
    await drain(rec);
    expect(liveValues()).toEqual(['bad.example']);
  });

  it('revoke 404 counts as revoked; an edit of a vanished id creates the value again', async () => {
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['a.example', 'b.example']));
    fake.indicators.clear(); // removed behind our back
    await rec.applyJob(upsert('i1', '2-0', ['b.example'], { description: 'changed' }));
    expect(liveValues()).toEqual(['b.example']);
    expect(descriptionOf('b.example')).toEqual(['changed']);
    const [a] = await rec.state.readValues(['a.example']);
    expect(a!.applied.ids).toEqual({});
    expect(await rec.dirtyCount()).toBe(0);
  });

  it('case 2: a refused revoke is reported once and not re-sent until the value changes; the other ids are revoked', async () => {
    const rejected: RejectedValue[] = [];
    const rec = engine({ onRejected: (x) => void rejected.push(x) });
    await rec.applyJob(upsert('i1', '1-0', ['stuck.example', 'free.example']));
    fake.refuseRevoke.add('stuck.example');
    await rec.applyJob(remove('i1', '2-0'));
    await drain(rec);
    expect(liveValues()).toEqual(['stuck.example']);
    expect(rejected.map((x) => [x.value, x.action])).toEqual([['stuck.example', 'revoke']]);
    const revokes = () => fake.count('revoke');
    expect(revokes()).toBe(2);
    await rec.state.markDirty(['stuck.example']);
    await drain(rec);
    expect(revokes()).toBe(2);
    // Wanted again, then removed again: one more revoke.
    await rec.applyJob(upsert('i1', '3-0', ['stuck.example']));
    await rec.applyJob(remove('i1', '4-0'));
    await drain(rec);
    expect(revokes()).toBe(3);
    expect(rejected).toHaveLength(2);
  });

  it('case 3: a create answered with the revoked indicator deletes it for good and creates again', async () => {
    const rec = engine();
    fake.reimportRevoked = 'ignore';
    await rec.applyJob(upsert('i1', '1-0', ['back.example']));
    await rec.applyJob(remove('i1', '2-0'));
    await rec.applyJob(upsert('i2', '3-0', ['back.example']));
    await drain(rec);
    expect(liveValues()).toEqual(['back.example']);
    expect(fake.count('forceDelete')).toBe(1);
    expect(fake.count('create')).toBe(3);
  });

  it('case 3: a value holding several revoked indicators (hand-made duplicates) deletes each for good, then lives', async () => {
    const rejected: RejectedValue[] = [];
    const rec = engine({ onRejected: (x) => void rejected.push(x) });
    fake.reimportRevoked = 'ignore';
    const attributes = { validFrom: '2026-01-01T00:00:00.000Z', killChainPhases: [], description: 'by hand' };
    for (const id of ['indicator--hand-1', 'indicator--hand-2'])
      fake.indicators.set(id, { id, value: 'back.example', revoked: true, attributes });
    await rec.applyJob(upsert('i1', '1-0', ['back.example']));
    await drain(rec);
    expect(rejected).toEqual([]);
    expect(liveValues()).toEqual(['back.example']);
    expect(fake.count('forceDelete')).toBe(2);
    expect(fake.count('create')).toBe(3);
  });

  it('case 3: more revoked indicators than deletion rounds: one dead letter, a bounded number of requests', async () => {
    const rejected: RejectedValue[] = [];
    const rec = engine({ onRejected: (x) => void rejected.push(x) });
    fake.reimportRevoked = 'ignore';
    const attributes = { validFrom: '2026-01-01T00:00:00.000Z', killChainPhases: [], description: 'by hand' };
    for (let i = 1; i <= 6; i++)
      fake.indicators.set(`indicator--hand-${i}`, {
        id: `indicator--hand-${i}`,
        value: 'back.example',
        revoked: true,
        attributes,
      });
    await rec.applyJob(upsert('i1', '1-0', ['back.example']));
    await drain(rec);
    expect(liveValues()).toEqual([]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toMatch(/after 3 revoked indicators were deleted for good/);
    expect(fake.count('forceDelete')).toBe(3);
    expect(fake.count('create')).toBe(4);
  });

  it('case 3: deletion for good refused: reported once with why, nothing more at that desired version', async () => {
    const rejected: RejectedValue[] = [];
    const rec = engine({ onRejected: (x) => void rejected.push(x) });
    fake.reimportRevoked = 'ignore';
    fake.forceDeleteAllowed = false;
    await rec.applyJob(upsert('i1', '1-0', ['back.example']));
    await rec.applyJob(remove('i1', '2-0'));
    await rec.applyJob(upsert('i2', '3-0', ['back.example']));
    await drain(rec);
    expect(liveValues()).toEqual([]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ value: 'back.example', action: 'create' });
    expect(rejected[0]!.reason).toMatch(/revoked indicator indicator--.*cannot be undone.*24 h/);
    const calls = fake.calls.length;
    await rec.state.markDirty(['back.example']);
    await drain(rec);
    expect(fake.calls.length).toBe(calls);
  });

  it('429: the shared budget is paused, no failure counted, the value is retried', async () => {
    const pauses: number[] = [];
    const budget: Budget = { take: async () => {}, pause: async (ms) => void pauses.push(ms) };
    let n = 0;
    fake.fault = (c) =>
      c.kind === 'create' && n++ === 0 ? { policy: 'rate-limited', retryAfterMs: 3 } : undefined;
    const rec = engine({}, {}, budget);
    await rec.applyJob(upsert('i1', '1-0', ['v.example']));
    expect(pauses).toEqual([3]);
    const [st] = await rec.state.readValues(['v.example']);
    expect(st!.applied.failures).toBe(0);
    await drain(rec);
    expect(liveValues()).toEqual(['v.example']);
  });

  it('a configuration error leaves values dirty and is reported', async () => {
    const messages: string[] = [];
    fake.fault = () => ({ policy: 'configuration', message: 'IOC collection not found' });
    const rec = engine({ onConfigurationError: (m) => void messages.push(m) });
    const res = await rec.applyJob(upsert('i1', '1-0', ['v.example']));
    expect(res.report.configurationError).toBe('IOC collection not found');
    expect(messages).toEqual(['IOC collection not found']);
    expect(await rec.dirtyCount()).toBe(1);
    fake.fault = () => undefined;
    await drain(rec);
    expect(liveValues()).toEqual(['v.example']);
  });

  it('collection full: creates wait, revokes go on', async () => {
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['old.example']));
    rec.setCreatesBlocked(true);
    const res = await rec.applyJob(upsert('i1', '2-0', ['new.example']));
    expect(res.report).toMatchObject({ done: 1, redirtied: 1, revokes: 1, creates: 0 });
    expect(liveValues()).toEqual([]);
    expect(await rec.dirtyCount()).toBe(1);
    rec.setCreatesBlocked(false);
    await r.client.zadd(rec.state.keys.sync.dirty, 0, 'new.example');
    await drain(rec);
    expect(liveValues()).toEqual(['new.example']);
  });

  it('a new generation verifies known ids once (a manual deletion in Sekoia is repaired)', async () => {
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['a.example', 'b.example'], { generation: 1 }));
    const idA = [...fake.indicators.values()].find((i) => i.value === 'a.example')!.id;
    fake.indicators.get(idA)!.revoked = true; // someone revoked it in Sekoia's UI
    await r.client.set(rec.state.keys.generation, '2');
    await rec.applyJob(upsert('i1', '1-0', ['a.example', 'b.example'], { generation: 2 }));
    expect(fake.count('search')).toBe(2);
    expect(liveValues()).toEqual(['a.example', 'b.example']);
    await rec.applyJob(upsert('i1', '2-0', ['a.example', 'b.example'], { generation: 2, description: 'x' }));
    expect(fake.count('search')).toBe(2); // confirmed in generation 2: no more searches
  });

  it("a new generation's verify search repairs attributes edited by hand in Sekoia (no collection read)", async () => {
    // The variants matrix's re-sync stall: a job of the new generation applied while (or instead of) its collection
    // read verified the value by search, kept the fingerprint we last wrote, and the hand edit stayed for good.
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['a.example', 'b.example'], { generation: 1 }));
    const ind = [...fake.indicators.values()].find((i) => i.value === 'a.example')!;
    ind.attributes = { ...ind.attributes, description: 'edited by hand' };
    await r.client.set(rec.state.keys.generation, '2');
    await rec.applyJob(upsert('i1', '1-0', ['a.example', 'b.example'], { generation: 2 }));
    await drain(rec);
    expect(descriptionOf('a.example')).toEqual(['desc i1 @1-0']);
    expect(descriptionOf('b.example')).toEqual(['desc i1 @1-0']);
    expect(fake.count('edit')).toBe(1);
  });

  it('a verify search takes Sekoia’s default valid_until (none sent) for no difference', async () => {
    const rec = engine();
    await rec.applyJob(upsert('i1', '1-0', ['a.example'], { generation: 1 }));
    const ind = [...fake.indicators.values()][0]!;
    ind.attributes = { ...ind.attributes, validUntil: '2027-01-01T00:00:00.000Z' };
    await r.client.set(rec.state.keys.generation, '2');
    await rec.applyJob(upsert('i1', '1-0', ['a.example'], { generation: 2 }));
    await drain(rec);
    expect(fake.count('search')).toBe(1);
    expect(fake.count('edit')).toBe(0);
  });

  it('sweep: indicators not seen in the new generation are removed', async () => {
    const rec = engine();
    await rec.applyJob(
      upsert('i1', '1-0', ['keep.example', 'gone.example'], { generation: 1, description: 'kept' }),
    );
    await rec.applyJob(upsert('i2', '1-1', ['i2.example'], { generation: 1 }));
    // Generation 2 re-reads the stream: only i1 is still there.
    await r.client.set(rec.state.keys.generation, '2');
    await rec.applyJob(upsert('i1', '5-0', ['keep.example'], { generation: 2, description: 'kept' }));
    const sweep = await sweepUnseen(rec.state, 2);
    expect(sweep).toMatchObject({ removed: 1, skipped: false });
    expect(await sweepUnseen(rec.state, 2)).toMatchObject({ skipped: true });
    await drain(rec);
    expect(liveValues()).toEqual(['keep.example']);
    expect(descriptionOf('keep.example')).toEqual(['kept']);
    // A late event of generation 2 for the swept indicator still wins over the sweep.
    await rec.applyJob(upsert('i2', '2-0', ['i2.example'], { generation: 2 }));
    expect(liveValues()).toEqual(['i2.example', 'keep.example']);
  });
});

describe('concurrent reconcilers', () => {
  let r: TestRedis;
  beforeEach(async () => {
    r = await testRedis('conc');
  });
  afterEach(async () => {
    await r.cleanup();
  });

  /** A seeded PRNG so a failure can be replayed. */
  function rng(seed: number) {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  // Config 'renewed': locks are renewed in time. Config 'lost locks': 30 ms locks expire between renewals and
  // 3% of requests take 150 ms, so claims lose values mid-write all the time (the write horizon, 1 s, still
  // bounds a request, which is the one timing assumption).
  const configs = {
    renewed: { lockTtlMs: 5_000, writeHorizonMs: 200, slowMs: 0 },
    'lost locks': { lockTtlMs: 30, writeHorizonMs: 1_000, slowMs: 150 },
  };
  it.each([
    [1, 'renewed'],
    [2, 'renewed'],
    [3, 'renewed'],
    [4, 'lost locks'],
    [5, 'lost locks'],
  ] as const)(
    '4 engines, reordered and duplicated events and Sekoia faults converge (seed %i, %s)',
    async (seed, config) => {
      const { lockTtlMs, writeHorizonMs, slowMs } = configs[config];
      const rand = rng(seed);
      const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
      const pool = Array.from({ length: 30 }, (_, i) => `v${i}.example`);
      const indicators = Array.from({ length: 15 }, (_, i) => `ind${i}`);
      const events: IndicatorJob[] = [];
      for (let n = 1; n <= 200; n++) {
        const id = pick(indicators);
        const eventId = `${1000 + n}-0`;
        if (rand() < 0.2) events.push(remove(id, eventId));
        else {
          const k = Math.floor(rand() * 4);
          const vals = Array.from({ length: k }, () => pick(pool));
          events.push(upsert(id, eventId, vals, { description: `d${Math.floor(rand() * 3)}` }));
        }
      }
      // Oracle: the last event of each indicator in stream order.
      const last = new Map<string, IndicatorJob>();
      for (const e of events) last.set(e.indicatorId, e);
      const expected = new Map<string, string>();
      for (const e of [...last.values()].sort(
        (a, b) => Number(a.eventId.split('-')[0]) - Number(b.eventId.split('-')[0]),
      )) {
        if (e.op === 'upsert') for (const v of e.values) expected.set(v, e.attributes.description);
      }
      // Delivery: roughly in stream order (each event moved by up to 8 places, as parallel producers and
      // retries do), 30% delivered twice.
      const delivery = [...events, ...events.filter(() => rand() < 0.3)]
        .map((e) => ({ e, key: events.indexOf(e) + rand() * 8 }))
        .sort((x, y) => x.key - y.key)
        .map((x) => x.e);
      const fake = new FakeSekoia();
      fake.fault = (c) => {
        const x = rand();
        if (c.kind !== 'search' && x < 0.05) return { lose: true };
        if (x < 0.1) return { policy: 'retryable' };
        if (x < 0.12) return { policy: 'rate-limited', retryAfterMs: 1 };
        const ms = slowMs > 0 && rand() < 0.03 ? slowMs : Math.floor(rand() * 3);
        return { gate: new Promise((res) => setTimeout(res, ms)) };
      };
      const engines = Array.from(
        { length: 4 },
        () =>
          new Reconciler(
            new SyncState(r.connect(), { keyPrefix: r.prefix, connectorId: 'c1', lockTtlMs, writeHorizonMs }),
            fake,
            unlimitedBudget,
            {
              ...FAST,
            },
          ),
      );
      // Each engine also drains the dirty set in the background, as the worker's drainer does.
      let draining = true;
      const drainers = engines.map(async (e) => {
        while (draining) {
          const report = await e.reconcileDirty({ max: 20 });
          if (report.claimed === 0) await new Promise((res) => setTimeout(res, 20));
        }
      });
      try {
        let next = 0;
        await Promise.all(
          engines.map(async (e) => {
            while (next < delivery.length) {
              const job = delivery[next++]!;
              await e.applyJob(job);
            }
          }),
        );
        await waitFor(async () => (await engines[0]!.dirtyCount()) === 0, {
          what: 'dirty set drained',
          timeoutMs: 60_000,
        });
      } finally {
        draining = false;
        await Promise.all(drainers);
      }
      const live = fake.live();
      // Exactly one live Sekoia indicator per desired value, carrying the last event's attributes; nothing else.
      expect([...live.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [v, list] of live)
        expect(
          list.map((a) => a.description),
          v,
        ).toEqual([expected.get(v)]);
    },
  );
});
