// Issue 13's failure edges of the reconcile loop (cases 6, 7 and 10), each with the situation that broke it.
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Budget,
  createSyncEngine,
  type FoundIndicator,
  type ReconcilerOptions,
  type SyncStateOptions,
  unlimitedBudget,
} from '../src/index.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { upsert } from './helpers.ts';

const FAST: ReconcilerOptions = {
  lingerMs: 5,
  backoffBaseMs: 1,
  backoffMaxMs: 10,
  lostAnswerSearchDelayMs: 0,
  defaultRetryAfterMs: 1,
  configurationRetryMs: 1,
};

/** A budget that hands out tokens until `stall()`, then holds every taker until `release()`. */
class StallableBudget implements Budget {
  taken = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  waiting = 0;
  stall(): void {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  async take(): Promise<void> {
    if (this.gate) {
      this.waiting += 1;
      await this.gate;
      this.waiting -= 1;
    }
    this.taken += 1;
  }
  async pause(): Promise<void> {}
}

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
});
