import type { IndicatorJob } from '@octi-sekoia/model';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Stack, upsert } from './harness.ts';

// Issue 13: the edges where the sync used to loop. Each test names its case.

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

function remove(indicatorId: string, eventId: string): IndicatorJob {
  return { ...upsert(indicatorId, eventId, []), op: 'remove' };
}

describe('issue 13 case 2: a revoke Sekoia rejects', () => {
  it('case 2: a rejected revoke is terminal for that id (one dead letter, bounded DELETEs) until the value changes', async () => {
    const STUCK = 'stuck.example';
    const FREE = 'free.example';
    const s = (stack = await Stack.start({ faults: { rejectRevoke: { match: [STUCK], status: 422 } } }));
    await s.startService();
    await s.enqueue([upsert('i1', '1000-0', [STUCK, FREE])]);
    await s.waitIdle(20_000);
    expect(s.sim.control.liveValues().sort()).toEqual([FREE, STUCK]);
    const stuckId = s.sim.control.indicators().find((i) => i.canonical === STUCK)!.id;

    s.sim.control.resetCounters();
    await s.enqueue([remove('i1', '2000-0')]);
    await s.waitIdle(20_000, 'the rejected revoke to settle (it looped before)');
    // The other value is revoked; the refused one stays live in Sekoia, reported once.
    expect(s.sim.control.liveValues()).toEqual([STUCK]);
    expect(s.sim.control.requestCount('revoke-indicator', 422)).toBe(1);
    expect(s.sim.control.requestCount('revoke-indicator')).toBe(2);
    expect(s.sim.control.requestCount()).toBe(2);
    const letters = await s.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      kind: 'value',
      subject: STUCK,
      attempts: 1,
      payload: { value: STUCK, id: stuckId, reason: expect.stringMatching(/422.*cannot be revoked/) },
      error: expect.stringMatching(/rejected the revoke of "stuck\.example" \(indicator--.*422/),
    });

    // Put back into the dirty set (same desired state): no further DELETE of that id.
    s.sim.control.resetCounters();
    await s.services[0]!.reconciler.state.markDirty([STUCK]);
    await s.waitIdle(20_000);
    expect(s.sim.control.requestCount()).toBe(0);

    // Wanted again, then removed again: the desired state changed, so the DELETE is tried once more.
    await s.enqueue([upsert('i1', '3000-0', [STUCK])]);
    await s.waitIdle(20_000);
    await s.enqueue([remove('i1', '4000-0')]);
    await s.waitIdle(20_000);
    await waitFor(async () => (await s.deadLetters())[0]?.attempts === 2, {
      timeoutMs: 10_000,
      what: 'the second rejection to be reported',
    });
    expect(s.sim.control.requestCount('revoke-indicator')).toBe(1);
    expect(s.sim.control.liveValues()).toEqual([STUCK]);
    expect(await s.deadLetters()).toHaveLength(1);
  });
});
