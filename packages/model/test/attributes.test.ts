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
    // Canonical-looking strings Date.parse rolls over or refuses (the fast path for canonical strings must
    // give what the parse gives).
    ['2026-02-30T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
    ['2026-02-29T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
    ['2024-02-29T00:00:00.000Z', '2024-02-29T00:00:00.000Z'],
    ['2100-02-29T00:00:00.000Z', '2100-03-01T00:00:00.000Z'],
    ['2000-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z'],
    ['2026-04-31T10:00:00.000Z', '2026-05-01T10:00:00.000Z'],
    ['2026-01-01T24:00:00.000Z', '2026-01-02T00:00:00.000Z'],
    ['2026-01-01T23:59:60.000Z', '2026-01-01T23:59:60.000Z'],
    ['2026-13-01T00:00:00.000Z', '2026-13-01T00:00:00.000Z'],
    ['2026-00-10T00:00:00.000Z', '2026-00-10T00:00:00.000Z'],
    ['2026-01-00T00:00:00.000Z', '2026-01-00T00:00:00.000Z'],
    ['0000-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z'],
    ['2026-01-01t00:00:00.000z', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01T00:00:00.00xZ', '2026-01-01T00:00:00.00xZ'],
  ])('%s → %s', (iso, want) => {
    expect(canonicalValidFrom(iso)).toBe(want);
  });

  it('gives, for every string of the canonical shape, what parsing and formatting give', () => {
    // The reference: the regex + Date.parse + toISOString path every non-canonical string takes.
    const reference = (iso: string) => {
      const ms = Date.parse(iso);
      return Number.isNaN(ms) ? iso : new Date(ms).toISOString();
    };
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    let seed = 18;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const years = [0, 1, 1900, 1970, 2000, 2024, 2025, 2100, 2400, 9999];
    for (let i = 0; i < 5000; i++) {
      const iso = `${pad(years[rand(years.length)]!, 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)}T${pad(rand(26), 2)}:${pad(rand(61), 2)}:${pad(rand(62), 2)}.${pad(rand(1000), 3)}Z`;
      expect(canonicalValidFrom(iso), iso).toBe(reference(iso));
      for (const rounding of ['none', 'minute', 'hour', 'day'] as const) {
        const ms = Date.parse(iso);
        const unit = { none: 1, minute: 60_000, hour: 3_600_000, day: 86_400_000 }[rounding];
        const want = Number.isNaN(ms) ? iso : new Date(Math.ceil(ms / unit) * unit).toISOString();
        expect(roundValidUntil(iso, rounding), `${iso} ${rounding}`).toBe(want);
      }
    }
  });
});

describe('normalizeKillChainPhases', () => {
  it.each([
    [undefined, []],
    ['x', []],
    [[], []],
    [[null], []],
    [['x'], []],
    [[{ kill_chain_name: 'mitre-attack' }], []],
    [[{ kill_chain_name: 'mitre-attack', phase_name: 7 }], []],
    [
      [{ kill_chain_name: 'mitre-attack', phase_name: 'execution', extra: true }],
      [{ kill_chain_name: 'mitre-attack', phase_name: 'execution' }],
    ],
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
