import { type RedisServer, startRedisServer, waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedOf, jobsOf, pace, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let redis: RedisServer | undefined;
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  await redis?.destroy();
  stack = undefined;
  redis = undefined;
});

describe('Redis restart (append-only file on)', () => {
  it('jobs wait or retry through it, nothing is dead-lettered, the collection converges', async () => {
    redis = await startRedisServer({ appendonly: true });
    stack = await Stack.start({ redisUrl: redis.url, faults: { latencyMs: 30 } });
    const s = stack;
    const messages = await scenarioMessages({ seed: 41, indicators: 400 });
    const jobs = jobsOf(messages);
    await s.startService();
    await s.enqueue(jobs);
    await waitFor(async () => s.sim.control.liveValues().length > 0, {
      timeoutMs: 20_000,
      what: 'first writes',
    });

    // Killed mid-work: jobs and dirty values are left.
    expect((await s.pending()) + (await s.dirty())).toBeGreaterThan(0);
    await redis.stop('SIGKILL');
    await pace(2_000);
    await redis.restart();

    await s.waitIdle(60_000);
    expect(s.diff(expectedOf(messages))).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
  });
});
