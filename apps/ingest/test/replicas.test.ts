/**
 * Acceptance 5: two ingest replicas (the real entry point, child processes) on one stream: exactly one reads and
 * pings; after SIGKILL of that one, the standby takes over once the lease (default TTL, 15 s) expires, and
 * nothing is lost.
 */
import { createQueues } from '@octi-sekoia/queue';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type ManagedProcess, type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, jobIds, metric, opsUrl, spawnIngest } from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator;
const procs: ManagedProcess[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-replicas');
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

const pings = () =>
  sim.control.graphqlLog().filter((g) => g.fields.includes('pingConnector') && g.errors.length === 0).length;

describe('two ingest replicas', () => {
  it('one reads and pings, the other stands by and takes over after SIGKILL without losing events', async () => {
    const refs = Array.from({ length: 300 }, (_, i) =>
      sim.control.createIndicator({ pattern: `[ipv4-addr:value = '10.1.${i >> 8}.${i & 255}']` }),
    );
    const env = { INGEST_PING_INTERVAL_S: '1', CONNECTOR_LOG_LEVEL: 'info' };
    const a = spawnIngest(r, sim, env);
    const b = spawnIngest(r, sim, env);
    procs.push(a, b);
    const [urlA, urlB] = await Promise.all([opsUrl(a), opsUrl(b)]);
    const queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
    await waitFor(async () => (await queues.indicators.count()) >= refs.length, { what: 'first jobs' });

    // Exactly one leader: it holds the lease, has the only stream connection, and is the only one to ping.
    const leaderOf = async () => [await metric(urlA, 'ingest_leader'), await metric(urlB, 'ingest_leader')];
    await waitFor(async () => (await leaderOf()).reduce((x, y) => x + y) === 1, { what: 'one leader' });
    const [la] = await leaderOf();
    const [leader, standby, leaderUrl, standbyUrl] = la === 1 ? [a, b, urlA, urlB] : [b, a, urlB, urlA];
    const before = pings();
    await waitFor(() => pings() >= before + 2, { what: 'two more pings' });
    expect(await metric(leaderUrl, 'ingest_pings_total')).toBeGreaterThan(0);
    expect(await metric(standbyUrl, 'ingest_pings_total')).toBe(0);
    expect(await metric(standbyUrl, 'ingest_stream_events_total')).toBe(0);
    expect(sim.control.connections()).toHaveLength(1);
    expect(sim.control.connectionLog()).toHaveLength(1);
    expect(sim.control.graphqlLog().filter((g) => g.fields.includes('registerConnector'))).toHaveLength(1);
    // Both are ready: the standby's /readyz says why it does not read.
    const standbyReady = (await (await fetch(`${standbyUrl}/readyz`)).json()) as {
      ready: boolean;
      reason?: string;
    };
    expect(standbyReady).toEqual({ ready: true, reason: 'standby: another replica reads the stream' });

    // The leader dies without releasing the lease; events keep coming.
    leader.kill('SIGKILL');
    await leader.exited;
    const killedAt = Date.now();
    const during = Array.from({ length: 100 }, (_, i) =>
      sim.control.createIndicator({ pattern: `[ipv4-addr:value = '10.2.0.${i}']` }),
    );
    await waitFor(async () => (await metric(standbyUrl, 'ingest_leader')) === 1, {
      timeoutMs: 40_000,
      what: 'the standby to take over after the lease TTL',
    });
    const tookOverAfterMs = Date.now() - killedAt;
    const after = sim.control.createIndicator({ pattern: "[ipv4-addr:value = '10.3.0.1']" });
    const all = [...refs, ...during, after];
    const expected = new Set(all.map((ref) => `g1-${ref.eventId}-${ref.internalId}`));
    await waitFor(async () => (await queues.indicators.count()) >= expected.size, { what: 'every event' });
    const ids = await jobIds(queues);
    expect(ids.filter((id) => !expected.has(id))).toEqual([]);
    expect([...expected].filter((id) => !ids.includes(id))).toEqual([]);
    // The new leader resumed from the checkpoint (not from the start) and pings; still a single connection.
    const log = sim.control.connectionLog();
    expect(log).toHaveLength(2);
    expect(log[1]?.headers['last-event-id']).not.toBe('0-0');
    expect(sim.control.connections()).toHaveLength(1);
    await waitFor(async () => (await metric(standbyUrl, 'ingest_pings_total')) > 0, {
      what: 'pings from the new leader',
    });
    console.info(
      `replicas: standby took over ${tookOverAfterMs} ms after SIGKILL of the leader (lease TTL 15 s)`,
    );
    standby.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
  }, 90_000);
});
