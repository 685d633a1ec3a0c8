import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../src/index.ts';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The commands of one tick leave in one socket write; replies, order and errors are ioredis's own.
describe('coalesceWrites', () => {
  const prefix = `test-coalesce-${process.pid}-${Date.now()}`;
  const redis = new Redis(url, { lazyConnect: true });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('sends the commands of one tick in one write, with every reply in order', async () => {
    await redis.connect();
    coalesceWrites(redis);
    coalesceWrites(redis); // a second call changes nothing
    const socket = (redis as unknown as { stream: { _writev: unknown; _write: unknown } }).stream;
    let writes = 0;
    for (const method of ['_write', '_writev'] as const) {
      const original = socket[method] as (...a: unknown[]) => unknown;
      socket[method] = function (this: unknown, ...a: unknown[]) {
        writes += 1;
        return original.apply(this, a);
      };
    }
    const replies = await Promise.all([
      redis.set(`${prefix}:a`, '1'),
      redis.incr(`${prefix}:a`),
      redis.hset(`${prefix}:h`, 'f', 'v'),
      redis.get(`${prefix}:a`),
      redis.lpush(`${prefix}:h`, 'x').catch((err: Error) => err.message),
      redis.hget(`${prefix}:h`, 'f'),
    ]);
    expect(replies).toEqual(['OK', 2, 1, '2', expect.stringMatching(/^WRONGTYPE/), 'v']);
    expect(writes).toBe(1);

    // Commands sent from the replies' continuations (as a worker's jobs do) leave together too.
    writes = 0;
    const chained = await Promise.all(
      [1, 2, 3].map((i) =>
        redis.incr(`${prefix}:c`).then(() => redis.get(`${prefix}:c`).then((v) => [i, v])),
      ),
    );
    expect(chained.map(([i]) => i)).toEqual([1, 2, 3]);
    expect(writes).toBeLessThanOrEqual(3);
    expect(await redis.get(`${prefix}:c`)).toBe('3');
  });
});
