// Create batches shared by the workers (issue 18): a batch holds values claimed by both workers, so a worker
// SIGKILLed while its create is in flight leaves the other one's claims without an answer (it was the sealer), or
// the other one's answer without a reader (it offered values to it). Either way: converged, no duplicate.
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedOf, jobsOf, oldestIntentAgeMs, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('shared create batches across workers', () => {
  it('one of two workers SIGKILLed while a shared create is in flight: converged, nothing created twice', async () => {
    stack = await Stack.start({
      behavior: { reimport: 'duplicate' },
      // The first create takes 1 s (under the 1.5 s client timeout): the kill lands while it is in flight.
      faults: { rules: [{ route: 'create-batch', times: 1, action: { kind: 'latency', ms: 1000 } }] },
    });
    const s = stack;
    const messages = await scenarioMessages({ seed: 23, indicators: 120 });
    const linger = { SEKOIA_INTEL_BATCH_LINGER_MS: '300' };
    const [a, b] = [s.spawnWorker(linger), s.spawnWorker(linger)];
    await a.waitForOutput(/"msg":"started"/, 90_000);
    await b.waitForOutput(/"msg":"started"/, 90_000);
    await s.enqueue(jobsOf(messages));
    // A write intent 300 ms old: its request is on its way and Sekoia holds it for 1 s (see crash.test.ts).
    await waitFor(async () => (await oldestIntentAgeMs(s)) >= 300, {
      timeoutMs: 90_000,
      what: 'a write intent',
    });
    a.kill('SIGKILL');
    await a.exited;

    await s.waitIdle(90_000);
    expect(s.diff(expectedOf(messages))).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    b.kill('SIGTERM');
    await b.exited;
  }, 240_000);
});
