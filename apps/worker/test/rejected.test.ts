import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Stack, upsert } from './harness.ts';

// Sekoia cannot tell what type this is: POST …/indicators answers 400 naming it (simulator `invalidValue`).
const BAD = 'not-an-ioc';

let stack: Stack;
beforeEach(async () => {
  stack = await Stack.start();
});
afterEach(async () => {
  await stack.close();
});

describe('a value Sekoia rejects', () => {
  it('is dead-lettered with the reason, the rest of its batch is applied, and it is not re-sent until its indicator changes', async () => {
    const s = stack;
    // Linger long enough that all of them share one POST.
    await s.startService({
      sekoia: { ...s.settings().sekoia, batchLingerMs: 300 },
    });
    const good = ['10.1.0.1', '10.1.0.2', 'ok-one.example', 'ok-two.example', 'ok-three.example'];
    await s.enqueue([
      upsert('i1', '1000-0', [good[0]!, good[1]!]),
      upsert('i2', '1000-1', [BAD, good[2]!]),
      upsert('i3', '1000-2', [good[3]!, good[4]!]),
    ]);
    await s.waitIdle(20_000);

    expect(s.sim.control.liveValues().sort()).toEqual([...good].sort());
    const letters = await s.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      kind: 'value',
      subject: BAD,
      attempts: 1,
      payload: { value: BAD, reason: expect.stringMatching(/400.*not-an-ioc/) },
      error: expect.stringMatching(/rejected the create of "not-an-ioc".*HTTP 400/),
    });
    const creates = s.sim.control.requestCount('create-batch');
    console.log(`[rejected] 6 values, 1 rejected: ${creates} create requests (bisection included)`);

    // The same event again, and the value put back into the dirty set: nothing is sent.
    s.sim.control.resetCounters();
    await s.enqueue([upsert('i2', '1000-1', [BAD, good[2]!])]);
    await s.services[0]!.reconciler.markDirty([BAD]);
    await s.waitIdle(20_000);
    expect(s.sim.control.requestCount()).toBe(0);

    // The indicator changes (a later event): the value is tried again, and rejected again.
    await s.enqueue([upsert('i2', '2000-0', [BAD, good[2]!], { description: 'changed' })]);
    await s.waitIdle(20_000);
    await waitFor(async () => (await s.deadLetters())[0]?.attempts === 2, {
      timeoutMs: 10_000,
      what: 'the second rejection to be recorded',
    });
    expect(s.sim.control.requestCount('create-batch')).toBeGreaterThan(0);
    expect(s.sim.control.liveValues().sort()).toEqual([...good].sort());
    expect(s.sim.control.indicators().find((i) => i.canonical === good[2])?.description).toBe('changed');
  });
});
