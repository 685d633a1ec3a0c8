// Tombstones are bounded by generations (sweep-unseen.lua): a deleted indicator keeps its fence while its
// generation is current, and the next generation's sweep deletes it; the sweep itself leaves none. An old replay
// still cannot resurrect a deleted value: the generation counter refuses it.
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncState } from '../src/index.ts';
import { sweepUnseen } from '../src/sweep.ts';
import { remove, upsert } from './helpers.ts';

describe('tombstones', () => {
  let r: TestRedis;
  let state: SyncState;
  beforeEach(async () => {
    r = await testRedis('tomb');
    state = new SyncState(r.client, { keyPrefix: r.prefix, connectorId: 'c1' });
  });
  afterEach(async () => {
    await r.cleanup();
  });

  const indicatorKeys = async () => {
    const names: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await r.client.scan(cursor, 'MATCH', `*${r.prefix}*:sync:ind:*`, 'COUNT', 1000);
      cursor = next;
      names.push(...found.map((k) => k.slice(k.indexOf(':sync:ind:') + ':sync:ind:'.length)));
    } while (cursor !== '0');
    return names.sort();
  };

  it('last until the next generation is swept, and old replays still cannot resurrect the deleted values', async () => {
    await r.client.set(state.keys.generation, '1');
    await state.recordDesired(upsert('deleted', '1-0', ['a.example']));
    await state.recordDesired(remove('deleted', '2-0'));
    await state.recordDesired(upsert('unseen', '3-0', ['b.example']));
    await state.recordDesired(upsert('kept', '4-0', ['c.example']));
    // Within generation 1 the tombstone is the fence against a late, older create.
    expect(await indicatorKeys()).toEqual(['deleted', 'kept', 'unseen']);
    expect((await state.recordDesired(upsert('deleted', '1-0', ['a.example']))).outcome).toBe('stale');

    // Generation 2 re-reads the stream: only `kept` is still there. Its sweep leaves no tombstone behind.
    await r.client.set(state.keys.generation, '2');
    await state.recordDesired(upsert('kept', '9-0', ['c.example'], { generation: 2 }));
    expect(await sweepUnseen(state, 2)).toMatchObject({ removed: 1 });
    expect(await indicatorKeys()).toEqual(['kept']);

    // Replays of generation 1 (a dead letter sent back, a duplicate delivery) are refused by the counter.
    for (const job of [
      upsert('deleted', '1-0', ['a.example']),
      upsert('unseen', '3-0', ['b.example']),
      upsert('unseen', '99-0', ['b.example']),
    ])
      expect((await state.recordDesired(job)).outcome).toBe('stale-generation');
    expect(await state.indicatorsOf('a.example')).toEqual([]);
    expect(await state.indicatorsOf('b.example')).toEqual([]);
    expect(await indicatorKeys()).toEqual(['kept']);
    // Any event of generation 2 still wins.
    expect(
      (await state.recordDesired(upsert('unseen', '10-0', ['b.example'], { generation: 2 }))).outcome,
    ).toBe('applied');
  });

  it('with no generation counter at G (lost in a failover), the sweep keeps fences: an older job stays refused', async () => {
    await state.recordDesired(upsert('unseen', '3-0', ['b.example']));
    await state.recordDesired(upsert('gone', '4-0', ['d.example']));
    await state.recordDesired(remove('gone', '5-0'));
    expect(await sweepUnseen(state, 2)).toMatchObject({ removed: 1 });
    expect(await indicatorKeys()).toEqual(['gone', 'unseen']);
    expect((await state.readIndicator('unseen'))?.ttlMs).toBeGreaterThan(0);
    expect((await state.recordDesired(upsert('unseen', '3-1', ['b.example']))).outcome).toBe('stale');
    expect((await state.recordDesired(upsert('gone', '4-1', ['d.example']))).outcome).toBe('stale');
    expect(await state.indicatorsOf('b.example')).toEqual([]);
  });
});
