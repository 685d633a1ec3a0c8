/**
 * addJobs (src/add-jobs.ts) writes what BullMQ's Queue.addBulk writes: the same jobs added both ways to two
 * connectors' queues leave the same keys with the same contents (job hashes but their creation time, the wait
 * list in order, the id counter, the event stream's entries, the marker), also when the jobs are added again
 * (job ids make it a no-op) and when the queue is paused — for the holder of the reader lease. A caller that does
 * not hold it writes nothing (issue 17: a late batch of a replica that lost the lease).
 */
import type { Job } from '@octi-sekoia/model';
import { type ConnectorQueues, createQueues } from '@octi-sekoia/queue';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { Queue } from 'bullmq';
import { unpack } from 'msgpackr';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { addJobs, bullmqArgs, jobTemplate, LeaseRefusedError } from '../src/add-jobs.ts';

let r: TestRedis;
let redis: ReturnType<TestRedis['connect']>;
let viaAddBulk: ConnectorQueues;
let viaAddJobs: ConnectorQueues;

const TOKEN = 'this-reader';
/** The reader lease of viaAddJobs's connector, held by TOKEN. */
let lease: { key: string; token: string };

beforeEach(async () => {
  r = await testRedis('ingest-add-jobs');
  redis = r.connect();
  viaAddBulk = createQueues(redis, r.prefix, '11111111-1111-4111-8111-111111111111');
  viaAddJobs = createQueues(redis, r.prefix, '22222222-2222-4222-8222-222222222222');
  lease = { key: viaAddJobs.keys.lease, token: TOKEN };
  await redis.set(lease.key, TOKEN, 'PX', 600_000);
});
afterEach(async () => {
  await viaAddBulk.close();
  await viaAddJobs.close();
  await r.cleanup();
});

const indicator = (n: number): Job => ({
  kind: 'indicator',
  generation: 1,
  eventId: `1700000000000-${n}`,
  op: n % 3 === 0 ? 'remove' : 'upsert',
  indicatorId: `ind-${n}`,
  stixId: `indicator--${n}`,
  attributes: {
    validFrom: '2026-01-01T00:00:00.000Z',
    validUntil: '2027-01-01T00:00:00.000Z',
    killChainPhases: [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
    description: `indicator ${n} ✓`,
  },
  values: n % 3 === 0 ? [] : [`198.51.100.${n}`],
});

function bulk(jobs: Job[]) {
  return jobs.map((data) => ({
    name: data.kind === 'indicator' ? data.op : 'sweep',
    data,
    opts: {
      jobId:
        data.kind === 'indicator' ? `g1-${data.eventId}-${data.indicatorId}` : `g1-${data.eventId}-sweep`,
    },
  }));
}

/** Every key of a connector's indicators queue, by the part after the queue name, with its content. */
async function queueState(q: ConnectorQueues): Promise<Record<string, unknown>> {
  const base = `${q.keys.bullPrefix}:${q.keys.queues.indicators}:`;
  const keys = await redis.keys(`${base}*`);
  const state: Record<string, unknown> = {};
  for (const key of keys.sort()) {
    const type = await redis.type(key);
    const name = key.slice(base.length);
    if (type === 'hash') {
      const h = await redis.hgetall(key);
      delete h.timestamp; // the time of the add
      state[name] = h;
    } else if (type === 'list') state[name] = await redis.lrange(key, 0, -1);
    else if (type === 'zset') state[name] = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else if (type === 'stream') state[name] = (await redis.xrange(key, '-', '+')).map(([, fields]) => fields);
    else if (type === 'string') state[name] = await redis.get(key);
    else state[name] = type;
  }
  return state;
}

it('leaves the keys Queue.addBulk leaves, with the same contents, also for jobs added again', async () => {
  const first = bulk([...Array.from({ length: 7 }, (_, i) => indicator(i + 1))]);
  const second = bulk([
    indicator(3),
    indicator(8),
    { kind: 'sweep', generation: 1, eventId: '1700000000000-9' },
  ]);
  await viaAddBulk.indicators.addBulk(first);
  await addJobs(viaAddJobs.indicators, viaAddJobs.redis, first, lease);
  await viaAddBulk.indicators.addBulk(second);
  await addJobs(viaAddJobs.indicators, viaAddJobs.redis, second, lease);

  const want = await queueState(viaAddBulk);
  expect(Object.keys(want)).toContain('wait');
  expect((want.wait as string[]).length).toBe(9);
  expect(await queueState(viaAddJobs)).toEqual(want);
  const job = await viaAddJobs.indicators.getJob('g1-1700000000000-8-ind-8');
  expect(job?.data).toEqual(indicator(8));
  expect(job?.opts.attempts).toBe(25);
});

it('puts the jobs of a paused queue where Queue.addBulk puts them', async () => {
  await viaAddBulk.indicators.pause();
  await viaAddJobs.indicators.pause();
  const jobs = bulk([indicator(1), indicator(2)]);
  await viaAddBulk.indicators.addBulk(jobs);
  await addJobs(viaAddJobs.indicators, viaAddJobs.redis, jobs, lease);
  const want = await queueState(viaAddBulk);
  expect(await viaAddBulk.indicators.getWaitingCount()).toBe(2);
  expect(await queueState(viaAddJobs)).toEqual(want);
});

it('adds a batch far larger than one call takes (INGEST_BATCH_SIZE has no upper bound)', async () => {
  // 60,000 jobs are 180,000 script arguments: spread into one call, Node threw RangeError (call stack size).
  const jobs = bulk(Array.from({ length: 60_000 }, (_, i) => indicator(i + 1)));
  await addJobs(viaAddJobs.indicators, viaAddJobs.redis, jobs, lease);
  expect(await viaAddJobs.indicators.getWaitingCount()).toBe(60_000);
  const ends = [
    ...(await viaAddJobs.indicators.getWaiting(0, 0)),
    ...(await viaAddJobs.indicators.getWaiting(59_999, 59_999)),
  ];
  expect(ends.map((j) => j.id).sort()).toEqual([
    'g1-1700000000000-1-ind-1',
    'g1-1700000000000-60000-ind-60000',
  ]);
}, 120_000);

it("writes nothing, and rejects with LeaseRefusedError, when the reader lease is not the caller's", async () => {
  // A replica that lost the lease (its call sent before, resent by ioredis after a reconnect, however late)
  // must not bring back jobs the new reader's workers already applied and trimmed (issue 17).
  const jobs = bulk([indicator(1), indicator(2)]);
  await redis.set(lease.key, 'another-reader', 'PX', 600_000);
  await expect(addJobs(viaAddJobs.indicators, viaAddJobs.redis, jobs, lease)).rejects.toBeInstanceOf(
    LeaseRefusedError,
  );
  await redis.del(lease.key);
  await expect(addJobs(viaAddJobs.indicators, viaAddJobs.redis, jobs, lease)).rejects.toBeInstanceOf(
    LeaseRefusedError,
  );
  const state = await queueState(viaAddJobs);
  expect(Object.keys(state).filter((k) => k !== 'meta')).toEqual([]);
  expect(await viaAddJobs.indicators.getJob('g1-1700000000000-1-ind-1')).toBeUndefined();
});

it("builds the jobs after a call's first from its arguments, as BullMQ builds them", async () => {
  // addJobs takes this path for every job but the first: the comparisons with addBulk above go through it.
  const [first, ...others] = bulk([
    indicator(1),
    indicator(3),
    { kind: 'sweep', generation: 1, eventId: '1700000000000-9' },
  ]);
  const firstArgs = await bullmqArgs(viaAddJobs.indicators, first!);
  const template = jobTemplate(firstArgs, first!);
  expect(template).toBeTypeOf('function');
  const createdAt = (unpack(firstArgs[9] as Buffer) as unknown[])[3];
  for (const j of others) {
    const want = await bullmqArgs(viaAddJobs.indicators, j);
    const got = template!(j);
    expect(got.slice(0, 9)).toEqual(want.slice(0, 9));
    // The packed arguments: BullMQ's, with the first job's creation time.
    const wantArgs = unpack(want[9] as Buffer) as unknown[];
    wantArgs[3] = createdAt;
    expect(unpack(got[9] as Buffer)).toEqual(wantArgs);
    expect(got[10]).toBe(want[10]);
    expect(Buffer.compare(got[11] as Buffer, want[11] as Buffer)).toBe(0);
  }
  // BullMQ's job id rules, with its messages.
  for (const jobId of ['12345', 'a:b']) {
    const j = { ...first!, opts: { jobId } };
    const message = await bullmqArgs(viaAddJobs.indicators, j).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(message).not.toBe('accepted');
    expect(() => template!(j)).toThrow(message);
  }
});

it('leaves every job to BullMQ when the queue has options whose effect depends on the job', async () => {
  const q = new Queue<Job>('other', {
    connection: redis,
    prefix: `${r.prefix}:other`,
    defaultJobOptions: { attempts: 3, sizeLimit: 10_000 },
  });
  try {
    const [first] = bulk([indicator(1)]);
    expect(jobTemplate(await bullmqArgs(q, first!), first!)).toBeUndefined();
  } finally {
    await q.close();
  }
});
