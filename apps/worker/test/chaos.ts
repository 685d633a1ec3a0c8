import type { IndicatorJob } from '@octi-sekoia/model';
import type { SekoiaFaults } from '@octi-sekoia/simulators';
import { Rng } from '@octi-sekoia/simulators';
import type { ManagedProcess } from '@octi-sekoia/testkit';
import { pace, type Stack } from './harness.ts';

/** Latency, 10 % 5xx, dropped connections before and after applying, two bursts of 429 (with and without Retry-After). */
export const CHAOS: Partial<SekoiaFaults> = {
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

/**
 * The stated bound of a chaos run: Sekoia requests (faults, retries, searches, dead-lettered values included)
 * per value of the oracle's collection. Measured 1.4–1.9; a value stuck in a loop would exceed it.
 */
export const MAX_REQUESTS_PER_VALUE = 3;

/** Every request the simulator answered (or dropped), faults included. */
export function requestsOf(s: Stack): number {
  let n = 0;
  for (const byStatus of Object.values(s.sim.control.counters()))
    for (const c of Object.values(byStatus as Record<string, number>)) n += c;
  return n;
}

/**
 * Two worker processes apply `jobs` (fed in chunks of 100, like a live stream) while a random one is SIGKILLed
 * 2–4 s (seeded) after the last restart has started, and restarted, as long as there is work left; then waits
 * for the queue and the dirty set to drain. `settleEvery`: after that many jobs, wait for the queue and the dirty set
 * to drain before feeding more. Returns the number of kills and the seconds it took.
 */
export async function runWithKills(
  s: Stack,
  jobs: IndicatorJob[],
  seed: number,
  opts: { settleEvery?: number } = {},
): Promise<{ kills: number; seconds: number }> {
  const env = { WORKER_CONCURRENCY: '100' };
  const workers: ManagedProcess[] = [s.spawnWorker(env), s.spawnWorker(env)];
  await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/, 90_000)));
  const t0 = Date.now();
  const rng = new Rng(seed);
  let kills = 0;
  let enqueued = false;
  const feeding = (async () => {
    for (let i = 0; i < jobs.length; i += 100) {
      await s.enqueue(jobs.slice(i, i + 100));
      await pace(150);
      // A stream with quiet periods: what was fed so far is written (revokes land) before the rest comes.
      if (opts.settleEvery && (i + 100) % opts.settleEvery === 0) await s.waitIdle(120_000);
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
    // The next kill only once the new one runs: on a loaded machine a start-up can take longer than the pace,
    // and killing workers that never started tests nothing.
    await workers[i]!.waitForOutput(/"msg":"started"/, 60_000);
    if (kills > 60) throw new Error('no convergence after 60 kills');
  }
  await feeding;
  await s.waitIdle(90_000);
  return { kills, seconds: (Date.now() - t0) / 1000 };
}
