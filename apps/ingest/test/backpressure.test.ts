/**
 * Acceptance 4: with no worker, the backlog never exceeds the high-water mark plus one batch and ingest stops
 * reading; once a worker drains the queue below the low-water mark, reading resumes from the checkpoint, and in
 * the end every event is enqueued.
 */
import { jobId } from '@octi-sekoia/model';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestService } from '../src/ingest-service.ts';
import { inProcessIngest, jobIds } from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator;
const services: IngestService[] = [];
const workers: Worker[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-bp');
  sim = await startOpenCtiSimulator({ heartbeatMs: 100 });
});
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
  for (const s of services.splice(0)) await s.stop();
  await sim.close();
  await r.cleanup();
});

describe('ingest backpressure', () => {
  it('stops reading above the high-water mark, resumes below the low-water mark, enqueues everything', async () => {
    const highWatermark = 1000;
    const lowWatermark = 200;
    const batchSize = 100;
    const refs = Array.from({ length: 6000 }, (_, i) =>
      sim.control.createIndicator({ pattern: `[ipv4-addr:value = '10.${i >> 8}.${i & 255}.1']` }),
    );
    const { service, queues, log } = inProcessIngest(r, sim, { highWatermark, lowWatermark, batchSize });
    services.push(service);

    // Sample the backlog as ingest counts it (waiting, prioritized, delayed) as often as Redis answers.
    let max = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const c = await queues.indicators.getJobCounts('waiting', 'prioritized', 'delayed');
        max = Math.max(max, (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0));
        samples++;
      }
    })();

    service.start();
    // No worker: ingest pauses and closes the stream; the backlog stays where the pause left it.
    await waitFor(() => service.readiness().reason?.startsWith('paused'), { what: 'the pause' });
    await waitFor(() => sim.control.connections().length === 0, { what: 'the stream closed' });
    const paused = await queues.indicators.count();
    expect(paused).toBeGreaterThanOrEqual(highWatermark);
    expect(paused).toBeLessThanOrEqual(highWatermark + batchSize);
    // A worker that only completes jobs drains the queue: reading resumes (and pauses again) until the end. It
    // notes the ids it completed: the queue keeps only the newest completed jobs (packages/queue completedKept).
    const completed = new Set<string>();
    const enqueued = async () => new Set([...completed, ...(await jobIds(queues))]);
    const worker = new Worker('indicators', async (job) => void completed.add(job.id ?? ''), {
      connection: r.connect(),
      prefix: queues.keys.bullPrefix,
      concurrency: 50,
    });
    workers.push(worker);
    const expected = new Set(
      refs.map((ref) =>
        jobId({
          kind: 'indicator',
          generation: 1,
          eventId: ref.eventId,
          indicatorId: ref.internalId,
        } as Parameters<typeof jobId>[0]),
      ),
    );
    await waitFor(async () => (await enqueued()).size >= expected.size, {
      timeoutMs: 60_000,
      what: 'every event enqueued',
    });
    sampling = false;
    await sampler;

    const ids = [...(await enqueued())];
    expect(ids.filter((id) => !expected.has(id))).toEqual([]);
    const got = new Set(ids);
    expect([...expected].filter((id) => !got.has(id))).toEqual([]);
    const pauses = log.lines.filter((l) => l.msg.startsWith('backlog above the high-water mark')).length;
    const resumes = log.lines.filter((l) => l.msg.startsWith('backlog below the low-water mark')).length;
    expect(pauses).toBeGreaterThanOrEqual(1);
    expect(resumes).toBeGreaterThanOrEqual(1);
    // Each resume reconnected from the committed checkpoint, not from the start.
    const attempts = sim.control.connectionLog();
    expect(attempts.length).toBe(resumes + 1);
    expect(attempts.slice(1).every((a) => a.headers['last-event-id'] !== '0-0')).toBe(true);
    expect(max).toBeLessThanOrEqual(highWatermark + batchSize);
    expect(max).toBeGreaterThanOrEqual(highWatermark);
    console.info(
      `backpressure: max backlog ${max} (high-water ${highWatermark}, batch ${batchSize}) over ${samples} samples, ` +
        `${pauses} pauses, ${resumes} resumes`,
    );
  });
});
