/**
 * A generation started by a gap OpenCTI trimmed (deletes never read), and a generation superseded by a newer one
 * while it waits to be swept.
 */
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, CONVERGED, ResyncStack } from './harness.ts';

let stack: ResyncStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const domain = (tag: string, i: number) => `[domain-name:value = '${tag}-${i}.example']`;

describe('generations end to end', () => {
  it('indicators deleted while ingest was down, in a gap OpenCTI trimmed: the re-sync revokes their values', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    const refs = Array.from({ length: 40 }, (_, i) =>
      s.octi.control.createIndicator({ pattern: domain('kept', i) }),
    );
    // kept-0.example is also exported by another indicator: it must survive the deletion of its own.
    s.octi.control.createIndicator({
      pattern: "[domain-name:value = 'kept-0.example' OR domain-name:value = 'extra.example']",
    });
    let ingest = s.spawnIngest();
    s.spawnWorker();
    await s.waitGeneration(1);
    expect(s.diff()).toEqual(CONVERGED);

    ingest.kill('SIGTERM');
    expect(await ingest.exited).toBe(0);
    // While ingest is down: 6 indicators deleted, 3 created, then OpenCTI trims its stream past our checkpoint
    // (only the last event is kept): the deletes are never read.
    const deleted = refs.slice(0, 6);
    for (const ref of deleted) s.octi.control.deleteIndicator({ internalId: ref.internalId });
    const added = Array.from({ length: 3 }, (_, i) =>
      s.octi.control.createIndicator({ pattern: domain('gap', i) }),
    );
    s.capture();
    s.octi.control.trim({ minId: added.at(-1)!.eventId });

    ingest = s.spawnIngest();
    await ingest.waitForOutput(/stream trimmed past our checkpoint/, 30_000);
    await s.waitGeneration(2);
    expect(s.diff()).toEqual(CONVERGED);
    const live = new Set(s.sim.control.liveValues());
    for (let i = 1; i < 6; i++) expect(live.has(`kept-${i}.example`)).toBe(false);
    expect(live.has('kept-0.example')).toBe(true);
    for (let i = 0; i < 3; i++) expect(live.has(`gap-${i}.example`)).toBe(true);
  });

  it('a newer generation starting while the previous one waits for its sweep supersedes it: nothing is revoked and created again', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    for (let i = 0; i < 150; i++) s.octi.control.createIndicator({ pattern: domain('stable', i) });
    let ingest = s.spawnIngest();
    s.spawnWorker({ SEKOIA_INTEL_TIMEOUT_MS: '40000' });
    await s.waitGeneration(1);
    const idsBefore = s.sim.control
      .indicators()
      .map((i) => i.id)
      .sort();

    // Generation 2's collection read is slow (Sekoia takes 25 s for a page, below the worker's 40 s request
    // timeout): its sweep waits for the read, the marker deferred (delayed) or polled (active) meanwhile. Long
    // enough for ingest to enqueue the marker before the read ends on a loaded machine (3 s was not: a marker
    // enqueued after the read is swept at once and never seen pending).
    s.sim.control.setFaults({
      rules: [{ route: 'list-indicators', times: 1, action: { kind: 'latency', ms: 25_000 } }],
    });
    s.sim.control.resetCounters();
    s.octi.control.resetConnectorState({ id: CONNECTOR_ID });
    await waitFor(async () => (await s.generations()).current === 2 && (await s.reads.lockHeld()), {
      timeoutMs: 30_000,
      what: 'generation 2 read in progress',
    });
    const marker = await waitFor(
      async () =>
        // In any unfinished state: a marker waits in 'wait' only for moments now that the queue flows during a
        // read (each deferral sends it to the delayed set, and a worker takes it again as soon as it is due), so
        // looking in 'waiting' alone missed it on a loaded machine.
        (await s.queues.indicators.getJobs(['waiting', 'delayed', 'active', 'prioritized'])).find(
          (j) => j.data.kind === 'sweep' && j.data.generation === 2,
        ),
      { timeoutMs: 90_000, what: "generation 2's sweep marker queued" },
    );
    // Meanwhile ingest starts generation 3 — as its startGeneration does: new generation, checkpoint from 0-0 with
    // a recovery up to now — and dies before reading it (its lease is let go). Generation 2's jobs are now refused:
    // its seen set misses the indicators they carried.
    ingest.kill('SIGKILL');
    await ingest.exited;
    const now = Date.now();
    await s.r.client.incr(s.keys.generation);
    await s.r.client.set(
      s.keys.checkpoint,
      JSON.stringify({
        start_from: '0-0',
        recover_until: new Date(now).toISOString(),
        generation: 3,
        sweep: { generation: 3, afterId: `${now}-0` },
      }),
    );
    await s.r.client.del(s.keys.lease);
    await waitFor(async () => (await s.queues.indicators.getJob(marker.id!))?.finishedOn, {
      timeoutMs: 60_000,
      what: "generation 2's sweep marker processed",
    });
    // Its sweep was skipped: no indicator removed, nothing revoked.
    expect(await s.r.client.hget(s.keys.sync.stats, 'swept')).toBeNull();
    expect(s.requests()).toMatchObject({ revoke: 0 });

    ingest = s.spawnIngest();
    await s.waitGeneration(3);
    expect(s.diff()).toEqual(CONVERGED);
    expect(s.requests()).toMatchObject({ create: 0, revoke: 0, edit: 0 });
    expect(
      s.sim.control
        .indicators()
        .map((i) => i.id)
        .sort(),
    ).toEqual(idsBefore);
  });
});
