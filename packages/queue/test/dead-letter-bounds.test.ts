import { createHash } from 'node:crypto';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_EXCERPT_BYTES } from '../src/dead-letters.ts';
import {
  addDeadLetter,
  type ConnectorQueues,
  createQueues,
  type DeadEventPayload,
  getDeadLetter,
  removeDeadLetter,
} from '../src/index.ts';

describe('dead letters are bounded', () => {
  let r: TestRedis;
  let q: ConnectorQueues;
  beforeEach(async () => {
    r = await testRedis('dlq-bounds');
    q = createQueues(r.connect(), r.prefix, 'conn-1');
  });
  afterEach(async () => {
    await q.close();
    await r.cleanup();
  });

  it('a 10 MB event keeps a bounded excerpt plus its size and SHA-256: a few KB in Redis, not 10 MB', async () => {
    const data = `{"data":{"type":"indicator","description":"${'é'.repeat(5 * 1024 * 1024)}"}}`;
    const bytes = Buffer.byteLength(data);
    expect(bytes).toBeGreaterThan(10 * 1024 * 1024);
    const id = await addDeadLetter(q, {
      kind: 'event',
      payload: { id: '1700000000000-0', event: 'create', data },
      error: 'too big',
    });
    const letter = await getDeadLetter(q, id);
    const payload = letter?.payload as DeadEventPayload;
    expect(payload.truncated).toEqual({ bytes, sha256: createHash('sha256').update(data).digest('hex') });
    expect(Buffer.byteLength(payload.data)).toBeLessThanOrEqual(EVENT_EXCERPT_BYTES + 3);
    expect(data.startsWith(payload.data.slice(0, 1000))).toBe(true);
    const stored = await r.client.hget(`${q.keys.bullPrefix}:${q.keys.queues.deadLetters}:${id}`, 'data');
    expect(Buffer.byteLength(stored ?? '')).toBeLessThan(2 * EVENT_EXCERPT_BYTES);
  });

  it('a small event is kept whole', async () => {
    const id = await addDeadLetter(q, {
      kind: 'event',
      payload: { id: '1700000000000-1', event: 'create', data: '{"bad json' },
      error: 'not JSON',
    });
    expect((await getDeadLetter(q, id))?.payload).toEqual({
      id: '1700000000000-1',
      event: 'create',
      data: '{"bad json',
    });
  });

  it('at the cap on their total bytes: counted and reported, not stored; room again once one is removed', async () => {
    const refused: Array<{ kind: string; subject: string }> = [];
    const opts = {
      maxTotalBytes: 6000,
      onRefused: (x: { kind: string; subject: string }) => refused.push(x),
    };
    const event = (id: string) => ({
      kind: 'event' as const,
      payload: { id, event: 'create', data: 'x'.repeat(3000) },
      error: 'bad',
    });
    const first = await addDeadLetter(q, event('1700000000000-1'), opts);
    expect(first).toBeDefined();
    // A new sighting of a letter already kept is accepted at the cap (it does not grow).
    expect(await addDeadLetter(q, event('1700000000000-1'), opts)).toBe(first);
    expect(await addDeadLetter(q, event('1700000000000-2'), opts)).toBeUndefined();
    expect(refused).toEqual([expect.objectContaining({ kind: 'event', subject: '1700000000000-2' })]);
    expect(await r.client.hget(q.keys.deadLetterMeta, 'refused:event')).toBe('1');

    await removeDeadLetter(q, first!);
    expect(await addDeadLetter(q, event('1700000000000-2'), opts)).toBeDefined();
    expect(refused).toHaveLength(1);
  });
});
