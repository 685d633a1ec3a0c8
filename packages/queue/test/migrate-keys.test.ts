import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectorsKey, createQueues, keys, legacyLayout, migrateKeyLayout } from '../src/index.ts';

const CONNECTOR = 'c0ffee00-0000-4000-8000-0000000000aa';

describe('migrateKeyLayout: an upgrade from the layout before hash tags', () => {
  let r: TestRedis;
  beforeEach(async () => {
    r = await testRedis('migrate');
  });
  afterEach(async () => {
    await r.cleanup();
  });

  it('moves state, queues and the connectors set to the tagged layout in one step; then does nothing', async () => {
    const old = legacyLayout(r.prefix, CONNECTOR);
    // What a worker and ingest of the previous version left.
    const q = new Queue('indicators', { connection: r.connect(), prefix: old.base });
    await q.addBulk([
      { name: 'upsert', data: { n: 1 }, opts: { jobId: 'g1-1-0-a' } },
      { name: 'upsert', data: { n: 2 }, opts: { jobId: 'g1-2-0-b' } },
    ]);
    await q.close();
    await r.client.set(`${old.base}:checkpoint`, '{"start_from":"2-0","generation":1}');
    await r.client.hset(`${old.base}:sync:val:1.2.3.4`, { ver: '3', 'id:x': 'fp' });
    await r.client.set(`${old.base}:sync:lock:1.2.3.4`, 'token', 'PX', 60_000);
    await r.client.sadd(old.connectors, CONNECTOR);
    const k = keys(r.prefix, CONNECTOR);
    await r.client.set(k.circuit, '{"state":"closed"}');
    await r.client.set(`${old.base}:circuit`, '{"state":"open"}');

    const res = await migrateKeyLayout(r.client, r.prefix, CONNECTOR);
    expect(res.kept).toBe(1);
    expect(res.moved).toBeGreaterThan(5);
    expect(await r.client.get(k.checkpoint)).toBe('{"start_from":"2-0","generation":1}');
    expect(await r.client.hgetall(k.sync.value('1.2.3.4'))).toEqual({ ver: '3', 'id:x': 'fp' });
    expect(await r.client.pttl(k.sync.lock('1.2.3.4'))).toBeGreaterThan(0);
    expect(await r.client.smembers(connectorsKey(r.prefix))).toEqual([CONNECTOR]);
    // A key the new layout already had is not overwritten.
    expect(await r.client.get(k.circuit)).toBe('{"state":"closed"}');
    const queues = createQueues(r.client, r.prefix, CONNECTOR);
    expect((await queues.indicators.getJobs(['waiting'])).map((j) => j.id).sort()).toEqual([
      'g1-1-0-a',
      'g1-2-0-b',
    ]);
    await queues.close();
    expect(await r.client.keys(`${old.base}:*`)).toEqual([`${old.base}:circuit`]);
    expect(await r.client.exists(old.connectors)).toBe(0);

    await r.client.del(`${old.base}:circuit`);
    expect(await migrateKeyLayout(r.client, r.prefix, CONNECTOR)).toEqual({ moved: 0, kept: 0 });
  });
});
