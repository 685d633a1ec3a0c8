/**
 * BatchWriter.write against the real Redis: what lands in the queue and the dead letters, and the
 * ingest_jobs_enqueued_total / ingest_batch_size values (counted once per batch since issue 18).
 */
import type { Job } from '@octi-sekoia/model';
import { Registry } from '@octi-sekoia/ops';
import { type ConnectorQueues, createQueues } from '@octi-sekoia/queue';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BatchWriter, type Pending } from '../src/batch-writer.ts';
import { ingestMetrics } from '../src/metrics.ts';
import { jobIds, localMetric } from './helpers.ts';

let r: TestRedis;
let queues: ConnectorQueues;

beforeEach(async () => {
  r = await testRedis('ingest-batch-writer');
  queues = createQueues(r.connect(), r.prefix, '0e1d2c3b-4a59-4687-9786-a5b4c3d2e1f0');
  // This writer holds the reader lease (its batches are fenced by it: add-standard-jobs.lua).
  await queues.redis.set(queues.keys.lease, 'this-reader', 'PX', 600_000);
});
afterEach(async () => {
  await queues.close();
  await r.cleanup();
});

const indicator = (n: number, op: 'upsert' | 'remove'): Job => ({
  kind: 'indicator',
  generation: 1,
  eventId: `1700000000000-${n}`,
  op,
  indicatorId: `ind-${n}`,
  stixId: `indicator--${n}`,
  attributes: { validFrom: '2026-01-01T00:00:00.000Z', killChainPhases: [], description: 'd' },
  values: op === 'upsert' ? [`198.51.100.${n}`] : [],
});

it('writes the jobs and the dead letters of a batch, and counts the jobs by operation and the batch size', async () => {
  const registry = new Registry();
  const writer = new BatchWriter({
    queues,
    leaseToken: 'this-reader',
    settings: { normalize: {} as never },
    metrics: ingestMetrics(registry),
    redact: (t) => t,
    log: { warn() {} },
  });
  const batch: Pending[] = [
    { job: indicator(1, 'upsert') },
    { job: indicator(2, 'remove') },
    { deadEvent: { id: '1700000000000-3', event: 'create', data: '{' }, reason: 'bad JSON' },
    { job: indicator(4, 'upsert') },
    { job: { kind: 'sweep', generation: 1, eventId: '1700000000000-5' } },
    { job: indicator(6, 'upsert') },
  ];
  expect(await writer.write(batch)).toBe(5);
  expect(await writer.write([{ job: indicator(7, 'remove') }])).toBe(1);

  expect((await jobIds(queues)).sort()).toEqual(
    [
      'g1-1700000000000-1-ind-1',
      'g1-1700000000000-2-ind-2',
      'g1-1700000000000-4-ind-4',
      'g1-1700000000000-5-sweep',
      'g1-1700000000000-6-ind-6',
      'g1-1700000000000-7-ind-7',
    ].sort(),
  );
  expect(await queues.deadLetters.count()).toBe(1);
  const jobs = (labels: Record<string, string>) =>
    localMetric(registry, 'ingest_jobs_enqueued_total', labels);
  expect([await jobs({ op: 'upsert' }), await jobs({ op: 'remove' }), await jobs({ op: 'sweep' })]).toEqual([
    3, 2, 1,
  ]);
  const text = await registry.getSingleMetricAsString('ingest_batch_size');
  expect(text).toMatch(/^ingest_batch_size_sum 6$/m);
  expect(text).toMatch(/^ingest_batch_size_count 2$/m);
});
