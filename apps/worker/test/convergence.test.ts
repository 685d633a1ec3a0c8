import type { SekoiaBehavior, SekoiaFaults } from '@octi-sekoia/simulators';
import { Rng } from '@octi-sekoia/simulators';
import type { ManagedProcess } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedOf, jobsOf, pace, Stack, scenarioMessages } from './harness.ts';

/** Latency, 10 % 5xx, dropped connections before and after applying, two bursts of 429 (with and without Retry-After). */
const CHAOS: Partial<SekoiaFaults> = {
  latencyMs: 2,
  jitterMs: 15,
  errorRate: 0.1,
  dropBeforeRate: 0.03,
  dropAfterRate: 0.03,
  rules: [
    {
      nth: [150, 151, 152, 153, 154, 155],
      action: { kind: 'rate-limit', retryAfter: 'seconds', seconds: 1 },
    },
    { nth: [600, 601, 602, 603], action: { kind: 'rate-limit', retryAfter: 'none' } },
  ],
};

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

function requestsOf(s: Stack): number {
  let n = 0;
  for (const byStatus of Object.values(s.sim.control.counters()))
    for (const c of Object.values(byStatus as Record<string, number>)) n += c;
  return n;
}

describe('convergence: the collection equals the oracle after the queue drains', () => {
  // The same test for each of Sekoia's possible re-import behaviours (unknown: see sekoia-ioc-api.md §2.8).
  it.each([
    ['duplicate', 11, 1000],
    ['ignore', 12, 500],
    ['update', 13, 500],
  ] as Array<[SekoiaBehavior['reimport'], number, number]>)(
    're-import %s: 2 worker processes SIGKILLed on a seeded schedule (seed %i, %i indicators), Sekoia faulty',
    async (reimport, seed, indicators) => {
      stack = await Stack.start({ seed, behavior: { reimport }, faults: CHAOS });
      const s = stack;
      const messages = await scenarioMessages({ seed, indicators });
      const jobs = jobsOf(messages);
      const env = { WORKER_CONCURRENCY: '100' };
      const workers: ManagedProcess[] = [s.spawnWorker(env), s.spawnWorker(env)];
      await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/, 30_000)));
      const t0 = Date.now();

      // Kill a random worker every 2–4 s (seeded) and start a new one, while there is work left (jobs in the
      // queue, values in the dirty set); meanwhile the jobs arrive in chunks, like a live stream.
      const rng = new Rng(seed);
      let kills = 0;
      let enqueued = false;
      const feeding = (async () => {
        for (let i = 0; i < jobs.length; i += 100) {
          await s.enqueue(jobs.slice(i, i + 100));
          await pace(150);
        }
        enqueued = true;
      })();
      const busy = async () => !enqueued || (await s.pending()) > 0 || (await s.dirty()) > 0;
      while (await busy()) {
        await pace(rng.int(2000, 4000));
        const i = rng.int(0, workers.length - 1);
        workers[i]!.kill('SIGKILL');
        await workers[i]!.exited;
        kills++;
        workers[i] = s.spawnWorker(env);
        if (kills > 60) throw new Error('no convergence after 60 kills');
      }
      await feeding;
      await s.waitIdle(90_000);
      const seconds = (Date.now() - t0) / 1000;

      const expected = expectedOf(messages);
      expect(s.diff(expected)).toEqual(CONVERGED);
      expect(await s.deadLetters()).toEqual([]);
      for (const p of s.processes) expect(p.output()).not.toContain(s.sim.apiKey);
      console.log(
        `[convergence seed ${seed}, re-import ${reimport}] ${jobs.length} jobs, ${expected.size} values expected, ${kills} SIGKILLs, ` +
          `${requestsOf(s)} Sekoia requests (${(requestsOf(s) / expected.size).toFixed(2)} per value, faults included), ${seconds.toFixed(1)} s`,
      );
      expect(kills).toBeGreaterThan(0);
    },
    240_000,
  );
});
