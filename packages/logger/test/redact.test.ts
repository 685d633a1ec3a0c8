import { describe, expect, it } from 'vitest';
import { REDACTED, redact } from '../src/index.ts';
import { redactValue } from '../src/redact.ts';

const KEY = 'sk-live-Zq8yT3vN5pLm2WxR7cD4';
const PW = 'p@ss:w/rd"x';

describe('redact (text)', () => {
  const cases: Array<[string, string, string]> = [
    ['a known secret', `key=${KEY} end`, `key=${REDACTED} end`],
    ['a URL-encoded secret', `redis://:${encodeURIComponent(PW)}@h:6379`, `redis://:${REDACTED}@h:6379`],
    ['Bearer', 'Authorization: Bearer abc.def-ghi', `Authorization: Bearer ${REDACTED}`],
    ['bearer in lower case', 'got bearer xyz123 back', `got bearer ${REDACTED} back`],
    ['URL user and password', 'https://bob:hunter22@h/x', `https://bob:${REDACTED}@h/x`],
    ['URL password only', 'redis://:hunter22@h:6379', `redis://:${REDACTED}@h:6379`],
    ['URL token as user', 'https://ghp_abcdef@h/x', `https://${REDACTED}@h/x`],
    ['query parameter', 'GET /x?apikey=abc123&y=2', `GET /x?apikey=${REDACTED}&y=2`],
    [
      'inline pair',
      "{ authorization: 'opaque-xyz', other: 'kept' }",
      `{ authorization: '${REDACTED}', other: 'kept' }`,
    ],
    ['JSON pair', '{"password":"opaque-xyz","user":"bob"}', `{"password":"${REDACTED}","user":"bob"}`],
    ['no secret', 'nothing to see at https://h/x?a=1', 'nothing to see at https://h/x?a=1'],
    [
      'an email is not a URL credential',
      'mail bob@example.com from https://h/',
      'mail bob@example.com from https://h/',
    ],
  ];
  it.each(cases)('%s', (_label, input, expected) => {
    expect(redact(input, [KEY, PW])).toBe(expected);
  });
});

describe('redactValue (deep)', () => {
  it('redacts strings, sensitive keys, errors and maps at any depth, and copies', () => {
    const err = new Error(`failed with ${KEY}`);
    Object.assign(err, { config: { headers: { Authorization: 'Bearer zzz-unlisted' } } });
    const value = {
      list: [{ s: `x ${KEY}` }],
      headers: { AUTHORIZATION: 'opaque', 'x-api-key': 'opaque' },
      err,
      map: new Map([['password', 'opaque']]),
      n: 5,
      when: new Date(0),
    };
    const out = redactValue(value, [KEY]);
    expect(out.list[0]!.s).toBe(`x ${REDACTED}`);
    expect(out.headers).toEqual({ AUTHORIZATION: REDACTED, 'x-api-key': REDACTED });
    expect(out.err).toBeInstanceOf(Error);
    expect(out.err.message).toBe(`failed with ${REDACTED}`);
    expect(out.err.stack).not.toContain(KEY);
    expect(
      (out.err as unknown as { config: { headers: { Authorization: string } } }).config.headers.Authorization,
    ).toBe(REDACTED);
    expect(out.map.get('password')).toBe(REDACTED);
    expect(out.n).toBe(5);
    expect(out.when).toEqual(new Date(0));
    // the original is untouched
    expect(value.list[0]!.s).toBe(`x ${KEY}`);
    expect(err.message).toContain(KEY);
  });

  it('keeps cycles', () => {
    const a: Record<string, unknown> = { k: KEY };
    a.self = a;
    const out = redactValue(a, [KEY]);
    expect(out.k).toBe(REDACTED);
    expect(out.self).toBe(out);
  });

  it.each([
    [KEY, REDACTED],
    [42, 42],
    [null, null],
    [undefined, undefined],
  ])('scalar %j', (input, expected) => {
    expect(redactValue(input, [KEY])).toBe(expected);
  });
});
