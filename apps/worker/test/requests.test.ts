import { workerTuningDefaults } from '@octi-sekoia/config';
import type { Job } from '@octi-sekoia/model';
import { afterEach, describe, expect, it } from 'vitest';
import { tuningOf } from '../src/settings.ts';
import { expectedOf, jobsOf, type NormalizeOptions, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };
/** Only creates: an initial sync. */
const CREATES_ONLY = {
  update: 0,
  changePattern: 0,
  nonExportable: 0,
  patternCollision: 0,
  revoke: 0,
  unrevoke: 0,
  delete: 0,
  recreate: 0,
  merge: 0,
  nonIndicator: 0,
};

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('Sekoia requests', () => {
  it('replaying an already-applied stream costs 0 requests', async () => {
    stack = await Stack.start();
    const s = stack;
    const messages = await scenarioMessages({ seed: 31, indicators: 300 });
    const jobs = jobsOf(messages);
    await s.startService({}, { usageIntervalMs: 600_000 });
    await s.enqueue(jobs);
    await s.waitIdle(30_000);
    expect(s.diff(expectedOf(messages))).toEqual(CONVERGED);
    const first = s.sim.control.requestCount();

    s.sim.control.resetCounters();
    // Ids of completed jobs still kept (the newest 1,000) are not even enqueued again; older ones run again.
    await s.enqueue(jobs);
    // New ids (a dead letter replayed, or completed jobs gone): the fence makes every one a no-op.
    const replayed = jobs.map((j) => ({ ...j, eventId: j.eventId }));
    await s.queues.indicators.addBulk(
      replayed.map((job: Job, i) => ({ name: 'replay', data: job, opts: { jobId: `replay-${i}` } })),
    );
    await s.waitIdle(30_000);
    const counts = await s.queues.indicators.getJobCounts('completed', 'failed');
    expect(counts.failed).toBe(0);
    expect(s.sim.control.requestCount()).toBe(0);
    expect(s.diff(expectedOf(messages))).toEqual(CONVERGED);
    console.log(
      `[replay] first pass: ${jobs.length} jobs, ${first} requests; replay of ${jobs.length} jobs: 0 requests`,
    );
  });

  it.each([
    ['each value held by one indicator', 0, 50],
    ['8 % of the values held by several indicators whose fields differ (edits)', 0.08, 0],
  ])('an initial sync with shared fields: %s', async (what, sharedValue, atLeast) => {
    stack = await Stack.start();
    const s = stack;
    const shared: NormalizeOptions = {
      descriptionTemplate: 'Imported from OpenCTI',
      validUntilRounding: 'day',
    };
    const messages = await scenarioMessages({
      seed: 32,
      indicators: 3_000,
      sharedFields: true,
      mix: { ...CREATES_ONLY, sharedValue },
    });
    const jobs = jobsOf(messages, shared);
    // Production defaults (linger 200 ms, 100 per request, concurrency 50, timeout 30 s, drainer), so that a
    // loaded test machine does not turn slow answers into timeouts and searches.
    const prod = tuningOf(workerTuningDefaults(), 30_000);
    await s.startService(
      { sekoia: { ...s.settings().sekoia, batchLingerMs: 200, timeoutMs: 30_000 } },
      {
        writeHorizonMs: prod.writeHorizonMs,
        drainBatch: prod.drainBatch,
        drainConcurrency: prod.drainConcurrency,
        drainSettleMs: prod.drainSettleMs,
        inlineMaxActive: prod.inlineMaxActive,
      },
    );
    const t0 = Date.now();
    await s.enqueue(jobs);
    await s.waitIdle(60_000);
    const seconds = (Date.now() - t0) / 1000;
    const expected = expectedOf(messages, shared);
    expect(s.diff(expected)).toEqual(CONVERGED);
    const requests = s.sim.control.requestCount();
    const creates = s.sim.control.requestCount('create-batch');
    const edits = s.sim.control.requestCount('edit-indicator');
    console.log(
      `[initial sync, shared fields, ${what}] ${expected.size} values, ${requests} requests (${creates} creates, ` +
        `${(expected.size / creates).toFixed(1)} values per create, ${edits} edits) = 1/${(expected.size / requests).toFixed(1)} request per value, ${seconds.toFixed(1)} s`,
    );
    if (atLeast > 0) expect(requests * atLeast).toBeLessThanOrEqual(expected.size);
  });
});
