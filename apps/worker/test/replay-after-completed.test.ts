/**
 * Issue 17 point 5: completed jobs are kept by count, not for a dedup horizon, because nothing relies on them.
 * BullMQ's job-id dedup only holds while the job exists; once a completed job is gone, an event replayed by
 * ingest (a checkpoint that did not advance past it) is enqueued again under the same id and processed again.
 * The desired state's fence (packages/sync/README.md "Why it converges" 1) refuses it: nothing changes in
 * Sekoia.io and no request is sent.
 */
import { jobId } from '@octi-sekoia/model';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Stack, upsert } from './harness.ts';

let stack: Stack;
beforeEach(async () => {
  stack = await Stack.start();
});
afterEach(async () => {
  await stack.close();
});

it('an event replayed after its completed job was removed changes nothing in Sekoia.io', async () => {
  const s = stack;
  const created = upsert('a', '100-0', ['replayed.example']);
  const edited = upsert('a', '200-0', ['replayed.example'], { description: 'edited' });
  const other = upsert('b', '300-0', ['other.example']);
  await s.startService();
  await s.enqueue([created, edited, other]);
  await s.waitIdle(60_000);
  const live = () =>
    s.sim.control
      .indicators()
      .filter((i) => !i.revoked)
      .map((i) => `${i.canonical} ${i.description}`)
      .sort();
  expect(live()).toEqual(['other.example shared', 'replayed.example edited']);

  // The completed job goes away (as the count-bounded retention does to old ones): its id is free again.
  await waitFor(async () => (await s.queues.indicators.getJob(jobId(created)))?.finishedOn !== undefined, {
    timeoutMs: 30_000,
    what: 'the first job to be completed',
  });
  await s.queues.indicators.remove(jobId(created));
  const requests = s.sim.control.requestCount();

  // The replay of the older event is enqueued again (no dedup left) and processed: the fence refuses it.
  await s.enqueue([created]);
  await waitFor(async () => (await s.queues.indicators.getJob(jobId(created)))?.finishedOn !== undefined, {
    timeoutMs: 30_000,
    what: 'the replayed job to be processed',
  });
  await s.waitIdle(60_000);
  expect(live()).toEqual(['other.example shared', 'replayed.example edited']);
  expect(s.sim.control.requestCount()).toBe(requests);
  expect(await s.r.client.hget(s.keys.sync.stats, 'stale')).toBe('1');
});
