// Create batches shared by every engine of a connector (issue 18): one open batch per field group in Redis.
import type { IndicatorJob } from '@octi-sekoia/model';
import { keys } from '@octi-sekoia/queue';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Budget, createSyncEngine, type SekoiaPort, unlimitedBudget } from '../src/index.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { attrs, StallableBudget } from './helpers.ts';

/** One indicator per value, `description` naming its field group; valid_from differs per value (sent per item). */
function job(group: string, n: number): IndicatorJob {
  const value = `${group}-${n}.example`;
  return {
    kind: 'indicator',
    generation: 1,
    eventId: `${n + 1}-0`,
    op: 'upsert',
    indicatorId: `${group}-${n}`,
    stixId: `indicator--${group}-${n}`,
    attributes: attrs(group, { validFrom: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString() }),
    values: [value],
  };
}

describe('shared create batches', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  beforeEach(async () => {
    r = await testRedis('shb');
    fake = new FakeSekoia();
  });
  afterEach(async () => {
    await r.cleanup();
  });

  const engine = (
    budget: Budget = unlimitedBudget,
    over: { shared?: boolean; port?: SekoiaPort; writeHorizonMs?: number } = {},
  ) =>
    createSyncEngine({
      redis: r.connect(),
      port: over.port ?? fake,
      budget,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      lingerMs: 5,
      sharedBatches: over.shared ?? true,
      lockTtlMs: 3_000,
      writeHorizonMs: over.writeHorizonMs ?? 120_000,
      lostAnswerSearchDelayMs: 0,
    });

  /** Values offered and waiting in Redis, over every group. */
  const ready = async () => {
    const g = await r.client.zrange(keys(r.prefix, 'c1').sync.createGroups, '0', '-1', 'WITHSCORES');
    let n = 0;
    for (let i = 1; i < g.length; i += 2) n += Number(g[i]);
    return n;
  };

  /** Two engines each claim half of every group's values while the shared budget holds every request back. */
  async function twoWorkers(shared: boolean) {
    const sizes: Record<string, number> = { alpha: 130, beta: 60, gamma: 10 };
    const budget = new StallableBudget();
    budget.stall();
    const [a, b] = [engine(budget, { shared }), engine(budget, { shared })];
    const halves: [string[], string[]] = [[], []];
    for (const [group, size] of Object.entries(sizes)) {
      for (let n = 0; n < size; n++) {
        const j = job(group, n);
        await a.state.recordDesired(j);
        halves[n % 2]!.push(j.values[0]!);
      }
    }
    const claims = [a.reconcileValues(halves[0]), b.reconcileValues(halves[1])];
    await waitFor(() => a.collector.openValues + b.collector.openValues === 200, {
      what: 'every create submitted while the budget holds the requests back',
    });
    if (shared) await waitFor(async () => (await ready()) === 200, { what: 'every value offered in Redis' });
    budget.release();
    const reports = await Promise.all(claims);
    return { sizes, reports, creates: fake.count('create') };
  }

  it('two engines fill one create per field group: creates = Σ⌈n_g/100⌉', async () => {
    const { sizes, reports, creates } = await twoWorkers(true);
    const ideal = Object.values(sizes).reduce((s, n) => s + Math.ceil(n / 100), 0);
    expect(creates).toBe(ideal);
    expect(reports.reduce((s, rep) => s + rep.done, 0)).toBe(200);
    // Each value created once, with its group's fields and its own valid_from.
    const live = fake.live();
    expect(live.size).toBe(200);
    for (const [value, list] of live) {
      expect(list).toHaveLength(1);
      expect(list[0]!.description).toBe(value.split('-')[0]);
    }
    expect(live.get('alpha-7.example')?.[0]?.validFrom).toBe('2026-01-01T00:00:07.000Z');
    expect(await ready()).toBe(0);
  });

  it('the same two engines batching alone send one create per field group each', async () => {
    const { creates } = await twoWorkers(false);
    expect(creates).toBe(6);
  });

  it('a sealer that dies after sending: the claim searches after the write horizon, no duplicate', async () => {
    // Engine B seals A's values with its own, sends the request (Sekoia creates them), and never answers — as a
    // process killed mid-request. A's budget holds A's own requests back, so B is the only sender.
    let kill = (_: unknown) => {};
    const dead = new Promise<never>((_, reject) => {
      kill = reject;
    });
    const dying: SekoiaPort = Object.assign(Object.create(fake) as SekoiaPort, {
      createBatch: async (...args: Parameters<SekoiaPort['createBatch']>) => {
        await fake.createBatch(...args);
        return dead;
      },
    });
    const horizon = 1_500;
    const aBudget = new StallableBudget();
    aBudget.stall();
    const a = engine(aBudget, { writeHorizonMs: horizon });
    const b = engine(unlimitedBudget, { port: dying, writeHorizonMs: horizon });
    const values: string[] = [];
    for (let n = 0; n < 5; n++) {
      const j = job('alpha', n);
      await a.state.recordDesired(j);
      values.push(j.values[0]!);
    }
    const aClaim = a.reconcileValues(values.slice(0, 4));
    await waitFor(async () => (await ready()) === 4, { what: "A's values offered" });
    const bClaim = b.reconcileValues([values[4]!]);
    await waitFor(() => fake.count('create') === 1, { what: "B's request with A's values" });
    expect(fake.live().size).toBe(5);
    // A takes the outcome for unknown a write horizon after its values left the group: searched before any retry.
    expect(await aClaim).toMatchObject({ done: 0, redirtied: 4 });
    aBudget.release();
    kill(new Error('process killed'));
    await bClaim.catch(() => undefined);
    await waitFor(
      async () => {
        await a.reconcileDirty({ max: 10 });
        return (await a.dirtyCount()) === 0;
      },
      // B's own value too: its answer died with B, its intent expires a write horizon later.
      { what: 'every value confirmed by a search', timeoutMs: 30_000 },
    );
    expect(fake.count('create')).toBe(1);
    expect(fake.count('search')).toBeGreaterThanOrEqual(4);
    for (const v of values) expect(fake.live().get(v)).toHaveLength(1);
  });
});
