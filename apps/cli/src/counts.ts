import { type ConnectorQueues, type DeadLetterKind, scanKeys } from '@octi-sekoia/queue';
import type { Connection } from './context.ts';

export const DEAD_LETTER_KINDS: readonly DeadLetterKind[] = ['event', 'job', 'value'];

/** Every state a dead letter can be in (waiting until the parker fails it, then failed). */
export const DEAD_LETTER_STATES = ['waiting', 'failed', 'delayed', 'prioritized', 'active'] as const;

/** Ids of every dead letter (all states, de-duplicated), newest first within a state. */
export async function deadLetterIds(q: ConnectorQueues): Promise<string[]> {
  const ids = await q.deadLetters.getRanges([...DEAD_LETTER_STATES], 0, -1, false);
  return [...new Set(ids)];
}

/** The kind is the id's prefix (`deadLetterId` = `<kind>-<hash>`): counting needs no job data. */
export function kindOfId(id: string): DeadLetterKind | undefined {
  const kind = id.slice(0, id.indexOf('-'));
  return (DEAD_LETTER_KINDS as readonly string[]).includes(kind) ? (kind as DeadLetterKind) : undefined;
}

export interface DeadLetterCounts {
  total: number;
  event: number;
  job: number;
  value: number;
}

export function countByKind(ids: readonly string[]): DeadLetterCounts {
  const counts: DeadLetterCounts = { total: ids.length, event: 0, job: 0, value: 0 };
  for (const id of ids) {
    const kind = kindOfId(id);
    if (kind) counts[kind] += 1;
  }
  return counts;
}

export interface ValueCounts {
  /** Values with at least one live IOC id in the collection. */
  live: number;
  /** Values Sekoia rejected and that hold no live id. */
  rejected: number;
  /** No live id, not rejected, still in the dirty set: a create (or re-create) is pending. */
  pending: number;
  /** No live id, not rejected, not dirty: revoked (records are kept a while after the revoke). */
  revoked: number;
  total: number;
}

/**
 * Counts the value records (`<base>:sync:val:<value>` hashes) by what they say about the collection. The
 * sync state keeps no such counters, so this is a SCAN of the connector's value keys plus one HKEYS and one
 * ZSCORE per value, pipelined per batch.
 */
export async function countValues(c: Connection, batch = 1000): Promise<ValueCounts> {
  const s = c.keys.sync;
  const counts: ValueCounts = { live: 0, rejected: 0, pending: 0, revoked: 0, total: 0 };
  for await (const names of scanKeys(c.redis, `${s.valuePrefix}*`, { slotOf: s.dirty, count: batch })) {
    const p = c.redis.pipeline();
    for (const name of names) {
      p.hkeys(name);
      p.zscore(s.dirty, name.slice(s.valuePrefix.length));
    }
    const replies = (await p.exec()) ?? [];
    for (let i = 0; i < names.length; i++) {
      const [fieldsErr, fields] = replies[2 * i] ?? [null, []];
      const [, score] = replies[2 * i + 1] ?? [null, null];
      if (fieldsErr) throw fieldsErr;
      const f = (fields as string[]) ?? [];
      // Expired between SCAN and HKEYS, or only the index of a value whose applied state was dropped (adoption).
      if (!f.some((x) => !x.startsWith('i:'))) continue;
      counts.total += 1;
      if (f.some((x) => x.startsWith('id:'))) counts.live += 1;
      else if (f.includes('rej')) counts.rejected += 1;
      else if (score !== null) counts.pending += 1;
      else counts.revoked += 1;
    }
  }
  return counts;
}
