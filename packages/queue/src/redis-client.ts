import { Cluster, type Redis } from 'ioredis';

/**
 * A connection to the product's Redis, whatever its topology: a standalone server (or Sentinel-managed primary)
 * or a Redis Cluster (@octi-sekoia/ops connectRedis). Code takes this type, never `Redis` alone, so a Cluster
 * connection fits everywhere; the key layout keeps every multi-key command in one slot (keys.ts).
 */
export type RedisClient = Redis | Cluster;

/** A new connection like `redis` (for WATCH/MULTI, blocking commands): `duplicate()` of either kind. */
export function duplicateClient(redis: RedisClient): RedisClient {
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
}

/**
 * The servers a SCAN must walk: the one server, or on a Cluster the master serving `slotOf`'s slot (every key of
 * a connector is in one slot, keys.ts), or every master when `slotOf` is not given.
 */
async function scanTargets(redis: RedisClient, slotOf?: string): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  const masters = redis.nodes('master');
  if (slotOf === undefined) return masters;
  const slot = Number(await redis.cluster('KEYSLOT', slotOf));
  const owner = redis.slots[slot]?.[0];
  const node = masters.find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new Error(`no master serves slot ${slot} (cluster slots not loaded)`);
  return [node];
}

/**
 * Every key matching `pattern`, one SCAN batch at a time, on a standalone Redis or a Cluster (see scanTargets:
 * pass a key of the same hash tag as `slotOf` for a connector's keys).
 */
export async function* scanKeys(
  redis: RedisClient,
  pattern: string,
  opts: { slotOf?: string; count?: number } = {},
): AsyncGenerator<string[]> {
  for (const node of await scanTargets(redis, opts.slotOf)) {
    let cursor = '0';
    do {
      const [next, names] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', opts.count ?? 1000);
      cursor = next;
      if (names.length > 0) yield names;
    } while (cursor !== '0');
  }
}
