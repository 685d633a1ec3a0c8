import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { connectorsKey, keys, legacyLayout } from './keys.ts';
import { LuaScript } from './lua-script.ts';
import type { RedisClient } from './redis-client.ts';

const migrateLua = new LuaScript(
  'migrate-key-layout',
  readFileSync(new URL('./lua/migrate-key-layout.lua', import.meta.url), 'utf8'),
);

/**
 * An upgrade from a version before hash tags: moves the connector's keys (state, queues, dead letters) to the
 * tagged layout in one atomic script, so the state carries over instead of a full re-sync. A no-op on a fresh
 * Redis, once done, and on a Cluster (the old layout never ran there). Ingest, the worker and the CLI's writing
 * commands run it at start; it must run before anything reads the state, which holds since every app calls it
 * before its first use of the connector's keys. Returns how many keys moved and how many were left because the
 * new layout already had them.
 */
export async function migrateKeyLayout(
  redis: RedisClient,
  keyPrefix: string,
  connectorId: string,
): Promise<{ moved: number; kept: number }> {
  if (redis instanceof Cluster) return { moved: 0, kept: 0 };
  const legacy = legacyLayout(keyPrefix, connectorId);
  if ((await redis.exists(...legacy.markers)) === 0) return { moved: 0, kept: 0 };
  const [moved, kept] = (await migrateLua.run(
    redis,
    [],
    [legacy.base, keys(keyPrefix, connectorId).base, legacy.connectors, connectorsKey(keyPrefix)],
  )) as [number, number];
  return { moved: Number(moved), kept: Number(kept) };
}
