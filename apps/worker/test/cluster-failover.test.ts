// A Redis Cluster failover under the worker (docs/redis.md, "Known problem"): the master serving the connector's
// slot is SIGKILLed mid-sync and its replica promoted. Every key of the connector is in that one slot
// (packages/queue/src/keys.ts), so the promoted replica should hold a prefix of the dead master's writes and what
// was lost be redone (stalled jobs run again, fenced; values whose record-applied was lost still dirty).
// NOT in `pnpm test`: it fails (3 of 3 runs, 2026-12-07: 49–86 of ~300 values missing, the queue and dirty set
// found empty right after the promotion). Run it with `pnpm --filter @octi-sekoia/worker test:cluster-failover`.
import { type RedisCluster, startRedisCluster, waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { requestsOf } from './chaos.ts';
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

describe('the worker on a Redis Cluster whose master fails', () => {
  it("the master serving the connector's slot is killed mid-sync and its replica promoted: nothing lost or duplicated", async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    // Latency keeps writes in flight when the master dies.
    stack = await Stack.start({ cluster, seed: 32, faults: { latencyMs: 20, jitterMs: 20 } });
    const s = stack;
    const messages = await scenarioMessages({ seed: 32, indicators: 400 });
    const jobs = jobsOf(messages);
    const env = { WORKER_CONCURRENCY: '100' };
    const workers = [s.spawnWorker(env), s.spawnWorker(env)];
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/, 30_000)));

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
    await cluster.waitHealthy(60_000);
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
