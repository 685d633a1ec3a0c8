// The sweep follows the recovery's last job promptly (issue 18 point 1): a sweep marker held back only by jobs
// that are running when a worker takes it looks again in the processor, instead of waiting sweepRecheckMs in the
// delayed set (the values held for the sweep, and the whole request budget, wait for it).
import { jobId, type SweepMarkerJob } from '@octi-sekoia/model';
import { createQueues, keys } from '@octi-sekoia/queue';
import type { Reconciler } from '@octi-sekoia/sync';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProcessor } from '../src/process-job.ts';
import { CONNECTOR_ID, upsert } from './harness.ts';

let r: TestRedis;
beforeEach(async () => {
  r = await testRedis('sweep-prompt');
});
afterEach(async () => {
  await r.cleanup();
});

describe('sweep marker held back by running jobs', () => {
  it('sweeps once the running jobs of its generation are done, without a trip through the delayed set', async () => {
    const queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
    const k = keys(r.prefix, CONNECTOR_ID);
    // The recovery's last job is running (its recording not finished) when the marker is taken.
    let release: () => void = () => undefined;
    const recording = new Promise<void>((resolve) => {
      release = resolve;
    });
    let jobsRunning = 0;
    const swept: number[] = [];
    const outcomes: string[] = [];
    const reconciler = {
      recordDesired: async () => {
        jobsRunning++;
        await recording;
        return { outcome: 'applied', dirtied: [] };
      },
      applyJob: async () => {
        jobsRunning++;
        await recording;
        return { outcome: 'applied', dirtied: [], report: {} };
      },
      sweep: async (generation: number) => {
        swept.push(generation);
        return { removed: 0, dirtied: 0, skipped: false, kept: [] };
      },
    } as unknown as Reconciler;
    const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined };
    const processor = createProcessor({
      reconciler,
      keys: k,
      redis: r.client,
      settings: {
        retryAttempts: 3,
        backoffMs: 100,
        backoffMaxMs: 1_000,
        transientRetryWindowMs: 1_000,
        // Far beyond the test's wait: a marker moved to the delayed set would not be back in time.
        sweepRecheckMs: 120_000,
        inlineMaxActive: 4,
      },
      redact: (t) => t,
      onOutcome: (kind, outcome) => outcomes.push(`${kind}:${outcome}`),
      log: silent,
    });
    const job = upsert('a', '100-0', ['a.example']);
    const marker: SweepMarkerJob = { kind: 'sweep', generation: 1, eventId: '200-0' };
    await queues.indicators.add('upsert', job, { jobId: jobId(job) });
    await queues.indicators.add('sweep', marker, { jobId: jobId(marker) });
    const worker = new Worker(k.queues.indicators, processor, {
      connection: r.connect(),
      prefix: k.bullPrefix,
      concurrency: 2,
    });
    try {
      // The marker taken (and looked at) while the job still runs.
      await waitFor(
        async () => jobsRunning === 1 && (await queues.indicators.getJobState(jobId(marker))) !== 'waiting',
        { timeoutMs: 20_000, what: 'the job to be running and the marker taken' },
      );
      expect(swept).toEqual([]);
      release();
      await waitFor(async () => (await queues.indicators.getJob(jobId(marker)))?.finishedOn, {
        timeoutMs: 30_000,
        what: 'the sweep marker to complete',
      });
      expect(swept).toEqual([1]);
      expect(outcomes.filter((o) => o.startsWith('sweep:'))).toEqual(['sweep:swept']);
      expect(await queues.indicators.getJobState(jobId(job))).toBe('completed');
    } finally {
      release();
      await worker.close();
      await queues.close();
    }
  }, 60_000);
});
