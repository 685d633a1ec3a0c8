import type { SekoiaBehavior } from '@octi-sekoia/simulators';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAOS, MAX_REQUESTS_PER_VALUE, requestsOf, runWithKills } from './chaos.ts';
import { expectedOf, jobsOf, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('convergence: the collection equals the oracle after the queue drains', () => {
  // The same test for each of Sekoia's possible re-import behaviours (undocumented: docs/sekoia-api.md).
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
      // Kill a random worker every 2–4 s (seeded) and start a new one, while there is work left (jobs in the
      // queue, values in the dirty set); meanwhile the jobs arrive in chunks, like a live stream.
      const { kills, seconds } = await runWithKills(s, jobs, seed);

      const expected = expectedOf(messages);
      expect(s.diff(expected)).toEqual(CONVERGED);
      expect(await s.deadLetters()).toEqual([]);
      for (const p of s.processes) expect(p.output()).not.toContain(s.sim.apiKey);
      console.log(
        `[convergence seed ${seed}, re-import ${reimport}] ${jobs.length} jobs, ${expected.size} values expected, ${kills} SIGKILLs, ` +
          `${requestsOf(s)} Sekoia requests (${(requestsOf(s) / expected.size).toFixed(2)} per value, faults included), ${seconds.toFixed(1)} s`,
      );
      expect(requestsOf(s)).toBeLessThanOrEqual(MAX_REQUESTS_PER_VALUE * expected.size);
      expect(kills).toBeGreaterThan(0);
    },
    240_000,
  );
});
