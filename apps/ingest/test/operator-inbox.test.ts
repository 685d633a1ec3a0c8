/**
 * OperatorInbox against the real Redis: events sent back by an operator (`<base>:replayed-events`) are written, then
 * removed from the list — only the entry that was written, even when another reader removed it meanwhile.
 */
import { type ConnectorQueues, createQueues } from '@octi-sekoia/queue';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Pending } from '../src/batch-writer.ts';
import { OperatorInbox } from '../src/operator-inbox.ts';

let r: TestRedis;
let queues: ConnectorQueues;

beforeEach(async () => {
  r = await testRedis('ingest-operator-inbox');
  queues = createQueues(r.connect(), r.prefix, '5d6c7b8a-9f0e-4d1c-8b2a-3948576a6b7c');
});
afterEach(async () => {
  await queues.close();
  await r.cleanup();
});

const event = (n: number) => JSON.stringify({ id: `1700000000000-${n}`, event: 'create', data: '{}' });

function inbox(onWrite: (id: string) => Promise<void>) {
  const written: string[] = [];
  const box = new OperatorInbox({
    redis: queues.redis,
    keys: queues.keys,
    generation: () => 1,
    requestResync: () => undefined,
    log: { info: () => undefined },
    writer: {
      // Each event stands for itself: what write() receives names the event it came from.
      normalize: (msg) => ({
        result: { outcome: 'skipped', reason: 'heartbeat' } as never,
        pending: [{ deadEvent: msg, reason: 'test' }],
      }),
      write: async (batch: Pending[]) => {
        const id = (batch[0] as { deadEvent: { id: string } }).deadEvent.id;
        written.push(id);
        await onWrite(id);
        return batch.length;
      },
    },
  });
  return { box, written };
}

it('writes every event sent back, oldest first, and empties the list', async () => {
  await queues.redis.rpush(queues.keys.replayedEvents, event(1), event(2), event(3));
  const { box, written } = inbox(async () => undefined);
  await box.check();
  expect(written).toEqual(['1700000000000-1', '1700000000000-2', '1700000000000-3']);
  expect(await queues.redis.llen(queues.keys.replayedEvents)).toBe(0);
});

it('a reader whose entry was taken meanwhile (it lost the lease) does not remove the next event', async () => {
  await queues.redis.rpush(queues.keys.replayedEvents, event(1), event(2));
  // While this reader writes event 1, the new reader reads, writes and removes that same entry.
  const { box, written } = inbox(async (id) => {
    if (id === '1700000000000-1') await queues.redis.lpop(queues.keys.replayedEvents);
  });
  await box.check();
  // Event 2 is not lost: this reader finds it next and writes it (a pop would have removed it unwritten).
  expect(written).toEqual(['1700000000000-1', '1700000000000-2']);
  expect(await queues.redis.llen(queues.keys.replayedEvents)).toBe(0);
});
