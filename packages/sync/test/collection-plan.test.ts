import type { IocAttributes } from '@octi-sekoia/model';
import type { ListedIndicator } from '@octi-sekoia/sekoia/fields';
import { describe, expect, it } from 'vitest';
import { CollectionPlanner, DesiredCollection, observeIndicator } from '../src/index.ts';
import { attrs, remove, upsert } from './helpers.ts';

const listed = (id: string, name: string, a: IocAttributes, revoked = false): ListedIndicator => ({
  id,
  name,
  revoked,
  valid_from: a.validFrom,
  valid_until: a.validUntil ?? null,
  kill_chain_phases: a.killChainPhases,
  description: a.description,
});

describe('DesiredCollection (OpenCTI truth from jobs)', () => {
  it('last event per indicator wins; a value takes the attributes of the latest live holder (ties: greater id)', () => {
    const d = new DesiredCollection();
    d.add(upsert('i1', '5-0', ['a.example', 'shared.example'], { description: 'one' }));
    d.add(upsert('i1', '3-0', ['stale.example'], { description: 'older event, ignored' }));
    d.add(upsert('i2', '7-0', ['shared.example', 'gone.example'], { description: 'two' }));
    d.add(remove('i2', '8-0'));
    d.add(upsert('i3', '9-0', ['tie.example'], { description: 'three' }));
    d.add(upsert('i4', '9-0', ['tie.example'], { description: 'four' }));
    const v = d.values();
    expect([...v.keys()].sort()).toEqual(['a.example', 'shared.example', 'tie.example']);
    expect(v.get('shared.example')?.attributes.description).toBe('one');
    expect(v.get('tie.example')?.indicatorId).toBe('i4');
    expect(d.indicatorCount).toBe(3);
  });
});

describe('CollectionPlanner (what an adoption will do)', () => {
  it('creates, revokes (not live, duplicates) and edits, with a value split across pages', () => {
    const d = new DesiredCollection();
    d.add(upsert('k', '1-0', ['keep.example'], { description: 'keep' }));
    d.add(upsert('d', '1-1', ['dup.example'], { description: 'dup' }));
    d.add(upsert('w', '1-2', ['wrong.example'], { description: 'right' }));
    d.add(upsert('n', '1-3', ['new.example'], { description: 'new' }));
    d.add(upsert('m', '1-4', ['mixed.example'], { description: 'mixed' }));
    const planner = new CollectionPlanner(d.values());
    const p1 = planner.addPage(
      [
        listed('id-1', 'keep.example', attrs('keep')),
        listed('id-2', 'DUP.example', attrs('dup')),
        listed('id-3', 'wrong.example', attrs('old')),
        listed('id-4', '10.0.0.1', attrs('from a != pattern')),
        listed('id-5', 'revoked.example', attrs('x'), true),
      ].map((i) => observeIndicator(i)),
    );
    expect(p1).toEqual({ checked: 4, toRevoke: 1, toEdit: 1 });
    const p2 = planner.addPage(
      [
        listed('id-6', 'dup.example', attrs('dup')),
        // The id carrying the right attributes is kept, whatever the order.
        listed('id-8', 'mixed.example', attrs('stale')),
        listed('id-7', 'mixed.example', attrs('mixed')),
      ].map((i) => observeIndicator(i)),
    );
    expect(p2).toEqual({ checked: 5, toRevoke: 3, toEdit: 1 });
    const plan = planner.finish();
    expect(plan.create).toEqual([{ value: 'new.example', attributes: attrs('new') }]);
    expect(plan.revoke).toEqual([
      { value: '10.0.0.1', id: 'id-4', reason: 'not-live' },
      { value: 'dup.example', id: 'id-6', reason: 'duplicate' },
      { value: 'mixed.example', id: 'id-8', reason: 'duplicate' },
    ]);
    expect(plan.edit).toEqual([
      { value: 'wrong.example', id: 'id-3', attributes: attrs('right'), current: attrs('old') },
    ]);
    expect(plan).toMatchObject({ checked: 5, indicators: 7, unchanged: 1 });
  });
});

describe('observeIndicator: the value a listed indicator is recorded under (issue 14 row 1)', () => {
  const md5 = '0cc175b9c0f1b6a831c399e269772661';
  it.each([
    ['the name as sent', { name: 'evil.example' }, 'evil.example'],
    ['an upper-cased hash', { name: md5.toUpperCase() }, md5],
    [
      'a label naming the file by its hashes: the pattern',
      { name: `MD5:${md5}`, pattern: `[file:hashes.MD5 = '${md5}']` },
      md5,
    ],
    ['an expanded IPv6 address', { name: '2001:0db8:0000:0000:0000:0000:0000:0001' }, '2001:db8::1'],
    ['a label without a pattern: the trimmed name', { name: ' a label ' }, 'a label'],
  ])('%s', (_, named, value) => {
    expect(observeIndicator({ id: 'indicator--1', ...named }).value).toBe(value);
  });
});
