/**
 * Issue 17: no key family grows with the events. A deleted indicator's tombstone is dropped by the worker's prune
 * (TUNING_TOMBSTONE_PRUNE_INTERVAL_MS; packages/sync prune-tombstones.lua) once no event older than it can still
 * come: here once ingest's checkpoint (written as ingest would) is past it and the queue is drained. One whose
 * older job waits in a dead letter is kept, and that job, replayed, is refused by it: nothing comes back to life in
 * Sekoia.io.
 */
import type { IndicatorJob } from '@octi-sekoia/model';
import { addDeadLetter, replayDeadLetter } from '@octi-sekoia/queue';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Stack, upsert } from './harness.ts';

let stack: Stack;
beforeEach(async () => {
  stack = await Stack.start();
});
afterEach(async () => {
  await stack.close();
});

const removeJob = (indicatorId: string, eventId: string): IndicatorJob => ({
  ...upsert(indicatorId, eventId, []),
  op: 'remove',
});

it('the worker drops tombstones once the checkpoint is past them, and keeps the one an older dead-lettered job could still hit', async () => {
  const s = stack;
  const k = s.keys;
  const checkpoint = (startFrom: string) =>
    s.r.client.set(
      k.checkpoint,
      JSON.stringify({ start_from: startFrom, recover_until: null, generation: 1, sweep: null }),
    );
  // Generation 1, its recovery over (swept): values are written at once.
  await s.r.client.mset(k.generation, '1', k.sync.swept, '1');
  await checkpoint('0-0');
  await s.startService();

  const ids = Array.from({ length: 40 }, (_, i) => `ind-${i}`);
  // ind-0's create, dead-lettered (its first attempt failed for good, say): a replay could still bring it.
  const olderCreate = upsert('ind-0', '1000-0', ['v0.example'], { description: 'late' });
  await addDeadLetter(s.queues, { kind: 'job', payload: olderCreate, error: 'failed (test)' });
  await s.enqueue(ids.map((id, i) => upsert(id, `${2000 + i}-0`, [`v${i}.example`])));
  await s.waitIdle(60_000);
  await s.enqueue(ids.map((id, i) => removeJob(id, `${3000 + i}-0`)));
  await s.waitIdle(60_000);
  expect(await s.r.client.zcard(k.sync.tombstones)).toBe(40);

  // Ingest commits past the deletes: every tombstone goes, but ind-0's (its older create is in a dead letter).
  await checkpoint('4000-0');
  await waitFor(async () => (await s.r.client.zcard(k.sync.tombstones)) === 1, {
    timeoutMs: 30_000,
    what: 'the worker to prune the tombstones',
  });
  const left = await s.r.client.keys(`${k.sync.indicatorPrefix}*`);
  expect(left).toEqual([k.sync.indicator('ind-0')]);

  // The operator replays the dead letter: the tombstone refuses it, nothing is created again.
  const [letter] = await s.queues.deadLetters.getJobs(['waiting', 'failed']);
  await replayDeadLetter(s.queues, letter!.id!, { markValueDirty: async () => undefined });
  await waitFor(async () => (await s.r.client.hget(k.sync.stats, 'stale')) === '1', {
    timeoutMs: 30_000,
    what: 'the replayed job to be refused',
  });
  await s.waitIdle(60_000);
  expect(s.sim.control.indicators().filter((i) => !i.revoked)).toEqual([]);

  // Nothing older can come now: the last one goes too.
  await waitFor(async () => (await s.r.client.zcard(k.sync.tombstones)) === 0, {
    timeoutMs: 30_000,
    what: 'the last tombstone to be pruned',
  });
  expect(await s.r.client.keys(`${k.sync.indicatorPrefix}*`)).toEqual([]);
});
