/**
 * Issue 17 point 5, the state that fits (packages/sync/README.md "Redis keys"): one record per value (the index
 * is the `i:` fields of the value hash), each distinct field set stored once and counted, and sync state of the
 * older layout migrated by the worker at start.
 */

import type { IndicatorJob } from '@octi-sekoia/model';
import { legacyLayout, migrateKeyLayout } from '@octi-sekoia/queue';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CollectionReads, SyncState } from '../src/index.ts';
import { sweepUnseen } from '../src/sweep.ts';
import { fieldSet, parseFieldSet } from '../src/value-state.ts';
import { attrs, remove, upsert } from './helpers.ts';

let r: TestRedis;
let state: SyncState;
beforeEach(async () => {
  r = await testRedis('layout');
  state = new SyncState(r.client, { keyPrefix: r.prefix, connectorId: 'c1' });
});
afterEach(async () => {
  await r.cleanup();
});

/** Every key matching `pattern`, sorted. */
async function scanAll(pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, names] = await r.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...names);
  } while (cursor !== '0');
  return out.sort();
}

/** Every key of the test's connector, without its prefix. */
async function keyNames(): Promise<string[]> {
  const base = `${state.keys.base}:`;
  return (await scanAll(`${base}*`)).map((n) => n.slice(base.length));
}

const fieldSets = () => r.client.hgetall(state.keys.sync.fieldSets);
/** ref → how many live indicators refer to it (the count in front of each field set). */
const refs = async () =>
  Object.fromEntries(Object.entries(await fieldSets()).map(([ref, counted]) => [ref, counted.split(' ')[0]]));
const liveCount = async () => Number(await r.client.get(state.keys.sync.liveCount));

describe('one record per value, field sets stored once', () => {
  it('a value has one key; indicators sharing attributes share one field set, counted', async () => {
    await state.recordDesired(upsert('i1', '1-0', ['a', 'b'], { description: 'shared' }));
    await state.recordDesired(upsert('i2', '2-0', ['b', 'c'], { description: 'shared' }));
    expect((await keyNames()).filter((k) => k.startsWith('sync:val:') || k.startsWith('sync:idx:'))).toEqual([
      'sync:val:a',
      'sync:val:b',
      'sync:val:c',
    ]);
    expect((await state.indicatorsOf('b')).sort()).toEqual(['i1', 'i2']);
    const shared = fieldSet(attrs('shared'));
    expect(await fieldSets()).toEqual({ [shared.ref]: `2 ${shared.json}` });
    expect(await refs()).toEqual({ [shared.ref]: '2' });
    const [b] = await state.readValues(['b']);
    expect(b?.desired).toMatchObject({ live: true, liveIndicators: 2, attributes: attrs('shared') });
    expect(b?.desired.fp).toBe(state.fingerprint(attrs('shared')));
  });

  it('a field set goes when the last indicator referring to it changes, is removed or swept', async () => {
    await state.recordDesired(upsert('i1', '1-0', ['a'], { description: 'x' }));
    await state.recordDesired(upsert('i2', '2-0', ['b'], { description: 'x' }));
    await state.recordDesired(upsert('i3', '3-0', ['c'], { description: 'y', generation: 2 }));
    const x = fieldSet(attrs('x')).ref;
    const y = fieldSet(attrs('y')).ref;
    const z = fieldSet(attrs('z')).ref;
    // A duplicate or stale event changes no count.
    await state.recordDesired(upsert('i1', '1-0', ['a'], { description: 'x' }));
    await state.recordDesired(upsert('i1', '0-5', ['a'], { description: 'z' }));
    expect(await refs()).toEqual({ [x]: '2', [y]: '1' });
    await state.recordDesired(upsert('i1', '4-0', ['a'], { description: 'z' }));
    expect(await refs()).toEqual({ [x]: '1', [y]: '1', [z]: '1' });
    expect(await liveCount()).toBe(3);
    await state.recordDesired(remove('i2', '5-0'));
    await state.recordDesired(remove('i2', '6-0'));
    expect(await refs()).toEqual({ [y]: '1', [z]: '1' });
    expect(await liveCount()).toBe(2);
    expect(Object.keys(await fieldSets()).sort()).toEqual([y, z].sort());
    // i1 was not seen in generation 2: the sweep removes it, and its field set with it.
    await r.client.set(state.keys.generation, '2');
    expect(await sweepUnseen(state, 2, { chunk: 1 })).toEqual({
      removed: 1,
      dirtied: 1,
      skipped: false,
      kept: [],
    });
    expect(await liveCount()).toBe(1);
    expect(await refs()).toEqual({ [y]: '1' });
    expect(Object.keys(await fieldSets())).toEqual([y]);
    expect(await state.indicatorsOf('a')).toEqual([]);
    const [a, c] = await state.readValues(['a', 'c']);
    expect(a?.desired.live).toBe(false);
    expect(c?.desired.attributes).toEqual(attrs('y'));
  });

  it('a field set reads back as the attributes it was made of, with or without validUntil', () => {
    const full = attrs('d', {
      validUntil: '2027-01-01T00:00:00.000Z',
      killChainPhases: [{ kill_chain_name: 'mitre-attack', phase_name: 'execution' }],
    });
    for (const a of [full, attrs('no validity end')]) {
      const { json, ref } = fieldSet(a);
      expect(parseFieldSet(json, a.validFrom)).toEqual({ attributes: a });
      expect(ref).toHaveLength(12);
    }
    expect(fieldSet(full).ref).not.toBe(fieldSet({ ...full, description: 'e' }).ref);
  });

  it('valid_from is per indicator: equal other fields share one field set, each reads back its own', async () => {
    const job = (id: string, eventId: string, value: string, validFrom: string): IndicatorJob => ({
      ...upsert(id, eventId, [value]),
      attributes: attrs('shared', { validFrom }),
    });
    // Canonical instants, a non-canonical one and a text that is no instant (record-desired.lua keeps each).
    const froms = [
      '2024-01-01T00:00:00.000Z',
      '2025-06-30T12:34:56.789Z',
      '2024-01-01T00:00:00Z',
      'not a date',
    ];
    for (const [n, from] of froms.entries())
      await state.recordDesired(job(`i${n}`, `${n + 1}-0`, `v${n}`, from));
    expect(await refs()).toEqual({ [fieldSet(attrs('shared')).ref]: String(froms.length) });
    const read = await state.readValues(froms.map((_, n) => `v${n}`));
    expect(read.map((v) => v.desired.attributes)).toEqual(
      froms.map((validFrom) => attrs('shared', { validFrom })),
    );
    expect(read.map((v) => v.desired.fp)).toEqual(
      froms.map((validFrom) => state.fingerprint(attrs('shared', { validFrom }))),
    );
    expect(await state.readIndicator('i1')).toMatchObject({
      attributes: attrs('shared', { validFrom: froms[1] }),
      stixId: 'indicator--i1',
    });
    // The record holds validFrom as epoch ms, the STIX id without `indicator--` (value-state.ts says why).
    expect(await r.client.get(state.keys.sync.indicator('i1'))).toMatch(/,"i1",1751286896789\]$/);
    // A valid_from change alone is a new fingerprint (so an edit), in the same field set.
    await state.recordDesired(job('i0', '9-0', 'v0', '2024-02-01T00:00:00.000Z'));
    const [v0] = await state.readValues(['v0']);
    expect(v0?.desired.fp).toBe(
      state.fingerprint(attrs('shared', { validFrom: '2024-02-01T00:00:00.000Z' })),
    );
    expect(v0?.desired.fp).not.toBe(read[0]?.desired.fp);
    expect(await refs()).toEqual({ [fieldSet(attrs('shared')).ref]: String(froms.length) });
  });

  it('a field set written before valid_from left it (layout 2, issue 17) still reads, and goes at the next event', async () => {
    // What record-desired.lua wrote then: a record without validFrom, a field set with fingerprint and validFrom.
    const s = state.keys.sync;
    const before = attrs('old', { validFrom: '2023-05-05T05:05:05.000Z' });
    const text = JSON.stringify(['fp-then', before.validFrom, null, [], 'old']);
    await r.client.hset(s.fieldSets, 'oldref', `1 ${text}`);
    await r.client.set(s.indicator('i1'), JSON.stringify(['1', '1-0', 1, ['a'], 'oldref', 'indicator--i1']));
    await r.client.hset(s.value('a'), 'i:i1', '');
    await r.client.incr(s.liveCount);
    const [a] = await state.readValues(['a']);
    expect(a?.desired).toMatchObject({ live: true, attributes: before, fp: 'fp-then' });
    expect((await state.readIndicator('i1'))?.attributes).toEqual(before);
    // Its next event refers to a field set of the new form; the old one goes with its last reference.
    await state.recordDesired({ ...upsert('i1', '2-0', ['a']), attributes: before });
    expect(await refs()).toEqual({ [fieldSet(before).ref]: '1' });
    const [again] = await state.readValues(['a']);
    expect(again?.desired).toMatchObject({ attributes: before, fp: state.fingerprint(before) });
  });

  it('the applied state read never includes the index fields', async () => {
    await state.recordDesired(upsert('i1', '1-0', ['a']));
    await r.client.hset(state.keys.sync.value('a'), 'id:sek-1', 'fp1', 'gen', '1');
    const [a] = await state.readValues(['a']);
    expect(a?.applied).toMatchObject({ ids: { 'sek-1': 'fp1' }, generation: 1, intents: [] });
  });

  it('forgetting the applied state (another collection adopted) keeps the index', async () => {
    await state.recordDesired(upsert('i1', '1-0', ['a', 'b']));
    await r.client.hset(state.keys.sync.value('a'), 'id:sek-1', 'fp1', 'gen', '1');
    await r.client.hset(state.keys.sync.value('gone'), 'id:sek-2', 'fp2');
    const reads = new CollectionReads(r.client, { keyPrefix: r.prefix, connectorId: 'c1' });
    expect(await reads.dropAppliedState()).toBe(3);
    expect(await r.client.hgetall(state.keys.sync.value('a'))).toEqual({ 'i:i1': '' });
    expect(await r.client.exists(state.keys.sync.value('gone'))).toBe(0);
    const [a] = await state.readValues(['a']);
    expect(a?.desired).toMatchObject({ live: true, version: 0 });
    expect(a?.applied.ids).toEqual({});
  });
});

describe('sync state of layout 1 (before issue 17)', () => {
  /**
   * What layout 1 wrote for a live indicator: inline attributes and fingerprint, one index set per value.
   * `at` names a key as written (the tagged name by default; the untagged one for a release before hash tags).
   */
  async function legacyIndicator(
    id: string,
    eventId: string,
    values: string[],
    description: string,
    at = (key: string) => key,
  ) {
    const s = state.keys.sync;
    const a = attrs(description);
    await r.client.hset(at(s.indicator(id)), {
      g: '1',
      e: eventId,
      live: '1',
      vals: JSON.stringify(values),
      attrs: JSON.stringify(a),
      fp: state.fingerprint(a),
      stix: `indicator--${id}`,
    });
    await r.client.sadd(at(s.legacyLive), id);
    for (const v of values) {
      await r.client.sadd(at(`${s.legacyIndexPrefix}${v}`), id);
      await r.client.hset(at(s.value(v)), 'ver', '7');
    }
  }

  it('is migrated once: same desired state, index in the value hashes, field sets once', async () => {
    await legacyIndicator('i1', '1-0', ['a', 'b'], 'shared');
    await legacyIndicator('i2', '2-0', ['b'], 'shared');
    await legacyIndicator('i3', '3-0', ['c'], 'own');
    await r.client.hset(state.keys.sync.value('a'), 'id:sek-1', 'fp1');
    // A tombstone of layout 1 (no attributes), with its TTL.
    await r.client.hset(state.keys.sync.indicator('dead'), { g: '1', e: '4-0', live: '0', vals: '[]' });
    await r.client.pexpire(state.keys.sync.indicator('dead'), 3_600_000);

    expect(await state.migrate(1)).toEqual({ index: 3, indicators: 4 });
    expect(await r.client.pttl(state.keys.sync.indicator('dead'))).toBeGreaterThan(3_500_000);
    expect((await keyNames()).filter((k) => k.startsWith('sync:idx:') || k === 'sync:live')).toEqual([]);
    expect(await liveCount()).toBe(3);
    expect(await r.client.get(state.keys.sync.format)).toBe('2');
    const shared = fieldSet(attrs('shared')).ref;
    const own = fieldSet(attrs('own')).ref;
    expect(await refs()).toEqual({ [shared]: '2', [own]: '1' });
    // Each indicator is now one record string; the tombstone kept its fence (and would keep its TTL).
    expect(await r.client.type(state.keys.sync.indicator('i1'))).toBe('string');
    expect(await state.readIndicator('i1')).toMatchObject({
      live: true,
      values: ['a', 'b'],
      stixId: 'indicator--i1',
    });
    expect(await state.readIndicator('dead')).toMatchObject({ live: false, eventId: '4-0', values: [] });
    const [a, b, c] = await state.readValues(['a', 'b', 'c']);
    expect(a?.desired).toMatchObject({ live: true, version: 7, attributes: attrs('shared') });
    expect(a?.applied.ids).toEqual({ 'sek-1': 'fp1' });
    expect(b?.desired).toMatchObject({ liveIndicators: 2, winner: { indicatorId: 'i2' } });
    expect(c?.desired.attributes).toEqual(attrs('own'));

    // Then the new code goes on from it: i1 removed, its field set still held by i2.
    await state.recordDesired(remove('i1', '5-0'));
    expect(await refs()).toEqual({ [shared]: '1', [own]: '1' });
    expect(await liveCount()).toBe(2);
    expect(await state.indicatorsOf('b')).toEqual(['i2']);
    // Migrating again finds the format and does nothing.
    expect(await state.migrate()).toEqual({ index: 0, indicators: 0 });
  });

  it('a deployment from before hash tags and layout 2 comes up: key names moved, then the layout migrated', async () => {
    // Keys of a release before both: untagged names (`<prefix>:<connector>:…`, migrateKeyLayout moves them) and
    // layout 1 (SyncState.migrate moves it), in the order the worker runs them at start (apps/worker main.ts).
    const old = legacyLayout(r.prefix, 'c1');
    const untagged = (key: string) => `${old.base}${key.slice(state.keys.base.length)}`;
    await legacyIndicator('i1', '1-0', ['a', 'b'], 'shared', untagged);
    await legacyIndicator('i2', '2-0', ['b'], 'shared', untagged);
    await r.client.hset(untagged(state.keys.sync.value('a')), 'id:sek-1', 'fp1');
    await r.client.zadd(untagged(state.keys.sync.dirty), 0, 'a');
    await r.client.set(untagged(state.keys.generation), '1');

    expect((await migrateKeyLayout(r.client, r.prefix, 'c1')).kept).toBe(0);
    expect(await state.migrate()).toEqual({ index: 2, indicators: 2 });
    expect(await scanAll(`${old.base}:*`)).toEqual([]);
    expect((await keyNames()).filter((k) => k.startsWith('sync:idx:') || k === 'sync:live')).toEqual([]);
    expect(await liveCount()).toBe(2);
    const shared = fieldSet(attrs('shared')).ref;
    expect(await refs()).toEqual({ [shared]: '2' });
    const [a, b] = await state.readValues(['a', 'b']);
    expect(a?.desired).toMatchObject({ live: true, version: 7, attributes: attrs('shared') });
    expect(a?.applied.ids).toEqual({ 'sek-1': 'fp1' });
    expect(b?.desired).toMatchObject({ liveIndicators: 2, winner: { indicatorId: 'i2' } });
    expect(await state.dirtyCount()).toBe(1);
    // The new code goes on from it.
    await state.recordDesired(remove('i2', '5-0'));
    expect(await state.indicatorsOf('b')).toEqual(['i1']);
    expect(await refs()).toEqual({ [shared]: '1' });
  });
});
