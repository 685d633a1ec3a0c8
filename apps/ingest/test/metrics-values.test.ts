/**
 * Issue 15 item 12: the values of ingest_stream_lag_seconds and ingest_backlog_jobs, not only their presence,
 * against the OpenCTI simulator over HTTP and the real Redis.
 */
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { IngestService } from '../src/ingest-service.ts';
import { inProcessIngest, jobIds, localMetric } from './helpers.ts';

const DAY_MS = 86_400_000;

let r: TestRedis;
let sim: OpenCtiSimulator | undefined;
let worker: Worker | undefined;
const services: IngestService[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-metric-values');
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  for (const s of services.splice(0)) await s.stop();
  await sim?.close();
  sim = undefined;
  await r.cleanup();
});

it('stream lag: seconds once caught up with events 340 days old, then growing while nothing is read', async () => {
  // The events were written 340 days ago (their ids carry that time); then the platform's clock is the real one,
  // and idle heartbeats carry `<now>-0` ids as OpenCTI's do.
  let clockOffsetMs = 340 * DAY_MS;
  const s = await startOpenCtiSimulator({ heartbeatMs: 100, now: () => Date.now() - clockOffsetMs });
  sim = s;
  for (const i of [1, 2, 3]) s.control.createIndicator({ pattern: `[ipv4-addr:value = '198.51.100.${i}']` });
  clockOffsetMs = 0;
  const { service, queues, registry } = inProcessIngest(r, s);
  services.push(service);
  service.start();
  await waitFor(async () => (await jobIds(queues)).length === 3, { what: 'the three jobs' });

  const lag = () => localMetric(registry, 'ingest_stream_lag_seconds');
  await waitFor(async () => (await lag()) < 60, { what: 'the lag to come down to seconds once caught up' });

  // Nothing read any more (the server goes silent): the lag grows at every scrape.
  s.control.setSwitches({ heartbeatsPaused: true });
  const silentAt = await lag();
  await waitFor(async () => (await lag()) > silentAt + 2, { what: 'the lag to grow while nothing is read' });
});

it('backlog: the jobs waiting, and back to 0 once workers have done them', async () => {
  const s = await startOpenCtiSimulator({ heartbeatMs: 100 });
  sim = s;
  for (const i of [1, 2, 3, 4, 5])
    s.control.createIndicator({ pattern: `[ipv4-addr:value = '198.51.100.${i}']` });
  const { service, queues, registry, redis } = inProcessIngest(r, s);
  services.push(service);
  service.start();
  const backlog = () => localMetric(registry, 'ingest_backlog_jobs');
  await waitFor(async () => (await backlog()) === 5, { what: 'a backlog of the five waiting jobs' });

  // A worker does them all.
  worker = new Worker(queues.indicators.name, async () => undefined, {
    connection: redis.duplicate(),
    prefix: queues.keys.bullPrefix,
  });
  await waitFor(async () => (await queues.indicators.getJobCounts('completed')).completed === 5, {
    what: 'the worker to complete the five jobs',
  });
  await waitFor(async () => (await backlog()) === 0, { what: 'the backlog gauge back at 0' });
  expect(await backlog()).toBe(0);
});
