import type { ListedIndicator } from '@octi-sekoia/sekoia/fields';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CollectionSource } from '../src/collection-reads.ts';
import { CollectionReads, createSyncEngine, type Reconciler } from '../src/index.ts';
import type { ReconcilerOptions } from '../src/reconciler.ts';
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

/** The fake's indicators as Sekoia lists them. */
function listed(fake: FakeSekoia, extra: Partial<ListedIndicator> = {}): ListedIndicator[] {
  return [...fake.indicators.values()].map((i) => ({
    id: i.id,
    name: i.value,
    revoked: i.revoked,
    valid_from: i.attributes.validFrom,
    valid_until: i.attributes.validUntil ?? null,
    kill_chain_phases: i.attributes.killChainPhases,
    description: i.attributes.description,
    ...extra,
  }));
}

/** A collection listed in pages of `size` (pages counted). */
function source(items: () => ListedIndicator[], size = 2) {
  const s = {
    pages: 0,
    async listAll(onPage: (p: ListedIndicator[]) => Promise<void> | void) {
      const all = items();
      for (let i = 0; i < all.length; i += size) {
        s.pages += 1;
        await onPage(all.slice(i, i + size));
      }
      return all.length;
    },
  };
  return s satisfies CollectionSource;
}

describe('collection reads (adoption, and the read at the start of a generation)', () => {
  let r: TestRedis;
  let fake: FakeSekoia;
  let rec: Reconciler;
  let reads: CollectionReads;
  beforeEach(async () => {
    r = await testRedis('adopt');
    fake = new FakeSekoia();
    rec = createSyncEngine({
      redis: r.connect(),
      port: fake,
      keyPrefix: r.prefix,
      connectorId: 'c1',
      writeHorizonMs: 200,
      ...FAST,
    });
    reads = new CollectionReads(r.connect(), { keyPrefix: r.prefix, connectorId: 'c1' });
  });
  afterEach(async () => {
    await r.cleanup();
  });

  async function drain() {
    await waitFor(
      async () => {
        await rec.reconcileDirty({ max: 100 });
        return (await rec.dirtyCount()) === 0;
      },
      { what: 'dirty set drained', intervalMs: 5 },
    );
  }
  const live = () => [...fake.live()].map(([v, list]) => [v, list.map((a) => a.description)] as const).sort();

  it('adoption: duplicates, wrong attributes and leftovers are fixed; nothing is searched or created twice', async () => {
    // What the Python connector left: keep.example right, dup.example twice, wrong.example with other
    // attributes, leftover.example that no indicator exports, and a revoked one.
    await fake.createWith(attrs('keep'), ['keep.example']);
    await fake.createWith(attrs('dup'), ['dup.example', 'dup.example']);
    await fake.createWith(attrs('old'), ['wrong.example', 'leftover.example']);
    await fake.createWith(attrs('x'), ['revoked.example']);
    await fake.revoke([...fake.indicators.values()].at(-1)!.id);
    fake.calls.length = 0;
    expect(await reads.stateExists()).toBe(false);

    const src = source(() => listed(fake));
    const res = await reads.read(1, src);
    expect(res).toMatchObject({
      kind: 'read',
      info: { generation: 1, indicators: 6, live: 5, values: 4, duplicates: 1, trusted: 4, unsure: 0 },
    });
    expect(src.pages).toBe(3);
    expect(await reads.stateExists()).toBe(true);
    expect((await reads.generations()).read).toBe(1);

    // Generation 1's recovery: keep, dup and wrong are live in OpenCTI, plus a new one.
    await r.client.set(rec.state.keys.generation, '1');
    await rec.applyJob(upsert('k', '1-0', ['keep.example'], { description: 'keep' }));
    await rec.applyJob(upsert('d', '1-1', ['dup.example'], { description: 'dup' }));
    await rec.applyJob(upsert('w', '1-2', ['wrong.example'], { description: 'right' }));
    await rec.applyJob(upsert('n', '1-3', ['new.example'], { description: 'new' }));
    await drain();
    // Leftovers wait for the sweep (an indicator of G could still claim them).
    expect(live().map(([v]) => v)).toContain('leftover.example');
    expect(await reads.dirtySwept()).toBe(0);
    await rec.sweep(1);
    expect(await reads.dirtySwept()).toBe(4);
    expect(await reads.pendingObserved()).toEqual([]);
    await drain();

    expect(live()).toEqual([
      ['dup.example', ['dup']],
      ['keep.example', ['keep']],
      ['new.example', ['new']],
      ['wrong.example', ['right']],
    ]);
    expect(fake.count('search')).toBe(0);
    expect(fake.count('create')).toBe(1);
    expect(fake.count('edit')).toBe(1);
    expect(fake.count('revoke')).toBe(2); // the duplicate and the leftover
  });

  it('a re-sync of N unchanged values costs the listing only: no search, no write', async () => {
    const n = 50;
    await r.client.set(rec.state.keys.generation, '1');
    for (let i = 0; i < n; i++)
      await rec.applyJob(upsert(`i${i}`, `1-${i}`, [`v${i}.example`], { description: `d${i}` }));
    // Sekoia gave the values a default validity (we sent none): not a difference.
    const withDefault = () => listed(fake, { valid_until: '2099-01-01T00:00:00.000Z' });
    fake.calls.length = 0;

    await r.client.set(rec.state.keys.generation, '2');
    const src = source(withDefault, 100);
    const res = await reads.read(2, src);
    expect(res).toMatchObject({ kind: 'read', info: { confirmed: n, refreshed: 0, unsure: 0, trusted: 0 } });
    for (let i = 0; i < n; i++)
      await rec.applyJob(
        upsert(`i${i}`, `2-${i}`, [`v${i}.example`], { generation: 2, description: `d${i}` }),
      );
    await drain();
    await rec.sweep(2);
    await reads.dirtySwept();
    await drain();
    expect(src.pages).toBe(1);
    expect(fake.calls).toEqual([]);
  });

  it('what changed behind our back is searched (unsure), never trusted from a stale page', async () => {
    await r.client.set(rec.state.keys.generation, '1');
    for (const [i, v] of ['a', 'b', 'c', 'd', 'e'].entries())
      await rec.applyJob(upsert(v, `1-${i}`, [`${v}.example`], { description: v }));
    const before = listed(fake);
    const idOf = (v: string) => before.find((i) => i.name === v)!.id;

    // The page is read now; then, before it is recorded: our own revoke of c.example (its indicator went).
    await rec.applyJob(remove('c', '1-9'));
    // Behind our back: an extra copy of b.example, a.example revoked, d.example edited.
    await fake.createWith(attrs('b'), ['b.example']);
    fake.indicators.get(idOf('a.example'))!.revoked = true;
    fake.indicators.get(idOf('d.example'))!.attributes = attrs('edited by hand');
    const stalePage = before; // still shows c.example live
    const now = listed(fake);
    const page = [
      ...stalePage.filter((i) => i.name === 'c.example'),
      ...now.filter((i) => i.name !== 'c.example'),
    ];
    // A write in flight on e.example (an intent of another claim).
    await r.client.hset(rec.state.keys.sync.value('e.example'), 'int:999', `edit|${Date.now()}|fp`);

    await r.client.set(rec.state.keys.generation, '2');
    const res = await reads.read(
      2,
      source(() => page, 10),
    );
    expect(res).toMatchObject({ kind: 'read', info: { confirmed: 1, refreshed: 1, unsure: 3 } });
    // The stale c.example id was not put back into the applied state.
    const applied = await rec.state.readValues(['c.example', 'b.example']);
    expect(Object.keys(applied[0]!.applied.ids)).toEqual([]);
    expect(applied[0]!.applied.unsure).toBe(true);
    expect(applied[1]!.applied.unsure).toBe(true);

    await r.client.hdel(rec.state.keys.sync.value('e.example'), 'int:999');
    for (const [i, v] of ['a', 'b', 'd', 'e'].entries())
      await rec.applyJob(upsert(v, `2-${i}`, [`${v}.example`], { generation: 2, description: v }));
    await rec.sweep(2);
    await reads.dirtySwept();
    await drain();
    expect(live()).toEqual([
      ['a.example', ['a']],
      ['b.example', ['b']],
      ['d.example', ['d']],
      ['e.example', ['e']],
    ]);
  });

  it('one reader at a time: a second read of the same generation waits, then finds it done', async () => {
    await fake.createWith(attrs('x'), ['x.example', 'y.example']);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = source(() => listed(fake), 1);
    const slowSource: CollectionSource = {
      listAll: async (onPage) => {
        await gate;
        return slow.listAll(onPage);
      },
    };
    const other = new CollectionReads(r.connect(), { keyPrefix: r.prefix, connectorId: 'c1' });
    const first = reads.read(1, slowSource);
    await waitFor(() => reads.lockHeld(), { what: 'the first reader to hold the lock' });
    const fast = source(() => listed(fake), 1);
    const second = other.read(1, fast, { waitPollMs: 20 });
    release();
    expect(await first).toMatchObject({ kind: 'read' });
    expect(await second).toEqual({ kind: 'already-read', readGeneration: 1 });
    expect(fast.pages).toBe(0);
    expect(await reads.lockHeld()).toBe(false);
  });

  it('a newer generation supersedes the sweeps of older ones; their observed values wait for its sweep', async () => {
    await fake.createWith(attrs('x'), ['left.example']);
    await r.client.set(rec.state.keys.generation, '1');
    await reads.read(
      1,
      source(() => listed(fake)),
    );
    await rec.applyJob(upsert('a', '1-0', ['a.example'], { description: 'a' }));
    expect(await reads.supersede()).toBeUndefined();
    // Generation 2 started, then 3 before 2 was swept: 2's queued jobs are refused, its seen set is partial.
    await r.client.set(rec.state.keys.generation, '3');
    expect(await reads.supersede()).toBe(2);
    expect(await reads.supersede()).toBeUndefined();
    expect(await rec.sweep(2)).toMatchObject({ skipped: true });
    // Observed values moved to 3: not dirtied before 3 is swept.
    expect(await reads.pendingObserved()).toEqual([3]);
    expect(await reads.dirtySwept()).toBe(0);
    await rec.applyJob(upsert('a', '3-0', ['a.example'], { generation: 3, description: 'a' }));
    await rec.sweep(3);
    expect(await reads.dirtySwept()).toBe(1);
    await drain();
    expect(live()).toEqual([['a.example', ['a']]]);
  });

  it('a write applied while the read runs is re-checked after it: the page fetched before it never wins', async () => {
    // The queue keeps flowing during a read (issue 18 item 4): a page is fetched, a job edits a value of it, then
    // the page is recorded. Its older attributes look like "Sekoia holds other attributes" to record-observed.
    await r.client.set(rec.state.keys.generation, '1');
    await rec.applyJob(upsert('x', '1-0', ['x.example'], { description: 'one' }));
    await rec.applyJob(upsert('y', '1-1', ['y.example'], { description: 'y' }));
    await r.client.set(rec.state.keys.generation, '2');
    const racing: CollectionSource = {
      listAll: async (onPage) => {
        const page = listed(fake); // fetched: x.example still says 'one'
        await rec.applyJob(upsert('x', '2-0', ['x.example'], { generation: 2, description: 'two' }));
        expect(live()).toContainEqual(['x.example', ['two']]);
        await onPage(page);
        return page.length;
      },
    };
    const res = await reads.read(2, racing);
    expect(res).toMatchObject({ kind: 'read', info: { refreshed: 1 } });
    const [x, y] = await rec.state.readValues(['x.example', 'y.example']);
    expect(x!.applied.unsure).toBe(true);
    expect(y!.applied.unsure).toBe(false);
    expect(await r.client.exists(rec.state.keys.sync.readTouched)).toBe(0);

    // x's indicator goes back to 'one': had the stale page's 'one' stood in the applied record, nothing would be
    // written and Sekoia would keep 'two'.
    await rec.applyJob(upsert('x', '2-1', ['x.example'], { generation: 2, description: 'one' }));
    await rec.applyJob(upsert('y', '2-2', ['y.example'], { generation: 2, description: 'y' }));
    await rec.sweep(2);
    await reads.dirtySwept();
    await drain();
    expect(live()).toEqual([
      ['x.example', ['one']],
      ['y.example', ['y']],
    ]);
  });
});
