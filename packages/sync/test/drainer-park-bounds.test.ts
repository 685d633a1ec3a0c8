// Review findings on parked claims (fixpark): the maxOpenCreates bound with the per-process collector, a small
// field group starved by the fullest-first seal, and the values a stopping (or collection-full) process had
// offered but not sealed.
import type { IndicatorJob } from '@octi-sekoia/model';
import { keys } from '@octi-sekoia/queue';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DrainerOptions } from '../src/drainer.ts';
import { type Budget, createSyncEngine, Drainer } from '../src/index.ts';
import { pickGroup } from '../src/shared-batch.ts';
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
    attributes: attrs(group, { validFrom: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString() }),
    values: [`${group}-${n}.example`],
  };
}

/** Hands out exactly the tokens granted (in the order they were asked for). */
class GrantedBudget implements Budget {
  private permits = 0;
  private readonly waiters: (() => void)[] = [];
  grant(n: number): void {
    this.permits += n;
    while (this.permits > 0 && this.waiters.length > 0) {
      this.permits--;
      this.waiters.shift()!();
    }
  }
  get waiting(): number {
    return this.waiters.length;
  }
  async take(): Promise<void> {
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  async pause(): Promise<void> {}
}

/** The drainer's settings in these tests: short sleeps, no burst; `over` names what a test is about. */
function drainerOptions(
  over: Partial<DrainerOptions> & Pick<DrainerOptions, 'batch' | 'concurrency'>,
): DrainerOptions {
  return { idleMs: 10, settleMs: 0, burst: () => false, configurationRetryMs: 1_000, ...over };
}

describe('pickGroup: the group a seal loop with a token seals', () => {
  const cases: [string, Parameters<typeof pickGroup>, string | undefined][] = [
    ['nothing offered anywhere', [undefined, undefined, 10_000, 3_000], undefined],
    ['no own value waiting: the fullest', ['big', undefined, 10_000, 3_000], 'big'],
    [
      'own oldest younger than the bound: the fullest',
      ['big', { group: 'small', at: 8_000 }, 10_000, 3_000],
      'big',
    ],
    [
      'own oldest waited exactly the bound: its group',
      ['big', { group: 'small', at: 7_000 }, 10_000, 3_000],
      'small',
    ],
    ['own oldest waited longer: its group', ['big', { group: 'small', at: 1_000 }, 10_000, 3_000], 'small'],
    ['own oldest is in the fullest group', ['big', { group: 'big', at: 1_000 }, 10_000, 3_000], 'big'],
    [
      'the groups zset is empty (read before an offer landed)',
      [undefined, { group: 'small', at: 0 }, 10_000, 3_000],
      'small',
    ],
  ];
  for (const [name, args, want] of cases) it(name, () => expect(pickGroup(...args)).toBe(want));
});

describe('drainer: parked claims, bounds and hand-back', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  const stops: (() => Promise<void>)[] = [];
  beforeEach(async () => {
    r = await testRedis('parkb');
    fake = new FakeSekoia();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await r.cleanup();
  });

  const offeredCount = async () => {
    const g = await r.client.zrange(keys(r.prefix, 'c1').sync.createGroups, '0', '-1', 'WITHSCORES');
    let n = 0;
    for (let i = 1; i < g.length; i += 2) n += Number(g[i]);
    return n;
  };

  it('per-process collector: full batches waiting for their token count against maxOpenCreates', async () => {
    const budget = new StallableBudget();
    budget.stall();
    const engine = createSyncEngine({
      redis: r.connect(),
      port: fake,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 5,
      lockTtlMs: 5_000,
    });
    for (let n = 0; n < 1000; n++) await engine.state.recordDesired(job('g', n));
    // Count the drainer's looks at the bound, to know it went round its loop after reaching it.
    let looks = 0;
    const openCreates = () => engine.collector.openValues;
    Object.defineProperty(engine, 'openCreates', {
      get: () => {
        looks++;
        return openCreates();
      },
    });
    const drainer = new Drainer(engine, drainerOptions({ batch: 100, concurrency: 1, maxOpenCreates: 200 }));
    stops.push(async () => {
      budget.release();
      await drainer.stop();
    });
    drainer.start();
    // Before: only the open (not full) batch counted, so at most 99 of the held values — never 200: the drainer
    // parked claim after claim until every dirty value was locked.
    await waitFor(() => engine.collector.openValues >= 200, { what: '200 creates open', timeoutMs: 10_000 });
    const seen = looks;
    await waitFor(() => looks >= seen + 5, { what: 'five more turns of the drainer at its bound' });
    expect(engine.collector.openValues).toBe(200);
    expect(drainer.parkedClaims).toBe(2);
    expect(budget.waiting).toBeGreaterThan(0);
  }, 30_000);

  it('shared batches: a small group waiting starveMs is sealed before the fullest (not after its backlog)', async () => {
    let t = 1_000_000;
    const budget = new GrantedBudget();
    const engine = createSyncEngine({
      redis: r.connect(),
      port: fake,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 50,
      sharedBatches: true,
      now: () => t,
    });
    const beta: string[] = [];
    const alpha: string[] = [];
    for (let n = 0; n < 5; n++) {
      const j = job('beta', n);
      await engine.state.recordDesired(j);
      beta.push(j.values[0]!);
    }
    for (let n = 0; n < 1500; n++) {
      const j = job('alpha', n);
      await engine.state.recordDesired(j);
      alpha.push(j.values[0]!);
    }
    const runs = [engine.reconcileValues(beta)];
    await waitFor(async () => (await offeredCount()) === 5, { what: 'beta offered' });
    t += 100;
    for (let i = 0; i < alpha.length; i += 100) runs.push(engine.reconcileValues(alpha.slice(i, i + 100)));
    await waitFor(async () => (await offeredCount()) === 1505, { what: 'every value offered' });
    stops.push(async () => {
      budget.grant(1_000);
      await Promise.all(runs);
    });
    // Every value has waited past the bound (3 s); beta's are the oldest. One token: one request.
    t += 3_000;
    await waitFor(() => budget.waiting === 1, { what: 'the seal loop waiting for a token' });
    budget.grant(1);
    await waitFor(() => fake.count('create') === 1, { what: 'the first create' });
    // Before: the fullest group first, beta in the last of 16 requests.
    const first = fake.calls.find((c) => c.kind === 'create') as { values: string[] };
    expect(first.values.sort()).toEqual([...beta].sort());
    budget.grant(1_000);
    await Promise.all(runs);
    expect(fake.count('create')).toBe(16);
  }, 60_000);

  it('stop hands back the values offered and not sealed: another worker creates them at once, with no search', async () => {
    const budgetA = new StallableBudget();
    budgetA.stall();
    const common = {
      port: fake,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 5,
      sharedBatches: true,
    } as const;
    const a = createSyncEngine({ ...common, redis: r.connect(), budget: budgetA });
    const b = createSyncEngine({ ...common, redis: r.connect() });
    for (let n = 0; n < 400; n++) await a.state.recordDesired(job('alpha', n));
    const opts = drainerOptions({ batch: 100, concurrency: 2, maxOpenCreates: 400 });
    const drainerA = new Drainer(a, opts);
    const drainerB = new Drainer(b, opts);
    let stoppingA: Promise<void> | undefined;
    stops.push(async () => {
      budgetA.release();
      await Promise.all([stoppingA ?? drainerA.stop(), drainerB.stop()]);
    });
    drainerA.start();
    await waitFor(async () => (await offeredCount()) === 400, { what: "A's 400 values offered" });
    expect(drainerA.parkedClaims).toBe(4);
    // A stops while its budget holds every request (a shared or paused budget); B's is free.
    stoppingA = drainerA.stop();
    drainerB.start();
    // Before: A's claims kept the values locked (60 s) and offered under their tokens, waiting for A's budget.
    await waitFor(async () => (await b.dirtyCount()) === 0, {
      what: 'B created every value',
      timeoutMs: 15_000,
    });
    await stoppingA;
    expect(fake.count('create')).toBe(4);
    expect(fake.count('search')).toBe(0);
    expect(budgetA.taken).toBe(0);
  }, 60_000);

  it('a stopping process whose values another worker sealed seals nothing for the others', async () => {
    // Each engine its own Sekoia double, so the test sees who sent what.
    const fakeA = fake;
    const fakeB = new FakeSekoia();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const budgetA = new GrantedBudget();
    const budgetB = new GrantedBudget();
    const common = { keyPrefix: r.prefix, connectorId: 'c1', lingerMs: 5, sharedBatches: true } as const;
    const a = createSyncEngine({ ...common, port: fakeA, redis: r.connect(), budget: budgetA });
    const b = createSyncEngine({ ...common, port: fakeB, redis: r.connect(), budget: budgetB });
    const alpha: string[] = [];
    const beta: string[] = [];
    for (let n = 0; n < 10; n++) {
      const j = job('alpha', n);
      await a.state.recordDesired(j);
      alpha.push(j.values[0]!);
    }
    for (let n = 0; n < 5; n++) {
      const j = job('beta', n);
      await a.state.recordDesired(j);
      beta.push(j.values[0]!);
    }
    const groups = keys(r.prefix, 'c1').sync.createGroups;
    const runA = a.reconcileValues(alpha);
    await waitFor(async () => (await r.client.zcard(groups)) === 1, { what: 'alpha offered by A' });
    const runB = b.reconcileValues(beta);
    await waitFor(async () => (await r.client.zcard(groups)) === 2, { what: 'beta offered by B' });
    stops.push(async () => {
      open();
      budgetA.grant(100);
      budgetB.grant(100);
      await Promise.allSettled([runA, runB]);
    });
    // B seals the fullest group, A's alpha, and its request is held at Sekoia: A awaits B's answer.
    fakeB.fault = (c) => (c.kind === 'create' ? { gate } : undefined);
    await waitFor(() => budgetA.waiting === 1 && budgetB.waiting === 1, { what: 'both seal loops waiting' });
    budgetB.grant(1);
    await waitFor(() => fakeB.count('create') === 1, { what: "B's create of alpha sent (held)" });
    // A stops (nothing of its own left to hand back) and its seal loop gets a token meanwhile.
    const drainerA = new Drainer(a, drainerOptions({ batch: 100, concurrency: 1 }));
    const stopping = drainerA.stop();
    // The stop's hand-back has run once this one (idempotent, on the same connection) is answered.
    await a.withdrawCreates('stopping');
    budgetA.grant(1);
    open();
    await stopping;
    budgetB.grant(100);
    await Promise.all([runA, runB]);
    // Before: A sealed and sent B's beta values with that token, part-full (linger 0) — had A's grace ended
    // first, each would have cost a search after the write horizon.
    expect(fakeA.count('create')).toBe(0);
    expect(fakeB.count('create')).toBe(2);
    expect(await a.dirtyCount()).toBe(0);
  }, 30_000);

  it('a hand-back Redis refuses does not cut the stop short: the claims under way are still waited for', async () => {
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
    });
    for (let n = 0; n < 50; n++) await engine.state.recordDesired(job('alpha', n));
    const errors: unknown[] = [];
    const drainer = new Drainer(
      engine,
      drainerOptions({ batch: 100, concurrency: 1, onError: (err) => errors.push(err) }),
    );
    drainer.start();
    await waitFor(async () => (await offeredCount()) === 50 && drainer.parkedClaims === 1, {
      what: 'the claim parked',
    });
    // Redis refuses the hand-back script (e.g. an OOM or READONLY answer).
    const withdraw = engine.withdrawCreates.bind(engine);
    let refused = 0;
    engine.withdrawCreates = async (reason: string) => {
      if (refused++ === 0) throw new Error('OOM command not allowed');
      return withdraw(reason);
    };
    let stopped = false;
    const stopping = drainer.stop().then(() => {
      stopped = true;
    });
    stops.push(async () => {
      budget.release();
      await stopping;
    });
    // The second hand-back (after the loops ended) takes the values back; the parked claim ends with them.
    await waitFor(async () => (await offeredCount()) === 0, { what: 'the values handed back' });
    await stopping;
    // Before: stop() rejected at once, before waiting for its loops and parked claims.
    expect(stopped).toBe(true);
    expect(drainer.parkedClaims).toBe(0);
    expect(errors.map(String)).toEqual(['Error: OOM command not allowed']);
    expect(fake.count('create')).toBe(0);
  }, 30_000);

  it('per-process collector: stop hands the values back and does not wait for the tokens their batches asked for', async () => {
    const budget = new StallableBudget();
    budget.stall();
    const engine = createSyncEngine({
      redis: r.connect(),
      port: fake,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 5,
    });
    for (let n = 0; n < 150; n++) await engine.state.recordDesired(job('alpha', n));
    const drainer = new Drainer(engine, drainerOptions({ batch: 150, concurrency: 1 }));
    stops.push(async () => {
      budget.release();
      await drainer.stop();
    });
    drainer.start();
    await waitFor(() => engine.collector.openValues === 150, { what: '150 creates submitted' });
    // The budget still holds every token. Before: stop() handed the values back, then waited for the withdrawn
    // batches' tokens (forever under a held budget; the shutdown grace ended it).
    await drainer.stop();
    expect(engine.collector.openValues).toBe(0);
    expect(budget.taken).toBe(0);
    expect(fake.count('create')).toBe(0);
    expect(await engine.dirtyCount()).toBe(150);
  }, 30_000);

  it('collection full: the creates offered and not sealed are not sent', async () => {
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
    });
    const values: string[] = [];
    for (let n = 0; n < 100; n++) {
      const j = job('alpha', n);
      await engine.state.recordDesired(j);
      values.push(j.values[0]!);
    }
    const run = engine.reconcileValues(values);
    stops.push(async () => {
      budget.release();
      await run;
    });
    await waitFor(async () => (await offeredCount()) === 100, { what: 'the values offered' });
    engine.setCreatesBlocked(true);
    // Before: they stayed offered and left with the next token.
    await waitFor(async () => (await offeredCount()) === 0, {
      what: 'the values taken back',
      timeoutMs: 5_000,
    });
    budget.release();
    const report = await run;
    expect(report.creates).toBe(100);
    await waitFor(() => engine.collector.openValues === 0 && budget.waiting === 0, {
      what: 'the seal loop ended',
    });
    expect(fake.count('create')).toBe(0);
    expect(await engine.dirtyCount()).toBe(100);
  }, 30_000);
});
