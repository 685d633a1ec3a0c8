// The worker on a real Redis Cluster started by the test (docs/redis.md, "Redis Cluster"): the chaos convergence
// run of convergence.test.ts, and a run where the master serving the connector's slot is killed mid-sync and its
// replica promoted. Every key of the connector is in that one slot (packages/queue/src/keys.ts), so the promoted
// replica holds a prefix of the dead master's writes: what was lost is redone (stalled jobs run again, fenced;
// values whose record-applied was lost are still dirty and reconciled again).
import { type RedisCluster, startRedisCluster, waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAOS, MAX_REQUESTS_PER_VALUE, requestsOf, runWithKills } from './chaos.ts';
import { expectedOf, jobsOf, pace, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let stack: Stack | undefined;
let cluster: RedisCluster | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
  await cluster?.destroy();
  cluster = undefined;
});

describe('the worker on a Redis Cluster', () => {
  it('chaos convergence on 3 masters: worker processes SIGKILLed, Sekoia faulty; the collection equals the oracle', async () => {
    cluster = await startRedisCluster({ masters: 3 });
    stack = await Stack.start({ cluster, seed: 31, faults: CHAOS });
    const s = stack;
    const messages = await scenarioMessages({ seed: 31, indicators: 400 });
    const jobs = jobsOf(messages);
    const { kills, seconds } = await runWithKills(s, jobs, 31);

    const expected = expectedOf(messages);
    expect(s.diff(expected)).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    console.log(
      `[cluster convergence] ${jobs.length} jobs, ${expected.size} values, ${kills} SIGKILLs, ` +
        `${requestsOf(s)} Sekoia requests, ${seconds.toFixed(1)} s`,
    );
    expect(requestsOf(s)).toBeLessThanOrEqual(MAX_REQUESTS_PER_VALUE * expected.size);
    expect(kills).toBeGreaterThan(0);
  }, 300_000);

  it("the master serving the connector's slot is killed mid-sync and its replica promoted: nothing lost or duplicated", async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    // Latency keeps writes in flight when the master dies.
    stack = await Stack.start({ cluster, seed: 32, faults: { latencyMs: 20, jitterMs: 20 } });
    const s = stack;
    const messages = await scenarioMessages({ seed: 32, indicators: 400 });
    const jobs = jobsOf(messages);
    const env = { WORKER_CONCURRENCY: '100' };
    const workers = [s.spawnWorker(env), s.spawnWorker(env)];
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/, 90_000)));

    const half = Math.floor(jobs.length / 2);
    for (let i = 0; i < half; i += 100) {
      await s.enqueue(jobs.slice(i, Math.min(i + 100, half)));
      await pace(100);
    }
    // Mid-sync: the first half is being applied and written to Sekoia when its master dies.
    await waitFor(() => requestsOf(s) >= 100, { timeoutMs: 60_000, what: '100 Sekoia requests' });
    const master = await cluster.masterPortOf(s.keys.sync.dirty);
    const requestsBefore = requestsOf(s);
    await cluster.kill(master);
    await cluster.waitHealthy(120_000);
    expect(await cluster.masterPortOf(s.keys.sync.dirty)).not.toBe(master);
    for (let i = half; i < jobs.length; i += 100) {
      await s.enqueue(jobs.slice(i, Math.min(i + 100, jobs.length)));
      await pace(100);
    }
    await s.waitIdle(120_000);

    const expected = expectedOf(messages);
    expect(s.diff(expected)).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    // The workers rode through the failover (no restart).
    for (const w of workers) expect(w.child.exitCode).toBeNull();
    console.log(
      `[cluster failover] ${jobs.length} jobs, ${expected.size} values, ${requestsBefore} Sekoia requests before ` +
        `the master was killed, ${requestsOf(s)} in all`,
    );
  }, 300_000);
});
