import { keyPrefixPatterns, type RedisClient } from '@octi-sekoia/queue';
import { Cluster, type Redis } from 'ioredis';

/**
 * The servers holding keys: the one server, or every master of a cluster. Commands below go to each node's own
 * connection, one key per command (pipelined), so keys of several slots never meet in one command.
 */
function nodesOf(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Deletes every key under the key prefix (SCAN + UNLINK, bounded by the key count). */
export async function cleanupPrefix(redis: RedisClient, prefix: string): Promise<number> {
  let n = 0;
  for (const node of nodesOf(redis)) {
    for (const pattern of keyPrefixPatterns(prefix)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length === 0) continue;
        const p = node.pipeline();
        for (const k of keys) p.unlink(k);
        for (const [, removed] of (await p.exec()) ?? []) n += Number(removed ?? 0);
      } while (cursor !== '0');
    }
  }
  return n;
}

/** One INFO section as a map. */
export async function info(redis: RedisClient, section: string): Promise<Record<string, string>> {
  const text = await redis.info(section);
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Which part of the layout a key belongs to (packages/queue/src/keys.ts, BullMQ's own keys). */
function category(key: string, base: string): string {
  if (!key.startsWith(`${base}:`)) return key.includes(':budget:') ? 'budget' : 'other';
  const rest = key.slice(base.length + 1);
  if (rest.startsWith('sync:ind:')) return 'sync indicator records (ind:)';
  // Layout 1 (before issue 17): one index set per value; layout 2 merged it into the value hash.
  if (rest.startsWith('sync:idx:')) return 'sync value index sets (idx:, layout 1)';
  if (rest.startsWith('sync:val:')) return 'sync value hashes (val:)';
  if (rest.startsWith('sync:lock:')) return 'sync locks';
  if (rest.startsWith('sync:seen:')) return 'sync seen sets';
  if (rest.startsWith('sync:')) return `sync ${rest.slice(5).split(':')[0]}`;
  if (rest.startsWith('indicators:')) {
    const tail = rest.slice('indicators:'.length);
    // BullMQ: a job is a hash `<queue>:<id>` (+ `:logs`, `:lock`…); the lists/zsets have fixed names.
    const fixed = [
      'wait',
      'active',
      'paused',
      'delayed',
      'prioritized',
      'completed',
      'failed',
      'events',
      'meta',
      'id',
      'stalled',
      'stalled-check',
      'marker',
      'pc',
      'de',
      'limiter',
      'repeat',
    ];
    const head = tail.split(':')[0]!;
    if (fixed.includes(head)) return `queue ${head}`;
    return 'queue job hashes';
  }
  if (rest.startsWith('dead-letters')) return 'dead letters';
  return rest.split(':')[0]!;
}

/**
 * Exact memory of every key under the prefix (MEMORY USAGE … SAMPLES 0), by category. Independent of what
 * other users of the same Redis do meanwhile (unlike INFO used_memory).
 */
export async function memoryByCategory(
  redis: RedisClient,
  prefix: string,
  base: string,
): Promise<{
  totalBytes: number;
  keys: number;
  byCategory: Record<string, { keys: number; bytes: number }>;
}> {
  const byCategory: Record<string, { keys: number; bytes: number }> = {};
  let totalBytes = 0;
  let keys = 0;
  for (const node of nodesOf(redis))
    for (const pattern of keyPrefixPatterns(prefix)) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (batch.length === 0) continue;
        const m = node.pipeline();
        for (const k of batch) m.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
        const res = (await m.exec()) ?? [];
        batch.forEach((k, i) => {
          const bytes = Number(res[i]?.[1] ?? 0);
          const c = category(k, base);
          byCategory[c] ??= { keys: 0, bytes: 0 };
          byCategory[c].keys += 1;
          byCategory[c].bytes += bytes;
          totalBytes += bytes;
          keys += 1;
        });
      } while (cursor !== '0');
    }
  return { totalBytes, keys, byCategory };
}
