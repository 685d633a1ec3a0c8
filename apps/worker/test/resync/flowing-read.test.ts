/**
 * The collection read at the start of a generation keeps the queue flowing (issue 18 item 4): ingest + two
 * workers as processes, both simulators over HTTP, the collection listed slowly (simulator latency on the list
 * route). The recovery's jobs and live changes made during the read are applied while it runs; the sweep waits
 * for the read, and the collection ends as OpenCTI says with writes only for what changed.
 */
import { keys } from '@octi-sekoia/queue';
import { type SekoiaBehaviours, unknownBehaviours, writeProfile } from '@octi-sekoia/sekoia';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, CONVERGED, pagesFor, ResyncStack } from './harness.ts';

let stack: ResyncStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const N = 250;
/** Latency of one list page while the test watches the read: long enough for the recovery to be applied. */
const SLOW_PAGE_MS = 15_000;

describe('a collection read keeps the queue flowing', () => {
  it('jobs are applied while a slow read runs; changes made meanwhile end right, after the read', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      ids.push(
        s.octi.control.createIndicator({
          pattern: `[domain-name:value = 'flow${i}.example']`,
          validUntil: '2030-01-01T00:00:00.000Z',
        }).internalId,
      );
    }
    s.spawnIngest();
    // A page may take SLOW_PAGE_MS: the request deadline is above it.
    s.spawnWorker({ SEKOIA_INTEL_TIMEOUT_MS: String(2 * SLOW_PAGE_MS) });
    s.spawnWorker({ SEKOIA_INTEL_TIMEOUT_MS: String(2 * SLOW_PAGE_MS) });
    await s.waitGeneration(1, 90_000);
    expect(s.diff()).toEqual(CONVERGED);

    s.sim.control.setFaults({
      rules: [{ route: 'list-indicators', action: { kind: 'latency', ms: SLOW_PAGE_MS } }],
    });
    s.sim.control.resetCounters();
    const applied = async () => Number((await s.r.client.hget(s.keys.sync.stats, 'applied')) ?? 0);
    const appliedBefore = await applied();
    s.octi.control.resetConnectorState({ id: CONNECTOR_ID });
    await waitFor(() => s.reads.readRunning(2), {
      timeoutMs: 90_000,
      what: 'the collection read of generation 2 to start',
    });
    // Live changes while the read runs: 3 new indicators, 3 deleted, 3 with a new description.
    for (let i = 0; i < 3; i++) {
      s.octi.control.createIndicator({
        pattern: `[domain-name:value = 'during${i}.example']`,
        validUntil: '2030-01-01T00:00:00.000Z',
      });
      s.octi.control.deleteIndicator({ internalId: ids[i]! });
      s.octi.control.updateIndicator({
        internalId: ids[10 + i]!,
        set: { valid_until: '2031-01-01T00:00:00.000Z' },
      });
    }
    // The outcome the change is for: the recovery (N replayed events) and the live changes are applied while the
    // read of their generation still runs. Before it, the queue was paused for the whole read.
    await waitFor(async () => (await applied()) >= appliedBefore + N + 9 && (await s.reads.readRunning(2)), {
      timeoutMs: 2 * SLOW_PAGE_MS,
      intervalMs: 100,
      what: "generation 2's jobs applied during its read",
    });
    expect((await s.generations()).swept).toBeLessThan(2);
    s.sim.control.setFaults({ rules: [] });

    await s.waitGeneration(2, 90_000);
    expect(s.diff()).toEqual(CONVERGED);
    const r = s.requests();
    // Writes only for what changed: the 3 new values (one create: they share their fields), the 3 deleted
    // revoked, the 3 edited.
    expect(r).toMatchObject({ edit: 3, revoke: 3 });
    expect(r.create).toBeGreaterThanOrEqual(1);
    expect(r.create).toBeLessThanOrEqual(3);
    const read = (await s.reads.readInfo())!;
    expect(read).toMatchObject({ generation: 2, unsure: 0 });
    expect(read.confirmed).toBeGreaterThanOrEqual(N - 3);
  });

  it('with the probe profile saying the feed is usable, a re-sync reads the collection through it', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    const behaviours: SekoiaBehaviours = { ...unknownBehaviours(), collectionFeed: 'usable' };
    await writeProfile(s.r.client, keys(s.r.prefix, CONNECTOR_ID).sekoiaProfile, {
      version: 1,
      observedAt: new Date().toISOString(),
      sekoiaHost: new URL(s.sim.url).host,
      collectionId: s.sim.collectionId,
      behaviours,
    });
    for (let i = 0; i < N; i++)
      s.octi.control.createIndicator({ pattern: `[domain-name:value = 'feed${i}.example']` });
    s.spawnIngest();
    s.spawnWorker();
    await s.waitGeneration(1, 90_000);
    s.sim.control.resetCounters();
    s.octi.control.resetConnectorState({ id: CONNECTOR_ID });
    await s.waitGeneration(2, 90_000);
    expect(s.diff()).toEqual(CONVERGED);
    const read = (await s.reads.readInfo())!;
    expect(read).toMatchObject({ generation: 2, confirmed: N, unsure: 0 });
    // One feed request instead of ⌈N/100⌉ list pages; nothing written, nothing searched.
    expect(s.sim.control.requestCount('feed-objects')).toBe(1);
    expect(pagesFor(N)).toBeGreaterThan(1);
    expect(s.requests()).toMatchObject({ list: 0, create: 0, edit: 0, revoke: 0 });
  });
});
