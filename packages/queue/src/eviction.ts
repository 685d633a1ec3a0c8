import { Cluster, type Redis } from 'ioredis';
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
 * The servers whose policy matters: the one server of a standalone or Sentinel-backed connection (commands go to
 * the Sentinel's current master), every master of a cluster (each holds some connectors' keys).
 */
async function masters(redis: RedisClient): Promise<{ node: Redis; name?: string }[]> {
  if (!(redis instanceof Cluster)) return [{ node: redis }];
  // The slot map is known once the cluster is ready; a command waits for that.
  await redis.ping();
  return redis
    .nodes('master')
    .map((node) => ({ node, name: `${node.options.host ?? '?'}:${node.options.port ?? '?'}` }));
}

/**
 * Refuses to run on a Redis that may evict keys: an evicted dirty set, fence or applied state would silently
 * lose creates or revokes. Checks every cluster master. Throws one plain sentence an operator can act on.
 */
export async function assertNoEviction(redis: RedisClient): Promise<void> {
  for (const { node, name } of await masters(redis)) {
    const where = name ? `Redis cluster master ${name}` : 'Redis';
    const policy = await readMaxmemoryPolicy(node);
    if (policy === 'noeviction') continue;
    if (policy === undefined) {
      throw new Error(
        `Cannot read ${where} maxmemory-policy (neither CONFIG GET nor INFO memory report it): ` +
          'this service needs maxmemory-policy noeviction and will not start without proof of it.',
      );
    }
    throw new Error(
      `${where} maxmemory-policy is "${policy}": this service needs "noeviction" (an evicted key loses writes to Sekoia). ` +
        `Set maxmemory-policy noeviction in redis.conf or with CONFIG SET${name ? ' on every master' : ''}, then restart.`,
    );
  }
}
