/**
 * Redis loses writes it had acknowledged: what a failover to a replica that had not received them does, and a
 * restart from an older snapshot (docs/redis.md, "What a failover can cost"). Emulated exactly: a private
 * redis-server without an AOF is snapshotted (SAVE) while ingest (the real entry point) reads, more batches and
 * checkpoints land, then the server is SIGKILLed and restarted from that snapshot, with ingest still holding its
 * lease there. Ingest must notice at its next commit and read again from the checkpoint Redis holds: in the end
 * the queue holds the job of every indicator event of the stream.
 */
import { createQueues } from '@octi-sekoia/queue';
import {
  applyScenario,
  controlTarget,
  generateScenario,
  type OpenCtiSimulator,
  startOpenCtiSimulator,
} from '@octi-sekoia/simulators';
import { type ManagedProcess, type RedisServer, startRedisServer, waitFor } from '@octi-sekoia/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, expectedJobIds, jobIds, logLines, readWholeStream, spawnIngest } from './helpers.ts';

let server: RedisServer | undefined;
let sim: OpenCtiSimulator | undefined;
let proc: ManagedProcess | undefined;
let client: Redis | undefined;

afterEach(async () => {
  proc?.kill('SIGKILL');
  await proc?.exited;
  client?.disconnect();
  await sim?.close();
  await server?.destroy();
  proc = sim = client = server = undefined;
});

describe('Redis rolled back to an older state under a running ingest', () => {
  it('reads again from the checkpoint Redis holds: no indicator event is lost', async () => {
    server = await startRedisServer({ appendonly: false });
    client = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    const prefix = 'test:rollback';
    const queues = createQueues(client, prefix, CONNECTOR_ID);
    queues.indicators.on('error', () => undefined);
    const count = () => queues.indicators.count();
    const checkpoint = async () =>
      (JSON.parse((await client!.get(queues.keys.checkpoint)) ?? '{}') as { start_from?: string }).start_from;

    const scenario = generateScenario({ seed: 4242, indicators: 1200 });
    const steps = scenario.steps.length;
    sim = await startOpenCtiSimulator({ heartbeatMs: 100, seed: 4242 });
    const target = controlTarget(sim.control);
    const third = Math.floor(steps / 3);
    applyScenario(target, scenario, { to: third });
    proc = spawnIngest({ url: server.url, prefix }, sim, {
      INGEST_BATCH_SIZE: '50',
      CONNECTOR_LOG_LEVEL: 'info',
    });
    await waitFor(async () => (await count()) > 0 && (await checkpoint()) !== undefined, {
      timeoutMs: 60_000,
      what: 'first jobs and a checkpoint',
    });
    await waitFor(async () => (await count()) >= third * 0.8, {
      timeoutMs: 60_000,
      what: 'most of the first third',
    });

    // The snapshot a replica would have had; then more batches and checkpoints land, acknowledged.
    await client.save();
    const snapshotJobs = await count();
    const snapshotCheckpoint = await checkpoint();
    applyScenario(target, scenario, { from: third, to: 2 * third });
    await waitFor(
      async () => (await count()) >= snapshotJobs + 200 && (await checkpoint()) !== snapshotCheckpoint,
      {
        timeoutMs: 60_000,
        what: '200 more jobs and a newer checkpoint',
      },
    );

    // The failover: everything since the snapshot is gone, the lease is still ingest's.
    await server.stop('SIGKILL');
    await server.restart();

    applyScenario(target, scenario, { from: 2 * third });
    const messages = await readWholeStream(sim);
    const expected = expectedJobIds(messages, sim.url);
    // Without the check, the lost jobs never come back: waiting ends at the timeout and the list below names them.
    await waitFor(async () => (await count()) >= expected.size, {
      timeoutMs: 60_000,
      what: `${expected.size} jobs`,
    }).catch(() => undefined);
    const have = new Set(await jobIds(queues));
    const missing = [...expected].filter((id) => !have.has(id));
    expect(missing).toEqual([]);
    expect(logLines(proc).some((l) => /Redis lost writes it had acknowledged/.test(l.msg))).toBe(true);
    await queues.close();
  }, 240_000);
});
