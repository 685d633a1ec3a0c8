/**
 * Issue 17 point 5: completed indicator jobs are kept by count (for the dashboard), not for days: Redis holds a
 * bounded number of them whatever the event rate. (Nothing relies on one being kept: see
 * apps/worker/test/replay-after-completed.test.ts.)
 */
import type { IndicatorJob } from '@octi-sekoia/model';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type ConnectorQueues, createQueues } from '../src/index.ts';

const job = (n: number): IndicatorJob => ({
  kind: 'indicator',
  generation: 1,
  eventId: `${1700000000000 + n}-0`,
  op: 'upsert',
  indicatorId: `ind-${n}`,
  stixId: `indicator--${n}`,
  attributes: { validFrom: '2024-01-01T00:00:00.000Z', killChainPhases: [], description: 'd' },
  values: [`198.51.100.${n}`],
});

let r: TestRedis;
let q: ConnectorQueues;
let worker: Worker | undefined;
beforeEach(async () => {
  r = await testRedis('completed-kept');
  q = createQueues(r.client, r.prefix, 'c1', { completedKept: 2 });
});
afterEach(async () => {
  await worker?.close();
  await q.close();
  await r.cleanup();
});

it('keeps only the newest completedKept completed jobs', async () => {
  for (let n = 1; n <= 5; n++) await q.indicators.add('upsert', job(n), { jobId: `j${n}` });
  const processed: string[] = [];
  worker = new Worker(
    q.keys.queues.indicators,
    async (j) => {
      processed.push(j.id ?? '');
    },
    { connection: r.connect(), prefix: q.keys.bullPrefix, concurrency: 1 },
  );
  await waitFor(() => processed.length === 5, { timeoutMs: 30_000, what: 'the five jobs to run' });
  await waitFor(async () => (await q.indicators.getJobCounts('active')).active === 0, {
    timeoutMs: 10_000,
    what: 'the last job to finish',
  });
  expect((await q.indicators.getCompleted()).map((j) => j.id).sort()).toEqual(['j4', 'j5']);
  // The job hashes of the older ones are gone too (not only their place in the completed set).
  expect(await q.indicators.getJob('j1')).toBeUndefined();
});
