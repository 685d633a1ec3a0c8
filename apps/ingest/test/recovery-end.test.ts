/**
 * Issue 13 case 5: the end of a recovery (where the sweep marker goes) never depends on ingest's clock. The
 * recovery runs up to the platform's own stream position (the `connected` frame's `lastEventId`), so with the
 * platform's clock minutes ahead of or behind ingest's, a slow recovery and frequent heartbeats, the marker comes
 * after every listed indicator, and live events after the recovery are read (none skipped).
 */
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestService } from '../src/ingest-service.ts';
import { CONNECTOR_ID, compare, inProcessIngest, parseJobId } from './helpers.ts';

let r: TestRedis | undefined;
let sim: OpenCtiSimulator | undefined;
const services: IngestService[] = [];

afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await sim?.close();
  await r?.cleanup();
});

const SKEW_MS = 5 * 60_000;

/** Every indicator of the snapshot has its job before the marker: upserts for live ones, removes for revoked. */
async function expectSnapshotBeforeMarker(
  q: ReturnType<typeof inProcessIngest>['queues']['indicators'],
  marker: string,
) {
  const generation = parseJobId(marker).generation;
  const order = await q.getRanges(['waiting'], 0, -1, true);
  const at = order.indexOf(marker);
  const position = new Map(order.map((id, i) => [id, i]));
  const jobs = await q.getJobs(['waiting'], 0, -1);
  const live = sim!.control.listIndicators().filter((ind) => !ind.deleted);
  expect(live.length).toBeGreaterThan(0);
  for (const ind of live) {
    const before = jobs
      .filter(
        (j) =>
          j.data.kind === 'indicator' &&
          j.data.generation === generation &&
          j.data.indicatorId === ind.internalId &&
          (position.get(j.id ?? '') ?? Number.POSITIVE_INFINITY) < at,
      )
      .sort((a, b) => compare(a.data.eventId, b.data.eventId));
    const op = before.at(-1)?.data;
    expect(op?.kind === 'indicator' ? op.op : undefined, `${ind.internalId} before the marker`).toBe(
      ind.revoked ? 'remove' : 'upsert',
    );
  }
}

/** The sweep marker of `generation`, once enqueued. */
function markerOf(q: ReturnType<typeof inProcessIngest>['queues']['indicators'], generation: number) {
  return waitFor(
    async () =>
      (await q.getRanges(['waiting'], 0, -1, true)).find(
        (id) => id.startsWith(`g${generation}-`) && id.endsWith('-sweep'),
      ),
    { timeoutMs: 60_000, what: `the sweep marker of generation ${generation}` },
  );
}

describe('case 5: end of the recovery under clock skew', () => {
  it.each([
    ['ahead of', SKEW_MS],
    ['behind', -SKEW_MS],
  ])(
    'case 5: platform clock %s ingest by 5 min, slow recovery, frequent heartbeats: the sweep marker follows the whole snapshot',
    async (_label, skew) => {
      r = await testRedis('ingest-skew');
      sim = await startOpenCtiSimulator({ heartbeatMs: 20, clockSkewMs: skew, recoveryItemDelayMs: 15 });
      const refs = Array.from({ length: 60 }, (_, i) =>
        sim!.control.createIndicator({ pattern: `[domain-name:value = 'skew-${i}.example']` }),
      );
      for (const ref of refs.slice(0, 5)) sim.control.revokeIndicator({ internalId: ref.internalId });
      for (const ref of refs.slice(55)) sim.control.deleteIndicator({ internalId: ref.internalId });

      // First run with the default recovery ("up to now"): generation 1's snapshot, then its sweep marker.
      const ingest = inProcessIngest(r, sim, { recoverIsoDate: undefined });
      services.push(ingest.service);
      ingest.service.start();
      const q = ingest.queues.indicators;
      const marker = await waitFor(
        async () => (await q.getRanges(['waiting'], 0, -1, true)).find((id) => id.endsWith('-sweep')),
        { timeoutMs: 60_000, what: 'the sweep marker of generation 1' },
      );
      const afterId = parseJobId(marker).eventId;
      await expectSnapshotBeforeMarker(q, marker);

      // The recovery ran up to the platform's position (its clock), not ingest's.
      const platformNow = sim.control.streamInfo().lastEventId;
      expect(compare(afterId, platformNow)).toBeLessThanOrEqual(0);
      expect(Number(platformNow.split('-')[0]) - Number(afterId.split('-')[0])).toBeLessThan(60_000);

      // Live events after the recovery are read, not skipped.
      const later = sim.control.createIndicator({
        pattern: "[domain-name:value = 'after-recovery.example']",
      });
      await waitFor(async () => (await q.getJob(`g1-${later.eventId}-${later.internalId}`)) ?? false, {
        timeoutMs: 30_000,
        what: 'the live job after the recovery',
      });
      expect(compare(later.eventId, afterId)).toBeGreaterThan(0);
      // The state mirrored to OpenCTI names the platform's recovery date.
      const cp = ingest.service.checkpoint;
      expect(cp?.recover_until).toBe(new Date(Number(afterId.split('-')[0])).toISOString());
    },
  );
  it.each([
    ['ahead of', SKEW_MS],
    ['behind', -SKEW_MS],
  ])(
    "case 5: platform clock %s ingest by 5 min, a reset from OpenCTI: the new generation's marker follows its whole snapshot",
    async (_label, skew) => {
      r = await testRedis('ingest-skew');
      sim = await startOpenCtiSimulator({ heartbeatMs: 20, clockSkewMs: skew, recoveryItemDelayMs: 10 });
      for (let i = 0; i < 40; i++)
        sim.control.createIndicator({ pattern: `[domain-name:value = 'r-${i}.example']` });
      const ingest = inProcessIngest(r, sim);
      services.push(ingest.service);
      ingest.service.start();
      const q = ingest.queues.indicators;
      await waitFor(async () => (await q.count()) >= 40, { what: 'generation 1 (no recovery)' });
      sim.control.resetConnectorState({ id: CONNECTOR_ID });
      const marker = await markerOf(q, 2);
      await expectSnapshotBeforeMarker(q, marker);
      const later = sim.control.createIndicator({ pattern: "[domain-name:value = 'after-reset.example']" });
      await waitFor(async () => (await q.getJob(`g2-${later.eventId}-${later.internalId}`)) ?? false, {
        timeoutMs: 30_000,
        what: 'the live job after the recovery of generation 2',
      });
    },
  );

  it('case 5: an empty stream has no last event id: the recovery ends at the platform time of its first heartbeat', async () => {
    r = await testRedis('ingest-skew');
    sim = await startOpenCtiSimulator({ heartbeatMs: 20, clockSkewMs: -SKEW_MS });
    const ingest = inProcessIngest(r, sim, { recoverIsoDate: undefined });
    services.push(ingest.service);
    ingest.service.start();
    const q = ingest.queues.indicators;
    const marker = await markerOf(q, 1);
    const afterMs = Number(parseJobId(marker).eventId.split('-')[0]);
    // The platform's time (5 min behind this process), not this process's.
    expect(Math.abs(afterMs - (Date.now() - SKEW_MS))).toBeLessThan(60_000);
    const later = sim.control.createIndicator({ pattern: "[domain-name:value = 'first.example']" });
    await waitFor(async () => (await q.getJob(`g1-${later.eventId}-${later.internalId}`)) ?? false, {
      timeoutMs: 30_000,
      what: 'the first live job',
    });
  });
  it('a first run whose start is not before the platform position has no recovery, so no sweep', async () => {
    r = await testRedis('ingest-skew');
    sim = await startOpenCtiSimulator({ heartbeatMs: 20 });
    for (let i = 0; i < 5; i++)
      sim.control.createIndicator({ pattern: `[domain-name:value = 's-${i}.example']` });
    // CONNECTOR_LIVE_STREAM_START_TIMESTAMP ten minutes ahead of the platform: OpenCTI runs no recovery.
    const ingest = inProcessIngest(r, sim, {
      recoverIsoDate: undefined,
      startTimestamp: Date.now() + 600_000,
    });
    services.push(ingest.service);
    ingest.service.start();
    const cp = await waitFor(() => ingest.service.checkpoint, { what: 'the first checkpoint' });
    expect(cp.recover_until).toBeNull();
    expect(cp.sweep ?? null).toBeNull();
  });
});
