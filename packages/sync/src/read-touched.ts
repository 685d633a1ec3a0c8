// Collection reads while the queue flows (issue 18 item 4): a page is fetched, then recorded, and a write of a
// job can land in between. record-observed.lua already refuses what it can see (a write in flight, ids that
// differ), but a completed edit of the same id looks like "Sekoia holds other attributes" and the page's older
// fingerprint would win. So, while a read runs, every applied-record change is noted (record-applied.lua adds the
// value to the touched set, which exists only during a read), and once every page is recorded the touched values
// the read observed are marked unsure: searched exactly before anything is decided for them.
import { readFileSync } from 'node:fs';
import { type ConnectorKeys, LuaScript, type RedisClient } from '@octi-sekoia/queue';

const recheckTouchedLua = new LuaScript(
  'recheck-touched',
  readFileSync(new URL('./lua/recheck-touched.lua', import.meta.url), 'utf8'),
);

/** The member the set is created with (never a value: values are never empty). */
const START = '';

/** Creates the touched set before the first page is fetched (a set left by a reader that died is restarted). */
export async function startTouched(redis: RedisClient, keys: ConnectorKeys, ttlMs: number): Promise<void> {
  const k = keys.sync.readTouched;
  await redis.multi().del(k).sadd(k, START).pexpire(k, ttlMs).exec();
}

/** Keeps the set alive with the reader's lock (a reader that dies leaves it to expire: writes stop adding). */
export async function renewTouched(redis: RedisClient, keys: ConnectorKeys, ttlMs: number): Promise<void> {
  await redis.pexpire(keys.sync.readTouched, ttlMs);
}

/**
 * After every page of G's read is recorded: marks unsure and dirties the touched values G's read observed, and
 * deletes the set. Returns how many values were marked.
 */
export async function recheckTouched(
  redis: RedisClient,
  keys: ConnectorKeys,
  generation: number,
  now: () => number,
  chunk = 500,
): Promise<number> {
  const s = keys.sync;
  let marked = 0;
  for (;;) {
    const [n, gone] = (await recheckTouchedLua.run(
      redis,
      [s.readTouched, s.dirty, s.observedIds(generation)],
      [now(), START, chunk, s.value('')],
    )) as [number, number];
    marked += Number(n);
    if (Number(gone) === 1) return marked;
  }
}

/** Drops the set (a read that failed: its next attempt starts a new one; what it recorded stays unsure-safe). */
export async function dropTouched(redis: RedisClient, keys: ConnectorKeys): Promise<void> {
  await redis.del(keys.sync.readTouched);
}
