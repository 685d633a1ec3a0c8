import { afterEach, expect, it } from 'vitest';
import { expectedOf, jobsOf, Stack, scenarioMessages } from './harness.ts';

let stack: Stack;
afterEach(async () => {
  await stack?.close();
});

it('smoke: a small scenario converges in-process', async () => {
  stack = await Stack.start();
  const messages = await scenarioMessages({ seed: 3, indicators: 200 });
  const jobs = jobsOf(messages);
  await stack.startService();
  const t0 = Date.now();
  await stack.enqueue(jobs);
  await stack.waitIdle(60_000);
  const diff = stack.diff(expectedOf(messages));
  console.log(jobs.length, Date.now() - t0, stack.sim.control.counters());
  expect(diff).toEqual({ missing: [], unexpected: [], wrongAttributes: [], duplicates: [] });
  expect(await stack.deadLetters()).toEqual([]);
});
