import type { IndicatorJob } from '@octi-sekoia/model';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Stack, type StackOptions, upsert } from './harness.ts';

// Issue 13: the edges where the sync used to loop. Each test names its case.

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function start(opts: StackOptions): Promise<Stack> {
  stack = await Stack.start(opts);
  return stack;
}

/**
 * Requests made for values: creates, searches, edits, revokes (not the worker's periodic collection and quota
 * reads, which run on their own clock).
 */
function valueRequests(s: Stack): number {
  const routes = ['create-batch', 'list-indicators', 'edit-indicator', 'revoke-indicator'] as const;
  return routes.reduce((n, r) => n + s.sim.control.requestCount(r), 0);
}

/** Exact request counts are asserted: a generous client timeout, so a loaded machine does not add retries. */
function startWorker(s: Stack) {
  return s.startService(
    { sekoia: { ...s.settings().sekoia, timeoutMs: 10_000 } },
    { writeHorizonMs: 25_000 },
  );
}

function remove(indicatorId: string, eventId: string): IndicatorJob {
  return { ...upsert(indicatorId, eventId, []), op: 'remove' };
}

describe('issue 13 case 2: a revoke Sekoia rejects', () => {
  it('case 2: a rejected revoke is terminal for that id (one dead letter, bounded DELETEs) until the value changes', async () => {
    const STUCK = 'stuck.example';
    const FREE = 'free.example';
    const s = await start({ faults: { rejectRevoke: { match: [STUCK], status: 422 } } });
    await startWorker(s);
    await s.enqueue([upsert('i1', '1000-0', [STUCK, FREE])]);
    await s.waitIdle(20_000);
    expect(s.sim.control.liveValues().sort()).toEqual([FREE, STUCK]);
    const stuckId = s.sim.control.indicators().find((i) => i.canonical === STUCK)!.id;

    s.sim.control.resetCounters();
    await s.enqueue([remove('i1', '2000-0')]);
    await s.waitIdle(20_000, 'the rejected revoke to settle (it looped before)');
    // The other value is revoked; the refused one stays live in Sekoia (one search checks), reported once.
    expect(s.sim.control.liveValues()).toEqual([STUCK]);
    expect(s.sim.control.requestCount('revoke-indicator', 422)).toBe(1);
    expect(s.sim.control.requestCount('revoke-indicator')).toBe(2);
    expect(valueRequests(s)).toBe(3);
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
    await s.services[0]!.reconciler.markDirty([STUCK]);
    await s.waitIdle(20_000);
    expect(valueRequests(s)).toBe(0);

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

const DAY_MS = 24 * 3600_000;

describe('issue 13 case 2: a refused DELETE of an indicator already revoked', () => {
  it('case 2: a revoke refused because the indicator is already revoked (repeatRevoke 400) is done, not dead-lettered', async () => {
    const V = 'revoked-by-hand.example';
    const s = await start({ behavior: { repeatRevoke: 400 } });
    await startWorker(s);
    await s.enqueue([upsert('i1', '1000-0', [V])]);
    await s.waitIdle(20_000);
    // Someone revokes it in Sekoia.io by hand; then OpenCTI deletes the indicator.
    const id = s.sim.control.indicators()[0]!.id;
    const res = await fetch(
      `${s.sim.url}/v2/inthreat/ioc-collections/${s.sim.collectionId}/indicators/${id}`,
      {
        method: 'DELETE',
        headers: { authorization: `Bearer ${s.sim.apiKey}` },
      },
    );
    expect(res.status).toBe(200);
    s.sim.control.resetCounters();
    await s.enqueue([remove('i1', '2000-0')]);
    await s.waitIdle(20_000);
    // The DELETE is refused (400: already revoked); one exact search shows it revoked: done, no dead letter.
    expect(s.sim.control.requestCount('revoke-indicator', 400)).toBe(1);
    expect(s.sim.control.requestCount('list-indicators')).toBe(1);
    expect(await s.deadLetters()).toEqual([]);
    const val = await s.r.client.hgetall(s.keys.sync.value(V));
    expect(Object.keys(val).filter((k) => k.startsWith('id:'))).toEqual([]);
  });
});

describe('issue 13 case 3: a value removed and wanted again', () => {
  it('case 3: Sekoia answers the re-create with the revoked indicator: one dead letter saying why, no loop; converges once deletion for good is allowed', async () => {
    const V = 'back-again.example';
    const s = await start({ behavior: { reimportRevoked: 'ignore' } });
    await startWorker(s);
    await s.enqueue([upsert('i1', '1000-0', [V])]);
    await s.waitIdle(20_000);
    const first = s.sim.control.indicators()[0]!;
    await s.enqueue([remove('i1', '2000-0')]);
    await s.waitIdle(20_000);
    expect(s.sim.control.liveValues()).toEqual([]);

    // Wanted again within 24 h of the revocation: the create answers the revoked indicator, deleting it for
    // good is refused (too early).
    s.sim.control.resetCounters();
    await s.enqueue([upsert('i1', '3000-0', [V])]);
    await s.waitIdle(20_000, 'the re-created value to settle (create → search → create forever before)');
    expect(s.sim.control.liveValues()).toEqual([]);
    expect(s.sim.control.requestCount('create-batch')).toBe(1);
    expect(s.sim.control.requestCount('revoke-indicator', 400)).toBe(1);
    expect(valueRequests(s)).toBe(2);
    const letters = await s.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      kind: 'value',
      subject: V,
      attempts: 1,
      payload: { value: V, id: first.id },
      error: expect.stringMatching(
        /revoked indicator indicator--.*cannot be undone.*24 h after the revocation/,
      ),
    });

    // Nothing more for this desired version.
    s.sim.control.resetCounters();
    await s.services[0]!.reconciler.markDirty([V]);
    await s.waitIdle(20_000);
    expect(valueRequests(s)).toBe(0);

    // A day later the operator replays the dead letter: the revoked indicator is deleted for good, the value
    // created again.
    s.sim.control.advanceClock(DAY_MS + 60_000);
    await s.services[0]!.reconciler.markDirty([V], { clearRejection: true });
    await s.waitIdle(20_000);
    expect(s.sim.control.liveValues()).toEqual([V]);
    expect(s.sim.control.requestCount('revoke-indicator', 200)).toBe(1);
    expect(s.sim.control.requestCount('create-batch')).toBe(2);
    expect(s.sim.control.indicators().map((i) => i.id)).not.toContain(first.id);
  });

  it.each(['new', 'reactivate', 'ignore'] as const)(
    'case 3: re-import mode %s — values removed and wanted again cost a bounded number of requests',
    async (mode) => {
      const values = Array.from({ length: 6 }, (_, i) => `again-${i}.example`);
      const s = await start({ behavior: { reimportRevoked: mode } });
      await startWorker(s);
      await s.enqueue(values.map((v, i) => upsert(`i${i}`, '1000-0', [v])));
      await s.waitIdle(20_000);
      await s.enqueue(values.map((_, i) => remove(`i${i}`, '2000-0')));
      await s.waitIdle(20_000);
      s.sim.control.resetCounters();
      // Wanted again (a new indicator holds each value), twice over: two desired versions per value.
      await s.enqueue(values.map((v, i) => upsert(`j${i}`, '3000-0', [v])));
      await s.waitIdle(20_000);
      await s.enqueue(values.map((v, i) => upsert(`j${i}`, '4000-0', [v], { description: 'changed' })));
      await s.waitIdle(20_000);
      const requests = valueRequests(s);
      console.log(`[case 3] reimportRevoked=${mode}: ${requests} requests for 6 values × 2 desired versions`);
      const letters = await s.deadLetters();
      // The stated bound: at most one create per value and desired version (creates share batches), plus one
      // edit or one refused deletion for good.
      expect(s.sim.control.requestCount('create-batch')).toBeLessThanOrEqual(12);
      if (mode === 'ignore') {
        // Per value and desired version: the create answers the revoked indicator, deleting it for good is
        // refused (within 24 h), one dead letter per value seen once per desired version.
        expect(s.sim.control.liveValues()).toEqual([]);
        expect(letters.map((l) => [l.subject, l.attempts]).sort()).toEqual(values.map((v) => [v, 2]));
        expect(s.sim.control.requestCount('revoke-indicator')).toBe(12);
        expect(requests).toBeLessThanOrEqual(24);
      } else {
        expect(s.sim.control.liveValues().sort()).toEqual([...values].sort());
        expect(letters).toEqual([]);
        expect(s.sim.control.requestCount('revoke-indicator')).toBe(0);
        expect(s.sim.control.requestCount('edit-indicator')).toBe(6);
        expect(requests).toBeLessThanOrEqual(12);
      }
    },
  );
});
