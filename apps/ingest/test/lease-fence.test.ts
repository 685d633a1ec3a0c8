/**
 * The reader's job writes are fenced by its lease (issue 17): a reader whose lease another replica holds in Redis
 * writes no job, even before its own renewal notices the loss, commits nothing past the refused batch, and stops
 * reading (as when the lease is lost).
 */
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { inProcessIngest, jobIds, memoryLog } from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator;
const stops: Array<() => Promise<void>> = [];

beforeEach(async () => {
  r = await testRedis('ingest-lease-fence');
  sim = await startOpenCtiSimulator({ heartbeatMs: 200 });
});
afterEach(async () => {
  while (stops.length) await stops.pop()!();
  await sim.close();
  await r.cleanup();
});

it('a batch written after the lease went to another replica is refused: no job, no commit, the reading stops', async () => {
  const first = sim.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.1']" });
  const log = memoryLog();
  // A long TTL: renewals every 20 s, so within this test only the fence can notice the loss.
  const { service, queues } = inProcessIngest(r, sim, { leaseTtlMs: 60_000 }, { log });
  stops.push(() => service.stop());
  stops.push(() => queues.close());
  service.start();
  await waitFor(async () => (await jobIds(queues)).some((id) => id.endsWith(first.internalId)), {
    what: 'the first job',
  });
  await waitFor(() => service.checkpoint !== undefined && service.checkpoint.start_from !== '0-0', {
    what: 'a checkpoint',
  });

  // Another replica takes the lease (this one paused past its TTL, say); this one has not renewed since.
  await queues.redis.set(queues.keys.lease, 'another-replica', 'PX', 60_000);
  const checkpoint = await queues.redis.get(queues.keys.checkpoint);
  const second = sim.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.2']" });

  await waitFor(() => !service.isLeader(), { what: 'the reader to give up the lease', timeoutMs: 10_000 });
  expect(log.lines.some((l) => l.msg.startsWith('batch refused: the reader lease is not ours'))).toBe(true);
  expect((await jobIds(queues)).some((id) => id.endsWith(second.internalId))).toBe(false);
  expect(await queues.redis.get(queues.keys.checkpoint)).toBe(checkpoint);
  expect(await queues.redis.get(queues.keys.lease)).toBe('another-replica');
});
