import { describe, expect, it } from 'vitest';
import { compareEventIds, eventIdMs, isEventId } from '../src/index.ts';

describe('isEventId', () => {
  it.each([
    ['0-0', true],
    ['1732615205120-0', true],
    ['18446744073709551615-18446744073709551615', true],
    ['123456789012345678901-0', false],
    ['5', false],
    ['5-', false],
    ['-5', false],
    ['5-0-0', false],
    [' 5-0', false],
    ['a-0', false],
    ['', false],
  ])('%j → %s', (id, want) => {
    expect(isEventId(id)).toBe(want);
  });
});

describe('eventIdMs', () => {
  it.each([
    ['1732615205120-7', 1732615205120],
    ['0-0', 0],
    ['007-1', 7],
  ])('%s → %i', (id, want) => {
    expect(eventIdMs(id)).toBe(want);
  });
});

describe('compareEventIds', () => {
  it.each([
    ['9-0', '10-0', -1],
    ['10-0', '9-0', 1],
    ['5-9', '5-10', -1],
    ['5-10', '5-9', 1],
    ['5-10', '5-10', 0],
    ['0-0', '1732615205120-0', -1],
    ['1732615205120-0', '1732615205101-0', 1],
    ['1732615205120-1', '1732615205121-0', -1],
    ['18446744073709551615-0', '18446744073709551614-99', 1],
    ['99999999999999999999-0', '100000000000000000000-0', -1],
    ['007-0', '7-0', 0],
    ['7-010', '7-9', 1],
    ['0-0', '0-0', 0],
    ['5', '5-0', 0],
    ['5', '5-1', -1],
    // Same shape (equal part lengths), leading zeros included.
    ['01-5', '10-0', -1],
    ['10-05', '10-10', -1],
    ['10-10', '10-05', 1],
    ['1732615205120-9', '1732615205120-8', 1],
    ['0000-9', '0001-0', -1],
  ])('%s vs %s → %i', (a, b, want) => {
    expect(Math.sign(compareEventIds(a, b))).toBe(want);
  });

  it('agrees with a BigInt comparison on generated ids of every shape', () => {
    let seed = 18;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const digits = () => {
      const len = 1 + rand(3);
      let s = '';
      for (let i = 0; i < len; i++) s += String(rand(i === 0 ? 3 : 10));
      return s;
    };
    const big = (id: string) => {
      const [ms, seq] = id.split('-');
      return BigInt(ms!) * 10n ** 20n + BigInt(seq!);
    };
    for (let i = 0; i < 5000; i++) {
      const a = `${digits()}-${digits()}`;
      const b = `${digits()}-${digits()}`;
      const want = big(a) < big(b) ? -1 : big(a) > big(b) ? 1 : 0;
      expect(Math.sign(compareEventIds(a, b)), `${a} vs ${b}`).toBe(want);
    }
  });

  it('sorts a shuffled list numerically', () => {
    const ids = ['10-0', '9-0', '5-10', '5-9', '100-0', '5-0'];
    expect([...ids].sort(compareEventIds)).toEqual(['5-0', '5-9', '5-10', '9-0', '10-0', '100-0']);
  });
});
