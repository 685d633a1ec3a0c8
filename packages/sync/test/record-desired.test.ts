import { type IndicatorJob, InvalidJobError } from '@octi-sekoia/model';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncState } from '../src/index.ts';
import type { RecordDesiredOutcome } from '../src/state.ts';
import { remove, upsert } from './helpers.ts';

describe('recordDesired', () => {
  let r: TestRedis;
  let state: SyncState;
  beforeEach(async () => {
    r = await testRedis('rd');
    state = new SyncState(r.client, { keyPrefix: r.prefix, connectorId: 'c1' });
  });
  afterEach(async () => {
    await r.cleanup();
  });

  // Each row: a first event applied, then a second; is the second applied?
  const fencing: [string, IndicatorJob, IndicatorJob, RecordDesiredOutcome][] = [
    ['newer event (ms)', upsert('i', '100-0', ['a']), upsert('i', '101-0', ['b']), 'applied'],
    ['newer event (seq)', upsert('i', '100-0', ['a']), upsert('i', '100-1', ['b']), 'applied'],
    ['duplicate event', upsert('i', '100-0', ['a']), upsert('i', '100-0', ['a']), 'duplicate'],
    ['older event', upsert('i', '101-0', ['a']), upsert('i', '100-5', ['b']), 'stale'],
    ['numeric, not string order: 9-0 < 10-0', upsert('i', '10-0', ['a']), upsert('i', '9-0', ['b']), 'stale'],
    ['numeric seq: 1-9 < 1-10', upsert('i', '1-9', ['a']), upsert('i', '1-10', ['b']), 'applied'],
    [
      'leading zeros compare as numbers',
      upsert('i', '0100-0', ['a']),
      upsert('i', '100-0', ['b']),
      'duplicate',
    ],
    [
      'beyond double precision: seq 2^53+1 > 2^53',
      upsert('i', '1-9007199254740992', ['a']),
      upsert('i', '1-9007199254740993', ['b']),
      'applied',
    ],
    [
      '13-digit ms, ids differing in the last digit',
      upsert('i', '1732761600124-0', ['a']),
      upsert('i', '1732761600123-9', ['b']),
      'stale',
    ],
    ['remove after upsert', upsert('i', '100-0', ['a']), remove('i', '101-0'), 'applied'],
    [
      'older upsert after remove (tombstone fence)',
      remove('i', '101-0'),
      upsert('i', '100-0', ['a']),
      'stale',
    ],
    ['newer upsert after remove (re-created)', remove('i', '101-0'), upsert('i', '102-0', ['a']), 'applied'],
    [
      'newer generation wins over a larger event id',
      upsert('i', '900-0', ['a'], { generation: 1 }),
      upsert('i', '5-0', ['b'], { generation: 2 }),
      'applied',
    ],
    [
      'older generation loses to a smaller event id',
      upsert('i', '5-0', ['a'], { generation: 2 }),
      upsert('i', '900-0', ['b'], { generation: 1 }),
      'stale',
    ],
    [
      'generation 10 > 9 numerically',
      upsert('i', '5-0', ['a'], { generation: 10 }),
      upsert('i', '5-0', ['b'], { generation: 9 }),
      'stale',
    ],
  ];
  it.each(fencing)('%s', async (_name, first, second, expected) => {
    expect((await state.recordDesired(first)).outcome).toBe('applied');
    const res = await state.recordDesired(second);
    expect(res.outcome).toBe(expected);
    expect(res.applied).toBe(expected === 'applied');
    const stored = await state.readIndicator('i');
    const winner = expected === 'applied' ? second : first;
    expect(stored?.eventId).toBe(winner.eventId);
    expect(stored?.live).toBe(winner.op === 'upsert');
  });

  it('maintains the value index and dirties old ∪ new values', async () => {
    const r1 = await state.recordDesired(upsert('i1', '1-0', ['a', 'b', 'a']));
    expect(r1.dirtied.sort()).toEqual(['a', 'b']);
    const r2 = await state.recordDesired(upsert('i1', '2-0', ['b', 'c']));
    expect(r2.dirtied.sort()).toEqual(['a', 'b', 'c']);
    expect(await state.indicatorsOf('a')).toEqual([]);
    expect(await state.indicatorsOf('b')).toEqual(['i1']);
    await state.recordDesired(upsert('i2', '3-0', ['c']));
    expect((await state.indicatorsOf('c')).sort()).toEqual(['i1', 'i2']);
    const r3 = await state.recordDesired(remove('i1', '4-0'));
    expect(r3.dirtied.sort()).toEqual(['b', 'c']);
    expect(await state.indicatorsOf('c')).toEqual(['i2']);
    expect(await state.indicatorsOf('b')).toEqual([]);
    const dirty = await r.client.zrange(state.keys.sync.dirty, '0', '-1');
    expect(dirty.sort()).toEqual(['a', 'b', 'c']);
    expect(r3.version).toBeGreaterThan(r2.version!);
  });

  it('keeps a tombstone with the dedup horizon as TTL, and live indicators forever', async () => {
    const s = new SyncState(r.client, { keyPrefix: r.prefix, connectorId: 'c1', tombstoneTtlMs: 3_600_000 });
    await s.recordDesired(upsert('i', '1-0', ['a']));
    expect((await s.readIndicator('i'))?.ttlMs).toBe(-1);
    await s.recordDesired(remove('i', '2-0'));
    const t = await s.readIndicator('i');
    expect(t?.live).toBe(false);
    expect(t?.ttlMs).toBeGreaterThan(3_500_000);
    expect(t?.ttlMs).toBeLessThanOrEqual(3_600_000);
    await s.recordDesired(upsert('i', '3-0', ['a']));
    expect((await s.readIndicator('i'))?.ttlMs).toBe(-1);
  });

  it('an upsert with no exportable value removes the old values from the index', async () => {
    await state.recordDesired(upsert('i', '1-0', ['a']));
    const res = await state.recordDesired(upsert('i', '2-0', []));
    expect(res.dirtied).toEqual(['a']);
    expect(await state.indicatorsOf('a')).toEqual([]);
    expect((await state.readIndicator('i'))?.live).toBe(true);
  });

  it('uses `previous` only for an indicator never seen', async () => {
    const first = await state.recordDesired(upsert('i', '5-0', ['new'], { previous: ['old'] }));
    expect(first.dirtied.sort()).toEqual(['new', 'old']);
    const later = await state.recordDesired(upsert('i', '6-0', ['new'], { previous: ['bogus'] }));
    expect(later.dirtied).toEqual(['new']);
  });

  it('refuses, writing nothing, a job whose BullMQ lock is not the processor token (lock-lost, issue 17)', async () => {
    // A worker cut off while its record-desired was in flight: its job lock lapsed, another worker took the job
    // (stall recovery) and completed it, or nobody holds it yet. ioredis resends the command when the link heals.
    const job = upsert('i', '100-0', ['a']);
    const lock = { key: state.keys.jobLock('indicators', 'g1-100-0-i'), token: 'worker-1' };
    await r.client.set(lock.key, 'worker-2', 'PX', 60_000);
    expect(await state.recordDesired(job, { lock })).toMatchObject({ applied: false, outcome: 'lock-lost' });
    await r.client.del(lock.key);
    expect(await state.recordDesired(job, { lock })).toMatchObject({ applied: false, outcome: 'lock-lost' });
    expect(await r.client.get(state.keys.sync.indicator('i'))).toBeNull();
    expect(await r.client.zcard(state.keys.sync.dirty)).toBe(0);
    expect(await r.client.exists(state.keys.sync.value('a'))).toBe(0);
    expect(await r.client.hgetall(state.keys.sync.stats)).toEqual({});
    expect(await r.client.get(state.keys.sync.versionSeq)).toBeNull();

    // The lock holder's call is applied; a caller without a job (tests, cli adopt) is not fenced.
    await r.client.set(lock.key, 'worker-1', 'PX', 60_000);
    expect(await state.recordDesired(job, { lock })).toMatchObject({ applied: true, outcome: 'applied' });
    expect(await state.recordDesired(upsert('j', '100-0', ['b']))).toMatchObject({ outcome: 'applied' });
  });

  it('a late upsert of a deleted indicator whose tombstone is gone is refused by the lock (lock-lost)', async () => {
    const lock = { key: state.keys.jobLock('indicators', 'g1-100-0-i'), token: 'worker-1' };
    await state.recordDesired(upsert('i', '100-0', ['a']));
    await state.recordDesired(remove('i', '101-0'));
    // The tombstone pruned (prune-tombstones.lua) once no older event could come but this late write.
    await r.client.del(state.keys.sync.indicator('i'));
    await r.client.zrem(state.keys.sync.tombstones, 'i');
    expect(await state.recordDesired(upsert('i', '100-0', ['a']), { lock })).toMatchObject({
      outcome: 'lock-lost',
    });
    expect(await r.client.get(state.keys.sync.indicator('i'))).toBeNull();
    expect(await r.client.hexists(state.keys.sync.value('a'), 'i:i')).toBe(0);
  });

  it('refuses jobs of a generation older than the current one', async () => {
    await r.client.set(state.keys.generation, '3');
    expect((await state.recordDesired(upsert('i', '1-0', ['a'], { generation: 2 }))).outcome).toBe(
      'stale-generation',
    );
    expect((await state.recordDesired(upsert('i', '1-0', ['a'], { generation: 3 }))).outcome).toBe('applied');
    expect((await state.recordDesired(upsert('i', '1-0', ['a'], { generation: 3 }))).outcome).toBe(
      'duplicate',
    );
    expect((await state.readIndicator('i'))?.generation).toBe(3);
    expect(await state.counters()).toMatchObject({ applied: 1, duplicate: 1, 'stale-generation': 1 });
  });

  it('derives the desired value: live while any indicator exports it, attributes of the last event', async () => {
    await state.recordDesired(upsert('i1', '10-0', ['v'], { description: 'one' }));
    await state.recordDesired(upsert('i2', '20-0', ['v'], { description: 'two' }));
    let [v] = await state.readValues(['v']);
    expect(v?.desired).toMatchObject({ live: true, liveIndicators: 2, winner: { indicatorId: 'i2' } });
    expect(v?.desired.attributes?.description).toBe('two');
    // i1's newer event makes it the winner, whatever the arrival order of other events.
    await state.recordDesired(upsert('i1', '30-0', ['v'], { description: 'one, updated' }));
    [v] = await state.readValues(['v']);
    expect(v?.desired.attributes?.description).toBe('one, updated');
    await state.recordDesired(remove('i1', '40-0'));
    [v] = await state.readValues(['v']);
    expect(v?.desired.attributes?.description).toBe('two');
    await state.recordDesired(remove('i2', '50-0'));
    [v] = await state.readValues(['v']);
    expect(v?.desired).toMatchObject({ live: false, liveIndicators: 0 });
  });

  it('rejects malformed jobs before touching Redis (the job rule of packages/model)', async () => {
    await expect(state.recordDesired(upsert('i', '12', ['a']))).rejects.toThrow(InvalidJobError);
    await expect(state.recordDesired(upsert('i', '12', ['a']))).rejects.toThrow(/bad eventId/);
    await expect(state.recordDesired(upsert('i', '1-0', ['']))).rejects.toThrow(/values must be non-empty/);
    await expect(state.recordDesired({ ...upsert('i', '1-0', ['a']), generation: -1 })).rejects.toThrow(
      /generation/,
    );
    expect(await state.dirtyCount()).toBe(0);
  });
});
