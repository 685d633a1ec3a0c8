/**
 * Issue 17 point 5, older deployments: sync state written by a worker of layout 1 (index sets per value,
 * indicator hashes with inline attributes, a set of live ids) is migrated by the worker at start, which then
 * syncs from it (packages/sync/README.md "Older deployments").
 */
import { defaultFingerprint } from '@octi-sekoia/sync';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Stack, upsert } from './harness.ts';

let stack: Stack;
beforeEach(async () => {
  stack = await Stack.start();
});
afterEach(async () => {
  await stack.close();
});

it('a worker started on layout-1 state migrates it and syncs from it', async () => {
  const s = stack;
  const k = s.keys.sync;
  const a = upsert('a', '100-0', ['one.example', 'both.example'], { description: 'legacy' }).attributes;
  // What a layout-1 worker left: desired state recorded, values dirty, nothing written to Sekoia yet.
  for (const [id, values] of [
    ['a', ['one.example', 'both.example']],
    ['b', ['both.example']],
  ] as const) {
    await s.r.client.hset(k.indicator(id), {
      g: '1',
      e: id === 'a' ? '100-0' : '101-0',
      live: '1',
      vals: JSON.stringify(values),
      attrs: JSON.stringify(a),
      fp: defaultFingerprint(a),
      stix: `indicator--${id}`,
    });
    await s.r.client.sadd(k.legacyLive, id);
    for (const v of values) {
      await s.r.client.sadd(`${k.legacyIndexPrefix}${v}`, id);
      await s.r.client.hset(k.value(v), 'ver', '1');
      await s.r.client.zadd(k.dirty, 0, v);
    }
  }
  await s.r.client.set(k.versionSeq, '1');

  await s.startService();
  await s.waitIdle(60_000);
  const live = () =>
    s.sim.control
      .indicators()
      .filter((i) => !i.revoked)
      .map((i) => `${i.canonical} ${i.description}`)
      .sort();
  expect(live()).toEqual(['both.example legacy', 'one.example legacy']);
  expect(await s.r.client.get(k.format)).toBe('2');
  expect(await s.r.client.exists(k.legacyLive, `${k.legacyIndexPrefix}both.example`)).toBe(0);

  // The migrated index is the one the worker now keeps: a removes one.example only (b still wants both).
  await s.enqueue([{ ...upsert('a', '200-0', []), op: 'remove' }]);
  await s.waitIdle(60_000);
  expect(live()).toEqual(['both.example legacy']);
  expect(await s.r.client.get(k.liveCount)).toBe('1');
});
