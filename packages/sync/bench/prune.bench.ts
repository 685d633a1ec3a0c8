// The Redis time of the tombstone prune (issue 18 prune18): `pending` waiting jobs in the indicators queue (of other
// indicators than the tombstones', so every tombstone is prunable), `tombstones` tombstones below the bound, then
// `runs` rounds in which `workers` SyncStates call pruneTombstones() at the same moment (as every worker's timer
// does). The Redis time is the `usec` of EVALSHA/EVAL in INFO commandstats (each run's own bound is the sum of its
// steps' round trips, measured by the client), so run it on a Redis of its own:
//   REDIS_URL=redis://127.0.0.1:6420 node --import tsx packages/sync/bench/prune.bench.ts [pending] [tombstones] [workers] [runs]
// [minAgeMs]: the tombstones' least age (e.g. 3600000: every one kept, each run walks the whole index).
// Prints one line per round (Redis ms, tombstones left, outcome of each worker) and the load average.
import { loadavg } from 'node:os';
import { QUEUE_INDICATORS } from '@octi-sekoia/queue';
import { Redis } from 'ioredis';
import { SyncState as Current } from '../src/index.ts';

// OLD_SRC=<dir>: the SyncState of another copy of packages/sync/src (the code before a change), relative to this
// file, e.g. `./old-src` after `git archive <commit> packages/sync/src | tar -x -C /tmp/o && cp -r
// /tmp/o/packages/sync/src packages/sync/bench/old-src` (untracked: remove it after).
const SyncState: typeof Current = process.env.OLD_SRC
  ? (
      (await import(new URL(`${process.env.OLD_SRC}/index.ts`, import.meta.url).href)) as {
        SyncState: typeof Current;
      }
    ).SyncState
  : Current;

const [pending = 10_000, tombstones = 100_000, workers = 1, runs = 3, minAgeMs = 0] = process.argv
  .slice(2)
  .map((a) => Number(a));
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6420', { maxRetriesPerRequest: null });
const prefix = `prune-bench-${process.pid}`;
const state = (i: number) =>
  new SyncState(i === 0 ? redis : redis.duplicate(), {
    keyPrefix: prefix,
    connectorId: 'c1',
    tombstoneMinAgeMs: minAgeMs,
  });
const states = Array.from({ length: workers }, (_, i) => state(i));
const k = states[0]!.keys;

async function scriptUsec(): Promise<number> {
  const text = await redis.info('commandstats');
  let usec = 0;
  for (const m of text.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g)) usec += Number(m[1]);
  return usec;
}

/** An OpenCTI internal id (a UUID) of its own per n: the indicator ids jobs and tombstones carry. */
const uuid = (n: number) => `5f0c4e1a-9b2d-4c7e-8a3f-${String(n).padStart(12, '0')}`;

async function fill() {
  await redis.set(k.generation, '1');
  await redis.set(
    k.checkpoint,
    JSON.stringify({ start_from: '1800000000000-0', recover_until: null, generation: 1, sweep: null }),
  );
  // Waiting jobs, as BullMQ keeps their ids (the script reads the ids; the job hashes only for other id forms).
  for (let i = 0; i < pending; i += 1000) {
    const ids: string[] = [];
    for (let j = i; j < Math.min(pending, i + 1000); j++)
      ids.push(`g1-${1_765_000_000_000 + j}-0-${uuid(j + 1_000_000)}`); // model jobId
    await redis.lpush(k.queueKey(QUEUE_INDICATORS, 'wait'), ...ids);
  }
  // Tombstones as record-desired.lua writes them: the record (live 0) with its TTL, and its index entry.
  for (let i = 0; i < tombstones; i += 1000) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(tombstones, i + 1000); j++) {
      const id = uuid(j);
      const ms = 1_760_000_000_000 + j;
      p.set(k.sync.indicator(id), JSON.stringify([1, `${ms}-0`, 0, [], '', '']), 'PX', 7 * 86_400_000);
      p.zadd(k.sync.tombstones, ms, id);
    }
    await p.exec();
  }
}

async function main() {
  await fill();
  console.log(
    `pending ${pending}, tombstones ${await redis.zcard(k.sync.tombstones)}, least age ${minAgeMs} ms, workers ${workers}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (let run = 1; run <= runs; run++) {
    const before = await scriptUsec();
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const stepLog: string[] = [];
    const outs = await Promise.all(
      states.map((s) =>
        s.pruneTombstones({
          onStep: (st) => {
            stepLog.push(`${(st.redisUs / 1000) | 0}ms/${st.looked}`);
          },
        }),
      ),
    );
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const redisMs = ((await scriptUsec()) - before) / 1000;
    const left = await redis.zcard(k.sync.tombstones);
    console.log(
      `run ${run}: Redis ${redisMs.toFixed(0)} ms, wall ${wallMs.toFixed(0)} ms, bench CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, left ${left}, load ${loadavg()[0]!.toFixed(2)}, steps (round trip ms/entries) ${stepLog.join(' ')}: ${outs.map((o) => JSON.stringify(o)).join(' ')}`,
    );
    if (left === 0) break;
  }
  // Clean up.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  for (const s of states) if (s.redis !== redis) s.redis.disconnect();
  redis.disconnect();
}
await main();
