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
import { compare, inProcessIngest, parseJobId } from './helpers.ts';

let r: TestRedis | undefined;
let sim: OpenCtiSimulator | undefined;
const services: IngestService[] = [];

afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await sim?.close();
  await r?.cleanup();
});

const SKEW_MS = 5 * 60_000;

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
      // Every indicator of the snapshot was enqueued before the marker: upserts for live ones, removes for revoked.
      const order = await q.getRanges(['waiting'], 0, -1, true);
      const at = order.indexOf(marker);
      const jobs = await q.getJobs(['waiting'], 0, -1);
      const position = new Map(order.map((id, i) => [id, i]));
      for (const ind of sim.control.listIndicators()) {
        if (ind.deleted) continue;
        const before = jobs.filter(
          (j) =>
            j.data.kind === 'indicator' &&
            j.data.indicatorId === ind.internalId &&
            (position.get(j.id ?? '') ?? Number.POSITIVE_INFINITY) < at,
        );
        const op = before.at(-1)?.data;
        expect(op?.kind === 'indicator' ? op.op : undefined, `${ind.internalId} before the marker`).toBe(
          ind.revoked ? 'remove' : 'upsert',
        );
      }

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
});
