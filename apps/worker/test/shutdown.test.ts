import { budgetKeys } from '@octi-sekoia/queue';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectedOf, jobsOf, Stack, Story } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let stack: Stack;
let story: Story;
beforeEach(async () => {
  // The first create is answered 429 with Retry-After 8 s: the shared budget pauses, in-flight jobs wait.
  stack = await Stack.start({
    faults: { rules: [{ route: 'create-batch', times: 1, action: { kind: 'rate-limit', seconds: 8 } }] },
  });
  story = await Story.start();
});
afterEach(async () => {
  await stack.close();
  await story.close();
});

describe('SIGTERM', () => {
  it('stops taking work, hands in-flight jobs back within the grace, exits 0; nothing is lost', async () => {
    const s = stack;
    const worker = s.spawnWorker({ TUNING_INLINE_MAX_ACTIVE: '50', TUNING_HAND_BACK_AFTER_MS: '1000' });
    await worker.waitForOutput(/"msg":"started"/, 90_000);
    for (let i = 0; i < 30; i++)
      story.control.createIndicator({ pattern: `[domain-name:value = 'term-${i}.example']` });
    const jobs = jobsOf(story.take());
    await s.enqueue(jobs.slice(0, 1));
    const budget = budgetKeys(s.r.prefix, new URL(s.sim.url).host, s.sim.apiKey);
    await waitFor(async () => (await s.r.client.pttl(budget.pause)) > 0, {
      timeoutMs: 20_000,
      what: 'the 429 pause',
    });
    // These wait for the budget (paused) while the worker is told to stop.
    await s.enqueue(jobs.slice(1));
    await waitFor(async () => (await s.queues.indicators.getActiveCount()) > 0, {
      timeoutMs: 20_000,
      what: 'jobs in flight',
    });

    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('handing in-flight jobs back to the queue');
    // Handed back, not left active for stall recovery; nothing failed or dead-lettered.
    const counts = await s.queues.indicators.getJobCounts('active', 'waiting', 'failed');
    expect(counts).toMatchObject({ active: 0, failed: 0 });
    expect(counts.waiting).toBeGreaterThan(0);
    expect(await s.deadLetters()).toEqual([]);

    // The next worker finishes the work once the pause is over.
    s.spawnWorker();
    await s.waitIdle(30_000);
    expect(s.diff(expectedOf(story.all()))).toEqual(CONVERGED);
  });
});
