/**
 * Redis behind Sentinel (README, "Redis topologies"): one primary, one replica, three sentinels started by the
 * test. The worker processes get only REDIS_SENTINELS / REDIS_SENTINEL_MASTER and follow the master.
 */
import { jsonLogEntries, type SentinelSet, startSentinelSet, waitFor } from '@octi-sekoia/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAOS, MAX_REQUESTS_PER_VALUE, requestsOf, runWithKills } from './chaos.ts';
import { expectedOf, jobsOf, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let set: SentinelSet | undefined;
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  await set?.destroy();
  stack = undefined;
  set = undefined;
});

async function sentinelStack(opts: Parameters<typeof Stack.start>[0] = {}) {
  set = await startSentinelSet();
  stack = await Stack.start({ ...opts, redis: await set.testRedis('worker-sentinel') });
  return { set, s: stack };
}

describe('on Redis behind Sentinel', () => {
  it("the noeviction check reads the Sentinel's current master", async () => {
    const { set, s } = await sentinelStack();
    const master = await set.master();
    const replica = set.servers.find((x) => x.port !== master.options.port)!;
    try {
      await master.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const refused = s.spawnWorker();
      expect(await refused.exited).toBe(2);
      const fatal = jsonLogEntries(refused.output()).find((e) => e.level === 'fatal');
      expect(fatal).toMatchObject({ msg: 'refusing to start' });
      expect(String(fatal?.err)).toMatch(/maxmemory-policy is "allkeys-lru"/);

      // The master fixed, the replica evicting (what the check does not read): the worker starts.
      await master.config('SET', 'maxmemory-policy', 'noeviction');
      const direct = new Redis({ port: replica.port, host: '127.0.0.1' });
      await direct.config('SET', 'maxmemory-policy', 'allkeys-lru');
      direct.disconnect();
      const started = s.spawnWorker();
      await started.waitForOutput(/"msg":"started"/, 90_000);
    } finally {
      master.disconnect();
    }
  }, 120_000);

  it('chaos convergence: worker processes SIGKILLed on a seeded schedule, Sekoia faulty', async () => {
    const seed = 21;
    const { s } = await sentinelStack({ seed, faults: CHAOS });
    const messages = await scenarioMessages({ seed, indicators: 400 });
    const jobs = jobsOf(messages);
    const { kills } = await runWithKills(s, jobs, seed);

    const expected = expectedOf(messages);
    expect(s.diff(expected)).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    expect(kills).toBeGreaterThan(0);
    expect(requestsOf(s)).toBeLessThanOrEqual(MAX_REQUESTS_PER_VALUE * expected.size);
  }, 240_000);

  it('a SENTINEL FAILOVER in the middle of a sync, then another: the collection equals the oracle, nothing lost or duplicated', async () => {
    const { set, s } = await sentinelStack({ seed: 22, faults: { latencyMs: 20 } });
    const messages = await scenarioMessages({ seed: 22, indicators: 500 });
    const jobs = jobsOf(messages);
    const expected = expectedOf(messages);
    const workers = [s.spawnWorker(), s.spawnWorker()];
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/, 90_000)));
    await s.enqueue(jobs);

    // Mid-sync: some values written, work left in the queue or the dirty set.
    await waitFor(() => s.sim.control.liveValues().length >= expected.size / 4, {
      timeoutMs: 60_000,
      what: 'a quarter of the values written',
    });
    expect((await s.pending()) + (await s.dirty())).toBeGreaterThan(0);
    const first = await set.failover();
    // And back, while the workers are still at it (the old primary is now the new one's replica).
    await waitFor(
      async () => s.sim.control.liveValues().length >= expected.size / 2 || (await s.pending()) === 0,
      {
        timeoutMs: 60_000,
        what: 'half of the values written',
      },
    );
    const second = await set.failover();
    expect(second).toEqual({ from: first.to, to: first.from });

    await s.waitIdle(90_000);
    expect(s.diff(expected)).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    // The same two processes did it all: a failover is not a restart.
    for (const w of workers) expect(w.child.exitCode).toBeNull();
  }, 240_000);
});
