/**
 * Issue 13 case 1: the generation counter is moved only by the lease-fenced start-generation script, and a
 * reader whose generation differs from the counter starts a generation again by itself. Otherwise a leader that
 * stalls past its lease while starting a generation bumps the counter behind the new leader, whose jobs are then
 * all refused as stale-generation: nothing reaches Sekoia until the next leadership change.
 */
import type { IndicatorJob } from '@octi-sekoia/model';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredCheckpoint } from '../src/checkpoint-store.ts';
import type { IngestService } from '../src/ingest-service.ts';
import { inProcessIngest, memoryLog } from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator;
const services: IngestService[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-race');
  sim = await startOpenCtiSimulator({ heartbeatMs: 100 });
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await sim.close();
  await r.cleanup();
});

async function counter(key: string): Promise<number> {
  return Number((await r.client.get(key)) ?? 0);
}

/** The job ingest enqueued for a new indicator (whatever its generation). */
async function jobOf(ingest: ReturnType<typeof inProcessIngest>, internalId: string, eventId: string) {
  return waitFor(
    async () => {
      const jobs = await ingest.queues.indicators.getJobs(['waiting'], 0, -1);
      return jobs.find(
        (j) => j.data.kind === 'indicator' && j.data.indicatorId === internalId && j.data.eventId === eventId,
      )?.data as IndicatorJob | undefined;
    },
    { timeoutMs: 30_000, what: `the job of ${internalId}` },
  );
}

describe('case 1: ingest generation race', () => {
  it('case 1: a leader stalled past its lease while starting a generation does not move the generation of the new leader', async () => {
    for (let i = 0; i < 20; i++)
      sim.control.createIndicator({ pattern: `[domain-name:value = 'd${i}.example']` });
    // Replica A: its own Redis connection, which the stall cuts (Redis unreachable from it alone).
    const redisA = r.connect();
    let stalled = false;
    let resumed = false;
    let b: ReturnType<typeof inProcessIngest> | undefined;
    const a = inProcessIngest(
      r,
      sim,
      {},
      {
        serviceRedis: redisA,
        beforeGenerationStart: async () => {
          stalled = true;
          redisA.disconnect();
          // The lease expires meanwhile; B takes over and reads with the generation it finds.
          await waitFor(() => b?.service.isLeader() && b.service.checkpoint !== undefined, {
            timeoutMs: 30_000,
            what: 'B to take over while A is stalled',
          });
          await redisA.connect();
          resumed = true;
        },
      },
    );
    services.push(a.service);
    a.service.start();
    await waitFor(async () => (await a.queues.indicators.count()) >= 20, { what: 'generation 1 read by A' });
    const k = a.queues.keys;
    expect(await counter(k.generation)).toBe(1);

    b = inProcessIngest(r, sim, {}, { log: memoryLog() });
    services.push(b.service);
    b.service.start();
    // A re-sync request: A (the leader) starts generation 2 and stalls right before it is recorded.
    await r.client.set(k.resyncRequested, '1');
    await waitFor(() => resumed, { timeoutMs: 60_000, what: 'A to stall and resume' });
    expect(stalled).toBe(true);
    // A's lease renewal (on its connection, after whatever A sent when it resumed) finds the lease taken.
    await waitFor(() => !a.service.isLeader(), { what: 'A to notice it lost the lease' });

    // B's jobs carry the current generation: record-desired accepts them.
    const later = sim.control.createIndicator({ pattern: "[domain-name:value = 'after-stall.example']" });
    const job = await jobOf(b, later.internalId, later.eventId);
    const cp = JSON.parse((await r.client.get(k.checkpoint)) ?? 'null') as StoredCheckpoint;
    expect(job.generation).toBe(await counter(k.generation));
    expect(cp.generation).toBe(await counter(k.generation));
  });

  it('case 1: a reader whose generation differs from the counter starts a new generation by itself', async () => {
    for (let i = 0; i < 20; i++)
      sim.control.createIndicator({ pattern: `[domain-name:value = 'e${i}.example']` });
    const log = memoryLog();
    const ingest = inProcessIngest(r, sim, {}, { log });
    services.push(ingest.service);
    ingest.service.start();
    await waitFor(async () => (await ingest.queues.indicators.count()) >= 20, { what: 'generation 1' });
    const k = ingest.queues.keys;
    // The counter moves behind the reader's back (an older replica, a hand edit).
    await r.client.set(k.generation, '5');

    await waitFor(async () => ingest.service.checkpoint?.generation === 6, {
      timeoutMs: 30_000,
      what: 'a new generation started without operator action',
    });
    expect(await counter(k.generation)).toBe(6);
    expect(log.lines.some((l) => l.level === 'warn' && l.obj && 'counter' in l.obj)).toBe(true);
    const later = sim.control.createIndicator({ pattern: "[domain-name:value = 'after-bump.example']" });
    const job = await jobOf(ingest, later.internalId, later.eventId);
    expect(job.generation).toBe(6);
  });
});
