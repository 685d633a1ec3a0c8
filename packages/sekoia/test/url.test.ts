import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../src/client.ts';
import { normaliseBaseUrl, normaliseCollectionId } from '../src/url.ts';

describe('normaliseBaseUrl', () => {
  const cases: Array<[string, string]> = [
    ['https://api.sekoia.io', 'https://api.sekoia.io/v2/inthreat/ioc-collections'],
    ['https://api.sekoia.io/', 'https://api.sekoia.io/v2/inthreat/ioc-collections'],
    ['https://app.sekoia.io/api', 'https://app.sekoia.io/api/v2/inthreat/ioc-collections'],
    ['https://app.usa1.sekoia.io/api/', 'https://app.usa1.sekoia.io/api/v2/inthreat/ioc-collections'],
    [
      'https://api.sekoia.io/v2/inthreat/ioc-collections',
      'https://api.sekoia.io/v2/inthreat/ioc-collections',
    ],
    [
      'https://api.sekoia.io/v2/inthreat/ioc-collections/',
      'https://api.sekoia.io/v2/inthreat/ioc-collections',
    ],
    ['https://app.sekoia.io/api/v2/inthreat', 'https://app.sekoia.io/api/v2/inthreat/ioc-collections'],
    ['  http://127.0.0.1:8081  ', 'http://127.0.0.1:8081/v2/inthreat/ioc-collections'],
  ];
  it.each(cases)('%s → %s', (input, expected) => {
    expect(normaliseBaseUrl(input)).toBe(expected);
  });

  it('rejects what is not an http(s) URL', () => {
    expect(() => normaliseBaseUrl('api.sekoia.io')).toThrow(TypeError);
    expect(() => normaliseBaseUrl('ftp://api.sekoia.io')).toThrow(TypeError);
  });
});

describe('normaliseCollectionId', () => {
  it.each([
    ['6F1C0A54-1111-4222-8333-944455556666', 'ioc-collection--6f1c0a54-1111-4222-8333-944455556666'],
    [
      'ioc-collection--6f1c0a54-1111-4222-8333-944455556666',
      'ioc-collection--6f1c0a54-1111-4222-8333-944455556666',
    ],
    [' ioc-collection--x ', 'ioc-collection--x'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseCollectionId(input)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  it.each([
    ['7', 7000],
    ['0', 0],
    ['1.5', 1500],
    ['Mon, 01 Jun 2026 00:00:30 GMT', 30_000],
    ['Sun, 31 May 2026 23:59:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});
