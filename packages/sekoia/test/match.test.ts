import { describe, expect, it } from 'vitest';
import { indicatorValue, indicatorValues, matchCreated } from '../src/match.ts';

const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const hashPattern = `[file:hashes.MD5 = '${MD5}' OR file:hashes.'SHA-1' = '${SHA1}']`;

describe('indicatorValues: the canonical values an indicator stands for', () => {
  it.each([
    ['the value as sent', { name: 'evil.example' }, ['evil.example']],
    ['an upper-cased hash', { name: MD5.toUpperCase() }, [MD5]],
    ['every hash of a file in one name', { name: `${MD5},${SHA1}` }, [MD5, SHA1]],
    ['an expanded IPv6 address', { name: '2001:0db8:0000:0000:0000:0000:0000:0001' }, ['2001:db8::1']],
    [
      'a label, the value in the pattern',
      { name: 'Evil domain', pattern: "[domain-name:value = 'evil.example']" },
      ['evil.example'],
    ],
    ['a label, several hashes in the pattern', { name: 'a file', pattern: hashPattern }, [MD5, SHA1]],
    ['a label and no pattern', { name: 'just a label' }, []],
    ['an unparsable pattern', { name: 'label', pattern: '[not a pattern' }, []],
  ])('%s', (_, item, values) => {
    expect(indicatorValues(item).sort()).toEqual([...values].sort());
  });

  it('indicatorValue: the canonical name first, else the first value of the pattern, else the trimmed name', () => {
    expect(indicatorValue({ name: 'EVIL.example', pattern: "[domain-name:value = 'other.example']" })).toBe(
      'evil.example',
    );
    expect(indicatorValue({ name: 'a file', pattern: hashPattern })).toBe(MD5);
    expect(indicatorValue({ name: ' just a label ' })).toBe('just a label');
  });
});

const item = (id: string, name: string, extra: Record<string, unknown> = {}) => ({ id, name, ...extra });

describe('matchCreated: the id Sekoia answered for each value sent', () => {
  it.each([
    [
      'names as sent',
      ['a.example', 'b.example'],
      [item('1', 'a.example'), item('2', 'b.example')],
      { 'a.example': '1', 'b.example': '2' },
    ],
    [
      'shuffled answer',
      ['a.example', 'b.example'],
      [item('2', 'b.example'), item('1', 'a.example')],
      { 'a.example': '1', 'b.example': '2' },
    ],
    ['upper-cased hash name', [MD5], [item('1', MD5.toUpperCase())], { [MD5]: '1' }],
    [
      'a value sent upper-cased, answered lower-cased',
      [MD5.toUpperCase()],
      [item('1', MD5)],
      { [MD5.toUpperCase()]: '1' },
    ],
    [
      'both hashes of a file in one item',
      [MD5, SHA1],
      [item('1', `${MD5},${SHA1}`)],
      { [MD5]: '1', [SHA1]: '1' },
    ],
    [
      'RFC 5952 sent, expanded answered',
      ['2001:db8::1'],
      [item('1', '2001:0db8:0000:0000:0000:0000:0000:0001')],
      { '2001:db8::1': '1' },
    ],
    [
      'a label with the pattern',
      ['a.example'],
      [item('1', 'A', { pattern: "[domain-name:value = 'a.example']" })],
      { 'a.example': '1' },
    ],
    ['one value, an unrecognisable item', ['a.example'], [item('1', 'label')], { 'a.example': '1' }],
    [
      'in order, one item recognised: the other by position',
      ['a.example', 'b.example'],
      [item('1', 'a.example'), item('2', 'label')],
      { 'a.example': '1', 'b.example': '2' },
    ],
    [
      'no item recognised among several: order is not trusted',
      ['a.example', 'b.example'],
      [item('1', 'x'), item('2', 'y')],
      {},
    ],
    [
      'out of order: no positional match',
      ['a.example', 'b.example', 'c.example'],
      [item('2', 'b.example'), item('1', 'a.example'), item('3', 'label')],
      { 'a.example': '1', 'b.example': '2' },
    ],
    [
      'a value left out (per-item rejection)',
      ['a.example', 'bad'],
      [item('1', 'a.example')],
      { 'a.example': '1' },
    ],
    [
      'only a revoked item: flagged',
      ['a.example'],
      [item('1', 'a.example', { revoked: true })],
      { 'a.example': '1 revoked' },
    ],
    [
      'a live item wins over a revoked one',
      ['a.example'],
      [item('1', 'a.example', { revoked: true }), item('2', 'A.example')],
      { 'a.example': '2' },
    ],
    [
      'a revoked item by position: flagged',
      ['a.example', 'b.example'],
      [item('1', 'a.example'), item('2', 'label', { revoked: true })],
      { 'a.example': '1', 'b.example': '2 revoked' },
    ],
  ] as Array<[string, string[], Array<{ id: string; name: string }>, Record<string, string>]>)(
    '%s',
    (_, sent, items, expected) => {
      const got = [...matchCreated(sent, items)].map(([v, m]) => [v, m.revoked ? `${m.id} revoked` : m.id]);
      expect(Object.fromEntries(got)).toEqual(expected);
    },
  );
});
