// The sync engine on a real Redis Cluster (3 masters started by the test): every script and multi-key command
// stays in one slot because every key of a connector carries its hash tag (packages/queue/src/keys.ts). Without
// the tag, recordDesired, claims and applyJob fail with CROSSSLOT (or a key on another node).
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createQueues, luaSource } from '@octi-sekoia/queue';
import { type RedisCluster, startRedisCluster, waitFor } from '@octi-sekoia/testkit';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CollectionSource } from '../src/collection-reads.ts';
import {
  type Budget,
  CollectionReads,
  claimCollection,
  collectionOwnerKey,
  createSyncEngine,
  forgetCollectionsOwnedBy,
  RequestBudget,
  SyncState,
} from '../src/index.ts';
import { FakeSekoia } from './fake-sekoia.ts';
import { remove, upsert } from './helpers.ts';

const FAST = {
  lingerMs: 5,
  backoffBaseMs: 1,
  backoffMaxMs: 10,
  lostAnswerSearchDelayMs: 0,
  defaultRetryAfterMs: 1,
  configurationRetryMs: 1,
};

describe('the sync engine on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let redis: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    redis = cluster.connect();
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('applies jobs, reconciles, reads the collection and sweeps: the fake collection ends as desired', async () => {
    const fake = new FakeSekoia();
    const rec = createSyncEngine({
      redis,
      port: fake,
      keyPrefix: 'cluster-test',
      connectorId: 'c1',
      writeHorizonMs: 200,
      budget: new RequestBudget(redis, {
        keyPrefix: 'cluster-test',
        host: 'api.sekoia.test',
        apiKey: 'k',
        ratePerSecond: 1000,
        burst: 100,
      }),
      ...FAST,
    });
    // Values whose plain keys would hash to many slots (and nodes).
    const values = Array.from({ length: 40 }, (_, i) => `v${i}.example`);
    for (let i = 0; i < 10; i++)
      await rec.applyJob(upsert(`i${i}`, `1-${i}`, values.slice(i * 4, i * 4 + 4), { description: 'd' }));
    await rec.applyJob(remove('i9', '1-20'));
    // i8 changes its values: the old ones are un-indexed inside the script (keys found in the indicator hash).
    await rec.applyJob(upsert('i8', '1-21', ['moved.example'], { description: 'd' }));
    await waitFor(
      async () => {
        await rec.reconcileDirty({ max: 100 });
        return (await rec.dirtyCount()) === 0;
      },
      { what: 'the dirty set drained', intervalMs: 5 },
    );
    const expected = [...values.slice(0, 32), 'moved.example'].sort();
    expect([...fake.live().keys()].sort()).toEqual(expected);

    // A generation-2 read of the collection, then the sweep of generation 2: every indicator not seen in it goes.
    const reads = new CollectionReads(redis, { keyPrefix: 'cluster-test', connectorId: 'c1' });
    const source: CollectionSource = {
      async listAll(onPage) {
        const all = [...fake.indicators.values()].map((i) => ({
          id: i.id,
          name: i.value,
          revoked: i.revoked,
          valid_from: i.attributes.validFrom,
          valid_until: i.attributes.validUntil ?? null,
          kill_chain_phases: i.attributes.killChainPhases,
          description: i.attributes.description,
        }));
        await onPage(all);
        return all.length;
      },
    };
    expect((await reads.read(2, source)).kind).toBe('read');
    await rec.applyJob(upsert('i0', '2-0', values.slice(0, 4), { generation: 2, description: 'd' }));
    expect((await rec.sweep(2)).removed).toBe(8);
    await reads.dirtySwept();
    await waitFor(
      async () => {
        await rec.reconcileDirty({ max: 100 });
        return (await rec.dirtyCount()) === 0;
      },
      { what: 'the dirty set drained after the sweep', intervalMs: 5 },
    );
    expect([...fake.live().keys()].sort()).toEqual(values.slice(0, 4).sort());

    // SCANs of the connector's keys walk the master serving its slot.
    expect(await reads.dropAppliedState()).toBeGreaterThan(0);
  }, 60_000);

  it('collection-owner records, on whichever master they land, are found and forgotten per key prefix', async () => {
    const me = { connectorId: 'c1', keyPrefix: 'cluster-owner-test' };
    const keys = Array.from({ length: 12 }, (_, i) =>
      collectionOwnerKey('https://api.sekoia.test', `coll-${i}`),
    );
    for (const key of keys) expect((await claimCollection(redis, key, me, 'test')).kind).toBe('claimed');
    expect(new Set(await Promise.all(keys.map((k) => cluster.masterPortOf(k)))).size).toBeGreaterThan(1);
    expect(await forgetCollectionsOwnedBy(redis, 'cluster-owner-test')).toBe(12);
  });

  it('migrates a layout-1 state, pauses the budget, renews a claim and supersedes a generation', async () => {
    const opts = { keyPrefix: 'cluster-rare', connectorId: 'c1' };
    const state = new SyncState(redis, opts);
    const s = state.keys.sync;
    await redis.sadd(s.legacyLive, 'i1');
    await redis.sadd(`${s.legacyIndexPrefix}x.example`, 'i1');
    await redis.hset(s.indicator('i1'), { g: '1', e: '1-0', live: '1', vals: '["x.example"]' });
    expect(await state.migrate()).toEqual({ index: 1, indicators: 1 });
    expect(await state.indicatorsOf('x.example')).toEqual(['i1']);

    const budget = new RequestBudget(redis, { keyPrefix: 'cluster-rare', host: 'h', apiKey: 'k' });
    await budget.pause(60_000);
    expect(await budget.pausedForMs()).toBeGreaterThan(0);

    await state.markDirty(['x.example']);
    const claim = await state.claimDirty(10);
    expect([...(await state.renew(claim))]).toEqual(['x.example']);

    await redis.set(state.keys.generation, '3');
    const reads = new CollectionReads(redis, opts);
    expect(await reads.supersede()).toBe(2);

    // A tombstone pruned once ingest's checkpoint is past it (the queues' lists and job hashes in the slot): held
    // back first by an older job of its indicator whose id is not of the model's form, so the script reads the
    // job's hash (an undeclared key) on the cluster.
    const pruning = new SyncState(redis, { ...opts, tombstoneMinAgeMs: 0 });
    await pruning.recordDesired(upsert('t1', '10-0', ['t.example'], { generation: 3 }));
    await pruning.recordDesired(remove('t1', '20-0', { generation: 3 }));
    await redis.set(
      state.keys.checkpoint,
      JSON.stringify({ start_from: '30-0', recover_until: null, generation: 3, sweep: null }),
    );
    const queues = createQueues(redis, opts.keyPrefix, opts.connectorId);
    try {
      const job = await queues.indicators.add(
        'upsert',
        upsert('t1', '15-0', ['t.example'], { generation: 3 }),
        { jobId: 'not-a-model-id' },
      );
      expect(await pruning.pruneTombstones()).toMatchObject({ pruned: 0, bound: '30-0' });
      expect(await pruning.readIndicator('t1')).toMatchObject({ live: false, eventId: '20-0' });
      await job.remove();
    } finally {
      await queues.close();
    }
    expect(await pruning.pruneTombstones()).toMatchObject({ pruned: 1, bound: '30-0' });
    expect(await pruning.readIndicator('t1')).toBeUndefined();
  });

  it('shares create batches across two engines (offer, seal, withdraw after a failed budget take)', async () => {
    const fake = new FakeSekoia();
    let refusals = 1;
    // The first take fails (Redis trouble on the budget): the waiting offers are withdrawn, then sent later.
    const budget: Budget = {
      async take() {
        if (refusals > 0) {
          refusals--;
          throw new Error('budget unavailable (test)');
        }
      },
      async pause() {},
    };
    const engine = () =>
      createSyncEngine({
        redis,
        port: fake,
        keyPrefix: 'cluster-shared',
        connectorId: 'c1',
        writeHorizonMs: 200,
        budget,
        sharedBatches: true,
        ...FAST,
      });
    const [a, b] = [engine(), engine()];
    const values = Array.from({ length: 24 }, (_, i) => `s${i}.example`);
    for (let i = 0; i < values.length; i++)
      await a.applyJob(upsert(`s${i}`, `1-${i}`, [values[i]!], { description: i % 2 ? 'odd' : 'even' }));
    await waitFor(
      async () => {
        await Promise.all([a.reconcileDirty({ max: 12 }), b.reconcileDirty({ max: 12 })]);
        return (await a.dirtyCount()) === 0;
      },
      { what: 'the dirty set drained by two engines sharing batches', intervalMs: 5 },
    );
    expect([...fake.live().keys()].sort()).toEqual([...values].sort());
    expect(refusals).toBe(0);
  });

  // Runs last: every sync script has run above on the cluster without an error. A script that touched an
  // undeclared key outside the slot of its KEYS would have failed there ("Script attempted to access keys that do
  // not hash to the same slot"); one that ran nowhere would prove nothing, so it is named here.
  it('ran every Lua script of packages/sync on the cluster', async () => {
    const dir = new URL('../src/lua/', import.meta.url);
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.lua'));
    // The source as loaded: with its includes expanded (a script on the includes has another SHA than its file).
    const shas = scripts.map((f) =>
      createHash('sha1')
        .update(luaSource(new URL(f, dir)))
        .digest('hex'),
    );
    const cached = new Set<number>();
    for (const n of cluster.nodes) {
      const c = new Redis(n.port, '127.0.0.1');
      const exists = (await c.script('EXISTS', ...shas)) as number[];
      exists.forEach((e, i) => {
        if (e === 1) cached.add(i);
      });
      c.disconnect();
    }
    expect(scripts.filter((_, i) => !cached.has(i))).toEqual([]);
  });
});
