import { describe, expect, it } from 'vitest';
import { budgetKeys, keys } from '../src/index.ts';

describe('keys', () => {
  const k = keys('octi-sekoia', 'c0ffee00-0000-4000-8000-000000000001');

  it.each([
    ['bullPrefix', k.bullPrefix, '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}'],
    ['checkpoint', k.checkpoint, '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:checkpoint'],
    ['lease', k.lease, '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:lease'],
    ['generation', k.generation, '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:generation'],
    [
      'replayedEvents',
      k.replayedEvents,
      '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:replayed-events',
    ],
    ['dirty', k.sync.dirty, '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:sync:dirty'],
    ['value', k.sync.value('1.2.3.4'), '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:sync:val:1.2.3.4'],
    ['field sets', k.sync.fieldSets, '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:sync:field-sets'],
    ['sekoiaProfile', k.sekoiaProfile, '{octi-sekoia:c0ffee00-0000-4000-8000-000000000001}:sekoia-profile'],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toBe(expected);
  });

  it('builders agree with the prefixes the Lua scripts use', () => {
    expect(k.sync.value('x')).toBe(`${k.sync.valuePrefix}x`);
    expect(k.sync.lock('x')).toBe(`${k.sync.lockPrefix}x`);
    expect(k.sync.indicator('i')).toBe(`${k.sync.indicatorPrefix}i`);
  });

  it('separates connectors sharing one Redis', () => {
    const other = keys('octi-sekoia', 'other');
    const all = (x: typeof k) => [x.checkpoint, x.lease, x.sync.dirty, x.sync.value('v'), x.bullPrefix];
    for (const name of all(other)) expect(all(k)).not.toContain(name);
  });

  it('every key of a connector carries its hash tag (one Redis Cluster slot), the budget keys theirs', () => {
    const tag = (key: string) => /^\{([^}]+)\}/.exec(key)?.[1];
    const named = [
      k.checkpoint,
      k.lease,
      k.generation,
      k.info,
      k.ingestStatus,
      k.identity,
      k.resyncRequested,
      k.circuit,
      k.collectionUsage,
      k.lastSweep,
      k.sekoiaProfile,
      k.deadLetterMeta,
      k.deadLettersDiscarded,
      k.queueKey(k.queues.indicators, 'wait'),
      k.sync.dirty,
      k.sync.indicator('i'),
      k.sync.value('{v}'),
      k.sync.lock('v'),
      k.sync.fieldSets,
      k.sync.liveCount,
      k.sync.format,
      k.sync.readLock,
      k.sync.observed(3),
    ];
    for (const key of named) expect(tag(key)).toBe('octi-sekoia:c0ffee00-0000-4000-8000-000000000001');
    const b = budgetKeys('octi-sekoia', 'api.sekoia.io', 'k');
    expect(tag(b.tat)).toBe(tag(b.pause));
    expect(tag(b.tat)).not.toBe(tag(k.checkpoint));
  });

  it('refuses an empty prefix or connector id', () => {
    expect(() => keys('', 'c')).toThrow();
    expect(() => keys('p', '')).toThrow();
  });

  it('budget keys hold a hash of the API key, never the key', () => {
    const secret = 'sk-very-secret-api-key-0123456789';
    const b = budgetKeys('octi-sekoia', 'API.Sekoia.io', secret);
    expect(b.tat).not.toContain(secret);
    expect(b.tat).toMatch(/^\{octi-sekoia:budget:api\.sekoia\.io:[0-9a-f]{16}\}:tat$/);
    expect(budgetKeys('octi-sekoia', 'api.sekoia.io', secret).tat).toBe(b.tat);
    expect(budgetKeys('octi-sekoia', 'api.sekoia.io', `${secret}x`).tat).not.toBe(b.tat);
  });
});
