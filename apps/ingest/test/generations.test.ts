/**
 * Acceptance 3: a reset of the connector state in OpenCTI, a stream trimmed past the checkpoint, or a reset seen
 * by a replica that died before acting on it, each start generation G+1: checkpoint `generation` + 1 and the
 * `generation` key, a full recovery enqueued as jobs of G+1 for every live indicator, then a sweep marker job
 * `g<G+1>-<afterId>-sweep` after them.
 */
import type { ConnectorQueues } from '@octi-sekoia/queue';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredCheckpoint } from '../src/checkpoint-store.ts';
import type { IngestService } from '../src/ingest-service.ts';
import { CONNECTOR_ID, compare, inProcessIngest, parseJobId } from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator;
const services: IngestService[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-gen');
  sim = await startOpenCtiSimulator({ heartbeatMs: 100 });
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await sim.close();
  await r.cleanup();
});

function start() {
  const ingest = inProcessIngest(r, sim);
  services.push(ingest.service);
  ingest.service.start();
  return ingest;
}

async function checkpoint(queues: ConnectorQueues): Promise<StoredCheckpoint> {
  return JSON.parse((await r.client.get(queues.keys.checkpoint)) ?? 'null') as StoredCheckpoint;
}

/** Indicators: some revoked, some deleted. */
function world(n: number, tag: string) {
  const refs = Array.from({ length: n }, (_, i) =>
    sim.control.createIndicator({ pattern: `[domain-name:value = '${tag}-${i}.example']` }),
  );
  for (const ref of refs.slice(0, Math.floor(n / 10)))
    sim.control.revokeIndicator({ internalId: ref.internalId });
  for (const ref of refs.slice(n - Math.floor(n / 10)))
    sim.control.deleteIndicator({ internalId: ref.internalId });
  return refs;
}

/** Waits for the sweep marker of `generation`, then checks the recovery it closes (see the file comment). */
async function expectFullRecovery(queues: ConnectorQueues, generation: number) {
  const marker = await waitFor(
    async () => {
      const ids = await queues.indicators.getRanges(['waiting'], 0, -1, true);
      return ids.find((id) => id.startsWith(`g${generation}-`) && id.endsWith('-sweep'));
    },
    { timeoutMs: 30_000, what: `the sweep marker of generation ${generation}` },
  );
  const afterId = parseJobId(marker).eventId;
  // Oldest first: every job of the recovery (ids up to `<recover ms>-0`) is enqueued before the marker.
  const order = await queues.indicators.getRanges(['waiting'], 0, -1, true);
  const at = order.indexOf(marker);
  const ofGen = order.map((id, i) => ({ i, ...parseJobId(id) })).filter((j) => j.generation === generation);
  const recovery = ofGen.filter((j) => j.subject !== 'sweep' && compare(j.eventId, afterId) <= 0);
  expect(recovery.length).toBeGreaterThan(0);
  expect(recovery.every((j) => j.i < at)).toBe(true);
  expect(ofGen.filter((j) => j.i > at).every((j) => compare(j.eventId, afterId) > 0)).toBe(true);
  // Every live indicator is in the recovery (or, changed in the recovery's last second, read live after it),
  // revoked ones as removes; deleted ones are never upserted (the sweep removes what the recovery missed).
  const jobs = await queues.indicators.getJobs(['waiting'], 0, -1);
  const g = jobs.filter((j) => j.data.generation === generation && j.data.kind === 'indicator');
  for (const ind of sim.control.listIndicators()) {
    const mine = g.filter((j) => j.data.kind === 'indicator' && j.data.indicatorId === ind.internalId);
    const latest = mine.sort((a, b) => compare(a.data.eventId, b.data.eventId)).at(-1)?.data;
    const op = latest?.kind === 'indicator' ? latest.op : undefined;
    if (ind.deleted) expect(op, `deleted ${ind.internalId}`).not.toBe('upsert');
    else expect(op, `live ${ind.internalId}`).toBe(ind.revoked ? 'remove' : 'upsert');
  }
  return { marker, afterId, recovery: recovery.length };
}

describe('ingest generations', () => {
  it('a reset in OpenCTI starts generation G+1: full recovery, then a sweep marker', async () => {
    world(200, 'before');
    const { service, queues } = start();
    // Generation 1 read from the start of the stream (no recovery), caught up.
    await waitFor(async () => (await queues.indicators.count()) >= 200 + 20 + 20, { what: 'generation 1' });
    const g1 = await checkpoint(queues);
    expect(g1.generation).toBe(1);
    expect(await r.client.get(queues.keys.generation)).toBe('1');

    sim.control.resetConnectorState({ id: CONNECTOR_ID });
    await waitFor(async () => (await checkpoint(queues)).generation === 2, { what: 'generation 2' });
    expect(await r.client.get(queues.keys.generation)).toBe('2');
    // The reset flag was consumed by a ping, and the connector reconnected as a first run: from 0-0 with recovery.
    await waitFor(() => sim.control.connector({ id: CONNECTOR_ID })?.resetFlag === false, {
      what: 'reset seen',
    });
    const reconnect = await waitFor(
      () =>
        sim.control
          .connectionLog()
          .slice(1)
          .find((a) => a.headers['last-event-id'] === '0-0'),
      { what: 'the reconnection of generation 2' },
    );
    expect(reconnect?.headers['last-event-id']).toBe('0-0');
    expect(decodeURIComponent(reconnect?.url ?? '')).toMatch(/\?recover=\d{4}-\d\d-\d\dT[\d:.]+Z$/);

    const { afterId, recovery } = await expectFullRecovery(queues, 2);
    expect(recovery).toBeGreaterThanOrEqual(150);
    // The checkpoint forgets the finished recovery right after the marker is enqueued.
    await waitFor(async () => ((await checkpoint(queues)).sweep ?? null) === null, { what: 'recovery done' });
    // Live events after the recovery carry the new generation.
    const later = sim.control.createIndicator({ pattern: "[domain-name:value = 'after-reset.example']" });
    await waitFor(
      async () => (await queues.indicators.getJob(`g2-${later.eventId}-${later.internalId}`)) ?? false,
      {
        what: 'a live job of generation 2',
      },
    );
    expect(compare(later.eventId, afterId)).toBeGreaterThan(0);
    // OpenCTI mirrors the new state (pycti shape) on the next pings.
    await waitFor(
      () => {
        const state = sim.control.connector({ id: CONNECTOR_ID })?.state;
        return state ? (JSON.parse(state) as { recover_until: string | null }).recover_until !== null : false;
      },
      { what: 'the new state mirrored to OpenCTI' },
    );
    expect(service.checkpoint?.generation).toBe(2);
  });

  it('a stream trimmed past the checkpoint while ingest was stopped starts generation G+1', async () => {
    const before = world(100, 'kept');
    const first = start();
    await waitFor(async () => (await first.queues.indicators.count()) >= 120, { what: 'generation 1' });
    await waitFor(
      async () => compare((await checkpoint(first.queues)).start_from, before.at(-1)!.eventId) >= 0,
      {
        what: 'checkpoint at the end of the stream',
      },
    );
    await first.service.stop();
    const stopped = await checkpoint(first.queues);

    // While ingest is down: new indicators, deletes (old and new), and OpenCTI trims past our checkpoint.
    const added = world(60, 'gap');
    for (const ref of before.slice(20, 30)) sim.control.deleteIndicator({ internalId: ref.internalId });
    const trimAt = added[10]!.eventId;
    sim.control.trim({ minId: trimAt });
    expect(compare(sim.control.streamInfo().firstEventId, stopped.start_from)).toBeGreaterThan(0);

    const { queues } = start();
    await waitFor(async () => (await checkpoint(queues)).generation === 2, { what: 'generation 2' });
    expect(await r.client.get(queues.keys.generation)).toBe('2');
    await expectFullRecovery(queues, 2);
    // The deletes in the trimmed gap are not in the recovery (deleted objects are not listed): the sweep is what
    // removes them. (Their delete events may still be read live when they share the millisecond of the stream
    // position the recovery ends at: the live part starts after `<ms>-0`.)
    const g2 = (await queues.indicators.getJobs(['waiting'], 0, -1)).filter((j) => j.data.generation === 2);
    for (const ref of before.slice(20, 30)) {
      const upserted = g2.some(
        (j) => j.data.kind === 'indicator' && j.data.indicatorId === ref.internalId && j.data.op === 'upsert',
      );
      expect(upserted, ref.internalId).toBe(false);
    }
  });

  it('a reset seen by a replica that died before acting on it is acted on by the next leader', async () => {
    world(30, 'seen');
    const first = start();
    await waitFor(async () => (await first.queues.indicators.count()) >= 36, { what: 'generation 1' });
    await first.service.stop();
    // The ping that consumed OpenCTI's reset flag recorded it, then the process died.
    await r.client.set(first.queues.keys.resetSeen, new Date().toISOString());

    const { queues } = start();
    await waitFor(async () => (await checkpoint(queues)).generation === 2, { what: 'generation 2' });
    await expectFullRecovery(queues, 2);
    expect(await r.client.exists(queues.keys.resetSeen)).toBe(0);
  });
});
