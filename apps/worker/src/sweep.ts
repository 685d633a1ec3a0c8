import { readFileSync } from 'node:fs';
import { LuaScript } from '@octi-sekoia/queue';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

const findSweepBlockerLua = new LuaScript(
  'find-sweep-blocker',
  readFileSync(new URL('./lua/find-sweep-blocker.lua', import.meta.url), 'utf8'),
);

export interface SweepMarkerRef {
  /** The marker's BullMQ job id (itself is never a blocker). */
  id: string;
  /** When the marker was enqueued (BullMQ `job.timestamp`, ms). */
  timestamp: number;
  generation: number;
}

/**
 * The first job that must be applied before the sweep of the marker's generation G may run: a job of generation
 * ≤ G, enqueued no later than the marker (same millisecond included), still active, waiting or delayed. Undefined
 * when there is none. One atomic Lua pass over the queue's lists (it stops at the first blocker, and the oldest
 * jobs are looked at first): cheap while the recovery is still being applied, one pass when it is done.
 */
export async function findSweepBlocker(
  client: Redis,
  queue: Queue,
  marker: SweepMarkerRef,
): Promise<string | undefined> {
  const k = queue.keys;
  const keys = [k.active, k.wait, k.paused, k.prioritized, k.delayed].map(
    (key) => key ?? `${queue.qualifiedName}:none`,
  );
  const r = (await findSweepBlockerLua.run(client, keys, [
    `${queue.qualifiedName}:`,
    marker.id,
    marker.timestamp,
    marker.generation,
  ])) as [string, string] | null;
  return r ? `${r[0]} (${r[1]})` : undefined;
}
