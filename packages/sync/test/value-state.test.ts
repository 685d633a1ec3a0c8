import { canonicalInstantMs } from '@octi-sekoia/model';
import { describe, expect, it } from 'vitest';
import { validFromElement } from '../src/value-state.ts';

/** validFromElement as it was before its fast path (Date.parse, then toISOString to check the text comes back). */
function slowElement(validFrom: string): string {
  const ms = Date.parse(validFrom);
  return Number.isSafeInteger(ms) && new Date(ms).toISOString() === validFrom
    ? String(ms)
    : JSON.stringify(validFrom);
}

describe('validFromElement', () => {
  it('gives what Date.parse + toISOString give, on canonical dates and on every near miss', () => {
    const texts: string[] = [];
    // Canonical dates across leap years, month ends, the epoch and the years' range.
    for (let ms = 0; ms < 253402300800000; ms += 86_400_000 * 971 + 3_600_000 * 5 + 61_001)
      texts.push(new Date(ms).toISOString());
    texts.push(
      '1970-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '2024-02-29T12:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      // Not what toISOString gives back: the JSON string.
      '2023-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2100-02-29T00:00:00.000Z',
      '2024-04-31T00:00:00.000Z',
      '2024-13-01T00:00:00.000Z',
      '2024-00-10T00:00:00.000Z',
      '2024-01-00T00:00:00.000Z',
      '2024-01-01T24:00:00.000Z',
      '2024-01-01T23:60:00.000Z',
      '2024-01-01T23:59:60.000Z',
      '1969-12-31T23:59:59.999Z',
      '0999-01-01T00:00:00.000Z',
      '2024-01-01T00:00:00Z',
      '2024-01-01T00:00:00.000+00:00',
      '2024-01-01 00:00:00.000Z',
      '+012024-01-01T00:00:00.000Z',
      '2024-01-01',
      'not a date',
      '',
    );
    for (const t of texts) expect([t, validFromElement(t)]).toEqual([t, slowElement(t)]);
    expect(canonicalInstantMs('2024-02-29T12:00:00.000Z')).toBe(Date.UTC(2024, 1, 29, 12));
    expect(canonicalInstantMs('2023-02-29T00:00:00.000Z')).toBeUndefined();
  });
});
