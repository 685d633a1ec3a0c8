/**
 * Acceptance 6 and 7 on the real entry point (child processes):
 * - a revoked token (stream 401, GraphQL AUTH_REQUIRED) gives one log line and a failing `/readyz` with the
 *   reason; the reader recovers by itself once the token is valid again, without a restart;
 * - SIGTERM enqueues the pending batch and commits the checkpoint: after a restart nothing is read again beyond
 *   the last uncommitted group.
 */
import { createQueues } from '@octi-sekoia/queue';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type ManagedProcess, type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONNECTOR_ID,
  compare,
  inProcessIngest,
  jobIds,
  localMetric,
  logLines,
  opsUrl,
  parseJobId,
  spawnIngest,
} from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator;
const procs: ManagedProcess[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-signals');
  sim = await startOpenCtiSimulator({ heartbeatMs: 200 });
});
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await sim.close();
  await r.cleanup();
});

async function readyz(url: string): Promise<{ status: number; body: { ready: boolean; reason?: string } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; reason?: string } };
}

describe('ingest signals and credentials', () => {
  it('a revoked token: one log line, /readyz 503 with the reason, recovery by itself once restored', async () => {
    const first = sim.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.10']" });
    const proc = spawnIngest(r, sim, { INGEST_PING_INTERVAL_S: '1', CONNECTOR_LOG_LEVEL: 'info' });
    procs.push(proc);
    const url = await opsUrl(proc);
    const queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
    await waitFor(
      async () => (await queues.indicators.getJob(`g1-${first.eventId}-${first.internalId}`)) ?? false,
      {
        what: 'the first job',
      },
    );
    await waitFor(async () => (await readyz(url)).status === 200, { what: 'ready' });
    const mark = logLines(proc).length;

    // Token revoked: pings fail at once (AUTH_REQUIRED); the open stream is cut and every reconnect gets a 401.
    sim.control.revokeToken();
    sim.control.cutConnections({ mode: 'destroy' });
    const refused = () => sim.control.connectionLog().filter((a) => a.status === 401).length;
    const failedPings = () =>
      sim.control.graphqlLog().filter((g) => g.errors.includes('AUTH_REQUIRED')).length;
    await waitFor(() => refused() >= 2 && failedPings() >= 2, {
      timeoutMs: 30_000,
      what: 'two refused reconnections and two refused pings',
    });
    const notReady = await readyz(url);
    expect(notReady.status).toBe(503);
    expect(notReady.body.ready).toBe(false);
    expect(notReady.body.reason).toMatch(/401|AUTH_REQUIRED/);
    expect(notReady.body.reason).toMatch(/OPENCTI_TOKEN|token/i);
    const during = logLines(proc).slice(mark);
    const loud = during.filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal');
    expect(loud.map((l) => l.msg)).toEqual([expect.stringMatching(/401|AUTH_REQUIRED/)]);
    expect(loud[0]?.level).toBe('error');
    expect(proc.output()).not.toContain(sim.token);

    // Token valid again: the reader reconnects by itself (same process), /readyz recovers, events flow again.
    sim.control.restoreToken();
    // The next reconnection comes after the reader's backoff (1 s doubling, at most 60 s).
    await waitFor(async () => (await readyz(url)).status === 200, {
      timeoutMs: 65_000,
      what: 'ready again',
    }).catch(async (err) => {
      const log = sim.control.connectionLog().map((a) => `${a.at} ${a.status}`);
      throw new Error(
        `${(err as Error).message}; stream requests: ${log.join(', ')}; /readyz ${JSON.stringify(await readyz(url))}`,
      );
    });
    const later = sim.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.11']" });
    await waitFor(
      async () => (await queues.indicators.getJob(`g1-${later.eventId}-${later.internalId}`)) ?? false,
      {
        what: 'a job after the recovery',
      },
    );
    expect(proc.child.exitCode).toBeNull();
    const after = logLines(proc).slice(mark);
    expect(after.filter((l) => l.msg === 'OpenCTI accepts the token again')).toHaveLength(1);
    expect(after.filter((l) => l.level === 'warn' || l.level === 'error')).toHaveLength(1);
  }, 90_000);

  it('SIGTERM (real entry point) stops reading, enqueues, commits and exits 0; the restart resumes from the checkpoint', async () => {
    const refs = Array.from({ length: 10_000 }, (_, i) =>
      sim.control.createIndicator({
        pattern: `[ipv4-addr:value = '10.${i >> 16}.${(i >> 8) & 255}.${i & 255}']`,
      }),
    );
    // Large batches: while reading, jobs land every 50 ms (linger), so a batch is usually pending at SIGTERM.
    const env = { INGEST_BATCH_SIZE: '5000', CONNECTOR_LOG_LEVEL: 'info' };
    const proc = spawnIngest(r, sim, env);
    procs.push(proc);
    const queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
    await waitFor(async () => (await queues.indicators.count()) >= 1000, { what: '1000 jobs' });
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);

    const stopped = logLines(proc).find((l) => l.msg.startsWith('stopped reading'));
    expect(stopped).toMatchObject({ pending: expect.any(Number), checkpoint: expect.any(String) });
    const checkpoint = String(stopped?.checkpoint);
    const stored = JSON.parse((await r.client.get(queues.keys.checkpoint)) ?? '{}') as { start_from: string };
    expect(stored.start_from).toBe(checkpoint);
    const enqueued = await jobIds(queues);
    const enqueuedSet = new Set(enqueued);
    // Everything up to the checkpoint is in Redis; past it, at most one group (the last one, still open).
    const upTo = refs.filter((ref) => compare(ref.eventId, checkpoint) <= 0);
    expect(upTo.length).toBeGreaterThan(0);
    expect(upTo.filter((ref) => !enqueuedSet.has(`g1-${ref.eventId}-${ref.internalId}`))).toEqual([]);
    const past = new Set(
      enqueued.map((id) => parseJobId(id).eventId).filter((id) => compare(id, checkpoint) > 0),
    );
    expect(past.size).toBeLessThanOrEqual(1);

    const restarted = spawnIngest(r, sim, env);
    procs.push(restarted);
    // The first process may have read everything before SIGTERM: wait for the restart's own connection too.
    await waitFor(
      async () => (await queues.indicators.count()) >= refs.length && sim.control.connectionLog().length >= 2,
      { what: 'every job and the restart connected' },
    );
    expect(sim.control.connectionLog()).toHaveLength(2);
    const resumed = sim.control.connectionLog()[1]?.headers['last-event-id'];
    expect(resumed).toBe(checkpoint);
    const ids = new Set(await jobIds(queues));
    expect(refs.filter((ref) => !ids.has(`g1-${ref.eventId}-${ref.internalId}`))).toEqual([]);
    expect(ids.size).toBe(refs.length);
    console.info(
      `sigterm: ${enqueued.length} jobs at exit (${Number(stopped?.pending)} of them pending at SIGTERM), ` +
        `checkpoint ${checkpoint}, ${past.size} group past it read again`,
    );
  }, 90_000);
});

describe('ingest stop', () => {
  it('enqueues the pending batch and commits the checkpoint; a restart reads again only the last group', async () => {
    // No heartbeat (they flush) and a linger longer than the test: every job stays pending until stop().
    await sim.close();
    sim = await startOpenCtiSimulator({ heartbeatMs: 600_000 });
    const refs = Array.from({ length: 500 }, (_, i) =>
      sim.control.createIndicator({ pattern: `[ipv4-addr:value = '10.9.${i >> 8}.${i & 255}']` }),
    );
    const settings = { batchSize: 1_000_000, lingerMs: 600_000 };
    const first = inProcessIngest(r, sim, settings);
    first.service.start();
    const creates = (reg: typeof first.registry) =>
      localMetric(reg, 'ingest_stream_events_total', { type: 'create' });
    // 500 indicators and, before the first one, the author identity and marking sharing its id.
    await waitFor(async () => (await creates(first.registry)) >= refs.length + 2, {
      what: 'every message read',
    });
    expect(await first.queues.indicators.count()).toBe(0);
    expect(first.service.checkpoint?.start_from).toBe('0-0');

    await first.service.stop();
    const ids = new Set(await jobIds(first.queues));
    expect(refs.filter((ref) => !ids.has(`g1-${ref.eventId}-${ref.internalId}`))).toEqual([]);
    // Committed up to the group before the last one (no message with a greater id proved the last one complete).
    const stored = JSON.parse((await r.client.get(first.queues.keys.checkpoint)) ?? '{}') as {
      start_from: string;
    };
    expect(stored.start_from).toBe(refs.at(-2)?.eventId);

    const again = inProcessIngest(r, sim, settings);
    again.service.start();
    await waitFor(() => sim.control.connectionLog().length === 2, { what: 'the restart' });
    expect(sim.control.connectionLog()[1]?.headers['last-event-id']).toBe(refs.at(-2)?.eventId);
    // It reads the last event again (after its identity and marking dependencies on this new connection), no more.
    await waitFor(async () => (await creates(again.registry)) >= 3, { what: 'the last event read again' });
    await again.service.stop();
    expect(await creates(again.registry)).toBe(3);
    expect(await first.queues.indicators.count()).toBe(refs.length);
  });
});
