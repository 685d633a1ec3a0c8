import { SyncState } from '@octi-sekoia/sync';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, expectedOf, jobsOf, oldestIntentAgeMs, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('a crash between recording the desired state and reconciling loses nothing', () => {
  it('desired state recorded by a worker that died before reconciling: a new worker reconciles the dirty set', async () => {
    stack = await Stack.start({ behavior: { reimport: 'duplicate' } });
    const s = stack;
    const messages = await scenarioMessages({ seed: 21, indicators: 150 });
    const jobs = jobsOf(messages);
    // What the crashed worker did: recordDesired for every job (its step 1), then nothing.
    const state = new SyncState(s.r.connect(), { keyPrefix: s.r.prefix, connectorId: CONNECTOR_ID });
    for (const job of jobs) await state.recordDesired(job);
    expect(await s.dirty()).toBeGreaterThan(100);
    expect(s.sim.control.indicators()).toEqual([]);
    // Half of its jobs come back (stall recovery of the jobs it held): their desired state is already there.
    await s.enqueue(jobs.filter((_, i) => i % 2 === 0));

    await s.startService();
    await s.waitIdle(30_000);
    expect(s.diff(expectedOf(messages))).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
  });

  it('a worker SIGKILLed while its create request is in flight: the next one neither loses nor duplicates', async () => {
    stack = await Stack.start({
      behavior: { reimport: 'duplicate' },
      // The first create takes 1 s (under the 1.5 s client timeout): the kill lands while it is in flight.
      faults: { rules: [{ route: 'create-batch', times: 1, action: { kind: 'latency', ms: 1000 } }] },
    });
    const s = stack;
    const messages = await scenarioMessages({ seed: 22, indicators: 60 });
    const jobs = jobsOf(messages);
    const first = s.spawnWorker({ SEKOIA_INTEL_BATCH_LINGER_MS: '200' });
    await first.waitForOutput(/"msg":"started"/, 90_000);
    await s.enqueue(jobs);
    // A write intent in Redis, 300 ms old: the request it announces is on its way (the token was taken
    // before the intent, nothing waits between the two) and Sekoia holds it for 1 s.
    await waitFor(async () => (await oldestIntentAgeMs(s)) >= 300, {
      timeoutMs: 20_000,
      what: 'a write intent',
    });
    const answeredBefore = s.sim.control.requestCount('create-batch', 200);
    first.kill('SIGKILL');
    await first.exited;

    // The request outlives its sender: Sekoia applies it after the kill, nobody reads the answer.
    await waitFor(() => s.sim.control.requestCount('create-batch', 200) > answeredBefore, {
      timeoutMs: 5_000,
      what: 'the in-flight create to land',
    });

    const second = s.spawnWorker();
    await second.waitForOutput(/"msg":"started"/, 90_000);
    await s.waitIdle(30_000);
    expect(s.diff(expectedOf(messages))).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    // The second worker found what the lost answer created (exact search) instead of creating it again.
    expect(s.sim.control.requestCount('list-indicators', 200)).toBeGreaterThan(0);
  });
});
