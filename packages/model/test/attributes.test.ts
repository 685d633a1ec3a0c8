import { describe, expect, it } from 'vitest';
import {
  attributesEqual,
  attributesFingerprint,
  canonicalValidFrom,
  type IocAttributes,
  normalizeKillChainPhases,
  roundValidUntil,
  type ValidUntilRounding,
} from '../src/index.ts';

describe('roundValidUntil', () => {
  const cases: [string | undefined, ValidUntilRounding, string | undefined][] = [
    [undefined, 'day', undefined],
    ['2025-02-24T10:00:05.000Z', 'none', '2025-02-24T10:00:05.000Z'],
    ['2025-02-24T10:00:05Z', 'none', '2025-02-24T10:00:05.000Z'],
    ['2025-02-24T10:00:05.000Z', 'minute', '2025-02-24T10:01:00.000Z'],
    ['2025-02-24T10:00:05.000Z', 'hour', '2025-02-24T11:00:00.000Z'],
    ['2025-02-24T10:00:05.000Z', 'day', '2025-02-25T00:00:00.000Z'],
    // Already on the boundary: stays.
    ['2025-02-24T10:01:00.000Z', 'minute', '2025-02-24T10:01:00.000Z'],
    ['2025-02-24T11:00:00.000Z', 'hour', '2025-02-24T11:00:00.000Z'],
    ['2025-02-25T00:00:00Z', 'day', '2025-02-25T00:00:00.000Z'],
    // One millisecond past the boundary rounds up a whole unit.
    ['2025-02-25T00:00:00.001Z', 'day', '2025-02-26T00:00:00.000Z'],
    // Sub-millisecond digits (OASIS microseconds) are never truncated away.
    ['2025-02-24T10:00:05.000001Z', 'none', '2025-02-24T10:00:05.001Z'],
    ['2025-02-25T00:00:00.000100Z', 'day', '2025-02-26T00:00:00.000Z'],
    ['2025-02-25T00:00:00.000000Z', 'day', '2025-02-25T00:00:00.000Z'],
    // Offsets are honoured, output is UTC.
    ['2025-02-24T23:30:00+02:00', 'day', '2025-02-25T00:00:00.000Z'],
    ['2025-02-24T23:30:00-02:00', 'hour', '2025-02-25T02:00:00.000Z'],
    // Year end.
    ['2025-12-31T23:59:59.999Z', 'day', '2026-01-01T00:00:00.000Z'],
    // Not an ISO timestamp: unchanged.
    ['next tuesday', 'day', 'next tuesday'],
    ['March 7 2020', 'hour', 'March 7 2020'],
  ];
  it.each(cases)('%s rounded to %s → %s', (iso, rounding, want) => {
    expect(roundValidUntil(iso, rounding)).toBe(want);
  });

  it('never shortens validity', () => {
    for (const [iso, , out] of cases) {
      if (iso === undefined || out === undefined || Number.isNaN(Date.parse(iso))) continue;
      expect(Date.parse(out)).toBeGreaterThanOrEqual(Date.parse(iso));
    }
  });
});

describe('canonicalValidFrom', () => {
  it.each([
    ['2024-11-26T10:00:05.000Z', '2024-11-26T10:00:05.000Z'],
    ['2024-11-26T10:00:05Z', '2024-11-26T10:00:05.000Z'],
    ['2016-04-06T20:03:48.432678Z', '2016-04-06T20:03:48.432Z'],
    ['2024-11-26T12:00:05+02:00', '2024-11-26T10:00:05.000Z'],
    ['garbage', 'garbage'],
  ])('%s → %s', (iso, want) => {
    expect(canonicalValidFrom(iso)).toBe(want);
  });
});

describe('normalizeKillChainPhases', () => {
  it.each([
    [undefined, []],
    ['x', []],
    [
      [
        { kill_chain_name: 'mitre-attack', phase_name: 'execution', extra: true },
        { kill_chain_name: 'lockheed', phase_name: 'delivery' },
        { kill_chain_name: 'mitre-attack', phase_name: 'execution' },
        { kill_chain_name: 'mitre-attack' },
        null,
      ],
      [
        { kill_chain_name: 'lockheed', phase_name: 'delivery' },
        { kill_chain_name: 'mitre-attack', phase_name: 'execution' },
      ],
    ],
  ])('%j → %j', (input, want) => {
    expect(normalizeKillChainPhases(input)).toEqual(want);
  });
});

describe('attributesEqual / attributesFingerprint', () => {
  const base: IocAttributes = {
    validFrom: '2024-11-26T10:00:05.000Z',
    validUntil: '2025-02-24T10:00:05.000Z',
    killChainPhases: [
      { kill_chain_name: 'a', phase_name: 'x' },
      { kill_chain_name: 'b', phase_name: 'y' },
    ],
    description: 'd',
  };
  const cases: [string, IocAttributes, boolean][] = [
    ['identical', { ...base }, true],
    ['same instant, other format', { ...base, validFrom: '2024-11-26T10:00:05Z' }, true],
    ['same instant, other zone', { ...base, validUntil: '2025-02-24T12:00:05+02:00' }, true],
    ['phases in another order', { ...base, killChainPhases: [...base.killChainPhases].reverse() }, true],
    ['other validFrom', { ...base, validFrom: '2024-11-26T10:00:06.000Z' }, false],
    ['validUntil absent', { ...base, validUntil: undefined }, false],
    ['other phase', { ...base, killChainPhases: [{ kill_chain_name: 'a', phase_name: 'x' }] }, false],
    ['other description', { ...base, description: 'D' }, false],
    ['description differing by trailing space', { ...base, description: 'd ' }, false],
  ];
  it.each(cases)('%s → %s', (_name, other, equal) => {
    expect(attributesEqual(base, other)).toBe(equal);
    expect(attributesEqual(other, base)).toBe(equal);
    expect(attributesFingerprint(base) === attributesFingerprint(other)).toBe(equal);
  });

  it('an explicit undefined validUntil equals an absent one', () => {
    const { validUntil: _, ...without } = base;
    expect(attributesFingerprint(without)).toBe(attributesFingerprint({ ...base, validUntil: undefined }));
  });

  it('does not collide when fields contain the separators', () => {
    const a = { ...base, killChainPhases: [], description: '","' };
    const b = { ...base, killChainPhases: [{ kill_chain_name: '', phase_name: '' }], description: '' };
    expect(attributesEqual(a, b)).toBe(false);
  });
});
