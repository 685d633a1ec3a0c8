import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectedOf, httpPortOf, jobsOf, pace, Stack, Story } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };
/** The 401 lasts this long (the figure). */
const OUTAGE_MS = 30_000;

let stack: Stack;
let story: Story;
beforeEach(async () => {
  stack = await Stack.start();
  story = await Story.start();
});
afterEach(async () => {
  await stack.close();
  await story.close();
});

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function circuit(): Promise<Record<string, unknown>> {
  return JSON.parse((await stack.r.client.get(stack.keys.circuit)) ?? '{}');
}

function createSome(n: number, tag: string) {
  const refs = [];
  for (let i = 0; i < n; i++)
    refs.push(story.control.createIndicator({ pattern: `[domain-name:value = '${tag}-${i}.example']` }));
  return refs;
}

describe('configuration circuit', () => {
  it('401 for 30 s: /readyz fails all along (healthz stays up), no job taken, nothing dead-lettered, all applied after', async () => {
    const s = stack;
    const worker = s.spawnWorker();
    const base = `http://127.0.0.1:${await httpPortOf(worker)}`;
    const before = createSome(20, 'before');
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    expect((await get(`${base}/readyz`)).status).toBe(200);

    // The key is rejected from now on; the stream goes on: creates, edits, revokes.
    s.sim.control.setFaults({ unauthorized: true });
    const outageStart = Date.now();
    createSome(20, 'during');
    for (const r of before.slice(0, 5)) story.control.deleteIndicator({ internalId: r.internalId });
    for (const r of before.slice(5, 10))
      story.control.updateIndicator({
        internalId: r.internalId,
        set: { valid_until: '2027-06-01T00:00:00.000Z' },
      });
    const jobs = jobsOf(story.take());
    await s.enqueue(jobs.slice(0, 10));
    await waitFor(async () => (await get(`${base}/readyz`)).status === 503, {
      timeoutMs: 10_000,
      what: '/readyz to fail',
    });
    await s.enqueue(jobs.slice(10));

    // Poll for the rest of the outage: never ready, always alive, the circuit published, jobs left waiting.
    let polls = 0;
    while (Date.now() - outageStart < OUTAGE_MS) {
      const ready = await get(`${base}/readyz`);
      expect(ready).toEqual({
        status: 503,
        body: {
          ready: false,
          reason:
            'Sekoia.io rejected the API key (HTTP 401): set a valid SEKOIA_INTEL_APIKEY (it may be expired or revoked)',
        },
      });
      expect((await get(`${base}/healthz`)).status).toBe(200);
      polls++;
      await pace(250);
    }
    expect(await circuit()).toMatchObject({ state: 'open', reason: 'unauthorized' });
    expect(await s.queues.indicators.getWaitingCount()).toBeGreaterThan(0);
    expect(await s.deadLetters()).toEqual([]);
    const refused = s.sim.control.requestCount(undefined, 401);

    s.sim.control.setFaults({ unauthorized: false });
    await waitFor(async () => (await get(`${base}/readyz`)).status === 200, {
      timeoutMs: 10_000,
      what: '/readyz to recover',
    });
    await s.waitIdle(30_000);
    expect(await circuit()).toMatchObject({ state: 'closed' });
    expect(s.diff(expectedOf(story.all()))).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    expect(worker.output()).toContain('circuit open: Sekoia.io rejected the API key');
    expect(worker.output()).not.toContain(s.sim.apiKey);
    console.log(
      `[401 for ${OUTAGE_MS / 1000} s] ${polls} /readyz polls all 503; ${refused} requests refused (self-probe every 500 ms here, 5 s by default); ${jobs.length} jobs applied after recovery`,
    );
  }, 90_000);

  it('collection deleted (404): the circuit opens with the plain message; a missing single indicator is not mistaken for it', async () => {
    const s = stack;
    const service = await s.startService();
    const [a, b] = createSome(2, 'single');
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);

    // Both indicators vanish from Sekoia behind our back (the collection stays).
    s.sim.control.clearIndicators();
    story.control.deleteIndicator({ internalId: a!.internalId }); // revoke → 404 for that indicator
    story.control.updateIndicator({
      internalId: b!.internalId,
      set: { valid_until: '2027-06-01T00:00:00.000Z' },
    }); // edit → 404
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    expect(service.readiness()).toEqual({ ready: true });
    expect(await circuit()).toMatchObject({ state: 'closed' });
    expect(s.sim.control.requestCount('revoke-indicator', 404)).toBe(1);
    expect(s.sim.control.requestCount('edit-indicator', 404)).toBe(1);
    // The edited one was created again; the oracle agrees on the whole collection.
    expect(s.diff(expectedOf(story.all()))).toEqual(CONVERGED);

    // Now the collection itself is gone.
    s.sim.control.setFaults({ collectionGone: true });
    createSome(3, 'gone');
    await s.enqueue(jobsOf(story.take()));
    await waitFor(() => !service.readiness().ready, { timeoutMs: 10_000, what: 'the circuit to open' });
    expect(service.readiness()).toEqual({
      ready: false,
      reason: 'IOC collection not found: create it in Sekoia.io first',
    });
    expect(await circuit()).toMatchObject({
      state: 'open',
      reason: 'collection-not-found',
      message: 'IOC collection not found: create it in Sekoia.io first',
    });
    expect(await s.deadLetters()).toEqual([]);

    s.sim.control.setFaults({ collectionGone: false });
    await s.waitIdle(20_000);
    expect(service.readiness()).toEqual({ ready: true });
    expect(s.diff(expectedOf(story.all()))).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
  });
});

/**
 * Issue 14 row 7: Sekoia's 403 bodies are undocumented. A key without "Manage IOC collections" (reads work,
 * writes refused) must surface as a configuration error — circuit open naming the permission, /readyz failing,
 * nothing dead-lettered — whatever the body, never be taken for rate limiting (budget paused, writes retried
 * for ever), and the circuit must stay open while the permission is missing instead of closing on every read.
 */
describe('a permission 403, whatever its body (issue 14 row 7)', () => {
  it.each(['json', 'text', 'html'] as const)(
    '%s body: a configuration error that stays open until the permission is given',
    async (body) => {
      const s = stack;
      s.sim.control.setBehavior({ forbiddenBody: body });
      const service = await s.startService();
      createSome(3, `before-${body}`);
      await s.enqueue(jobsOf(story.take()));
      await s.waitIdle(20_000);

      s.sim.control.setKey({ key: s.sim.apiKey, manage: false });
      createSome(5, `during-${body}`);
      await s.enqueue(jobsOf(story.take()));
      await waitFor(() => service.circuit.isOpen, { timeoutMs: 10_000, what: 'the circuit to open' });
      const open = service.circuit.current();
      expect(open.reason).toBe('forbidden');
      expect(open.message).toContain('"Manage IOC collections"');
      expect(service.readiness()).toEqual({ ready: false, reason: open.message });

      // Six self-probe periods: the circuit stays open (a read succeeding is no proof that writes may go on),
      // and the writes are not sent again and again.
      const refused = s.sim.control.requestCount(undefined, 403);
      const until = Date.now() + 6 * 500;
      while (Date.now() < until) {
        expect(service.circuit.current()).toMatchObject({ state: 'open', since: open.since });
        await pace(100);
      }
      // At most one write probe per period (6, one more for a period boundary) and the writes of the 5 values
      // already under way when the circuit opened; a retry loop would send hundreds.
      expect(s.sim.control.requestCount(undefined, 403) - refused).toBeLessThanOrEqual(6 + 1 + 5);
      const pauses = (await service.metrics.budgetPauses.get()).values.reduce((a, v) => a + v.value, 0);
      expect(pauses).toBe(0);
      expect(await s.deadLetters()).toEqual([]);

      s.sim.control.setKey({ key: s.sim.apiKey, manage: true });
      await waitFor(() => !service.circuit.isOpen, { timeoutMs: 10_000, what: 'the circuit to close' });
      await s.waitIdle(20_000);
      expect(s.diff(expectedOf(story.all()))).toEqual(CONVERGED);
      expect(await s.deadLetters()).toEqual([]);
    },
  );
});
