import type { RedisClient } from './redis-client.ts';

/** Reads `maxmemory-policy`: CONFIG GET first, INFO memory when CONFIG is disabled or renamed (managed Redis). */
export async function readMaxmemoryPolicy(redis: RedisClient): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (Array.isArray(reply) && reply.length >= 2 && typeof reply[1] === 'string') return reply[1];
  } catch {
    // CONFIG is refused or renamed: fall through to INFO.
  }
  const info = await redis.info('memory');
  const m = /^maxmemory_policy:(\S+)/m.exec(info);
  return m?.[1];
}

/**
 * Refuses to run on a Redis that may evict keys: an evicted dirty set, fence or applied state would silently
 * lose creates or revokes. Throws one plain sentence an operator can act on.
 */
export async function assertNoEviction(redis: RedisClient): Promise<void> {
  const policy = await readMaxmemoryPolicy(redis);
  if (policy === 'noeviction') return;
  if (policy === undefined) {
    throw new Error(
      'Cannot read Redis maxmemory-policy (neither CONFIG GET nor INFO memory report it): ' +
        'this service needs maxmemory-policy noeviction and will not start without proof of it.',
    );
  }
  throw new Error(
    `Redis maxmemory-policy is "${policy}": this service needs "noeviction" (an evicted key loses writes to Sekoia). ` +
      'Set maxmemory-policy noeviction in redis.conf or with CONFIG SET, then restart.',
  );
}
