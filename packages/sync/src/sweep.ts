import { LuaScript, luaSource } from '@octi-sekoia/queue';
import type { SyncState } from './state.ts';
import { stixElement } from './value-state.ts';

const sweepUnseenLua = new LuaScript(
  'sweep-unseen',
  luaSource(new URL('./lua/sweep-unseen.lua', import.meta.url)),
);

export interface SweepResult {
  /** Live indicators not seen in the generation, removed. */
  removed: number;
  /** Values put into the dirty set. */
  dirtied: number;
  /** Already swept, or superseded by a newer generation. */
  skipped: boolean;
  /** Internal ids of indicators not seen in the generation but kept because they were exempt. */
  kept: string[];
}

/**
 * Mark and sweep of generation G: removes every live indicator not seen in G — its fence generation is below
 * G — as a remove at fence (G, 0-0), so any event of G still wins, and dirties its values. Call it only once
 * every job of G up to the sweep marker is applied. Idempotent: a generation already swept is skipped.
 * `exempt`: internal or STIX ids of indicators whose event of G could not be applied (a dead-lettered job or
 * event): they are kept, and returned in `kept` when they would have been removed.
 */
export async function sweepUnseen(
  state: SyncState,
  generation: number,
  opts: { exempt?: readonly string[]; chunk?: number; scanCount?: number } = {},
): Promise<SweepResult> {
  const chunk = opts.chunk ?? 500;
  // SCAN walks the whole database (every connector's keys, the queues'), so its round trips follow the database,
  // not this connector's records: 5,000 keys a call, the records found still handed to the script ≤ `chunk` at a
  // time. 17,000 records among 120,000 keys (2 loaded cores): 1.5–3.6 s with SCAN COUNT 500, 0.8 s with 5,000 —
  // time during which every value held for the sweep waits, and with it the request budget (issue 18 point 1).
  const scanCount = Math.max(chunk, opts.scanCount ?? 5000);
  const s = state.keys.sync;
  const swept = Number((await state.redis.get(s.swept)) ?? -1);
  if (swept >= generation) return { removed: 0, dirtied: 0, skipped: true, kept: [] };
  // A newer generation has started: its jobs refuse G's, so sweeping G now would remove live indicators.
  const current = Number((await state.redis.get(state.keys.generation)) ?? 0);
  if (current > generation) return { removed: 0, dirtied: 0, skipped: true, kept: [] };
  // The exempt ids, for this sweep only (a set: the script looks each listed indicator up).
  await state.redis.del(s.sweepExempt);
  // A STIX id also as the indicator records hold it (value-state.ts stixElement), which the script compares.
  const exempt = [...new Set((opts.exempt ?? []).flatMap((id) => [id, stixElement(id)]))];
  for (let i = 0; i < exempt.length; i += 1000)
    await state.redis.sadd(s.sweepExempt, ...exempt.slice(i, i + 1000));
  let removed = 0;
  let dirtied = 0;
  const kept = new Set<string>();
  // Every indicator record (no set of live ids is kept: it cost ~70 B per value, packages/sync/README.md
  // "Memory"); keys a SCAN returns twice are skipped by the script, tombstones of older generations deleted.
  await state.scanKeys(`${s.indicatorPrefix}*`, scanCount, async (names) => {
    const all = names.map((k) => k.slice(s.indicatorPrefix.length));
    for (let i = 0; i < all.length; i += chunk) {
      const ids = all.slice(i, i + chunk);
      const [r, d, k] = (await sweepUnseenLua.run(
        state.redis,
        [
          s.dirty,
          s.liveCount,
          s.versionSeq,
          s.stats,
          s.sweepExempt,
          s.fieldSets,
          state.keys.generation,
          s.tombstones,
        ],
        [String(generation), state.tombstoneTtlMs, state.now(), s.indicatorPrefix, s.valuePrefix, ...ids],
      )) as [number, number, string[]];
      removed += r;
      dirtied += d;
      for (const id of k) kept.add(id);
    }
  });
  await state.redis.set(s.swept, String(generation));
  await state.redis.del(s.sweepExempt);
  return { removed, dirtied, skipped: false, kept: [...kept].sort() };
}
