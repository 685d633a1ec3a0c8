import type { SekoiaBehavior, SekoiaFaults } from '@octi-sekoia/simulators';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAOS, MAX_REQUESTS_PER_VALUE, requestsOf, runWithKills } from './chaos.ts';
import { expectedOf, jobsOf, Stack, scenarioMessages } from './harness.ts';

// Issue 13 cases 2 and 3 under chaos: where Sekoia's API cannot reach the oracle's collection, the value is
// left with exactly one dead letter naming why, and the request count stays bounded.

const REVOKED_ANSWER = /answered the create with its revoked indicator indicator--.*cannot be undone/;
const REVOKE_REFUSED = /rejected the revoke of ".*" \(indicator--.*HTTP 422/;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('convergence where the API refuses: the oracle wherever the API allows it, one dead letter elsewhere', () => {
  it.each([
    ['re-import of a revoked value answered with the revoked indicator', 14, 'ignore'],
    ['revokes of some values refused (HTTP 422)', 15, 'new'],
  ] as Array<[string, number, SekoiaBehavior['reimportRevoked']]>)(
    '%s (seed %i, reimportRevoked %s, 500 indicators): 2 worker processes SIGKILLed, Sekoia faulty',
    async (_title, seed, reimportRevoked) => {
      const messages = await scenarioMessages({ seed, indicators: 500 });
      const jobs = jobsOf(messages);
      const expected = expectedOf(messages);
      // Rejected revokes: every third value that is exported at some point but not wanted at the end.
      const refused =
        reimportRevoked === 'ignore'
          ? []
          : [...new Set(jobs.flatMap((j) => j.values))]
              .filter((v) => !expected.has(v))
              .filter((_, i) => i % 3 === 0);
      const faults: Partial<SekoiaFaults> =
        refused.length > 0 ? { ...CHAOS, rejectRevoke: { match: refused, status: 422 } } : CHAOS;
      stack = await Stack.start({ seed, behavior: { reimportRevoked }, faults });
      const s = stack;
      // The stream settles every 200 jobs, so that values created in one part are in Sekoia before a later part
      // removes them (whether a value added and removed within one part is ever created depends on timing: the
      // run must produce refused revokes whatever the machine's speed) and, with the revoked-value answer, revoked
      // before a later part wants them again.
      const { kills, seconds } = await runWithKills(s, jobs, seed, { settleEvery: 200 });

      const diff = s.diff(expected);
      const letters = await s.deadLetters();
      const requests = requestsOf(s);
      console.log(
        `[convergence-edges seed ${seed}, reimportRevoked ${reimportRevoked}, ${refused.length} values with refused revokes] ` +
          `${jobs.length} jobs, ${expected.size} values expected, ${diff.missing.length} missing + ${diff.unexpected.length} ` +
          `unexpected (the API cannot), ${letters.length} dead letters, ${kills} SIGKILLs, ${requests} Sekoia requests ` +
          `(${(requests / expected.size).toFixed(2)} per value, faults included), ${seconds.toFixed(1)} s`,
      );

      // Wherever the API allows it, the collection is the oracle's.
      expect(diff.wrongAttributes).toEqual([]);
      expect(diff.duplicates).toEqual([]);
      const why = reimportRevoked === 'ignore' ? REVOKED_ANSWER : REVOKE_REFUSED;
      if (reimportRevoked === 'ignore') expect(diff.unexpected).toEqual([]);
      else {
        expect(diff.missing).toEqual([]);
        for (const v of diff.unexpected) expect(refused).toContain(v);
      }
      // Every other value: exactly one dead letter, naming why (the run must produce some).
      const off = [...diff.missing, ...diff.unexpected];
      expect(off.length).toBeGreaterThan(0);
      for (const v of off) {
        const mine = letters.filter((l) => l.subject === v);
        expect(mine, v).toHaveLength(1);
        expect(mine[0]).toMatchObject({ kind: 'value', error: expect.stringMatching(why) });
      }
      // No other kind of dead letter, one per value (a value refused again at a later desired version counts
      // as a further attempt of the same letter).
      for (const l of letters) expect(l).toMatchObject({ kind: 'value', error: expect.stringMatching(why) });
      expect(new Set(letters.map((l) => l.subject)).size).toBe(letters.length);
      for (const p of s.processes) expect(p.output()).not.toContain(s.sim.apiKey);
      expect(requestsOf(s)).toBeLessThanOrEqual(MAX_REQUESTS_PER_VALUE * expected.size);
      expect(kills).toBeGreaterThan(0);
    },
    240_000,
  );
});
