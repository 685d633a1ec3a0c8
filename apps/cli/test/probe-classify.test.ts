import { describe, expect, it } from 'vitest';
import {
  allProbeValues,
  bodyKind,
  classifyCreateName,
  classifyForbiddenBody,
  classifyHasMore,
  classifyKillChain,
  classifyPutNull,
  classifyPutOmitted,
  classifyQuotaFull,
  classifyReimportRevoked,
  classifyRepeatRevoke,
  classifyTermSearch,
  isDocumentationValue,
  probeValues,
} from '../src/probe-classify.ts';

const v = probeValues('0a1b2c3d');

describe('probeValues', () => {
  it('every value is of a documentation range and unique to the run', () => {
    const values = allProbeValues(v);
    expect(new Set(values).size).toBe(values.length);
    for (const x of values) expect(isDocumentationValue(x), x).toBe(true);
    const other = allProbeValues(probeValues('ffffffff'));
    for (const x of values) expect(other).not.toContain(x);
  });
  it('refuses a nonce that is not 8 hex digits', () => {
    expect(() => probeValues('xyz')).toThrow(TypeError);
  });
});

describe('isDocumentationValue', () => {
  it.each([
    ['192.0.2.10', true],
    ['198.51.100.7', true],
    ['203.0.113.255', true],
    ['2001:db8::1', true],
    ['2001:DB8:0:0::1', true],
    ['a.example.com', true],
    ['example.com', true],
    ['d41d8cd98f00b204e9800998ecf8427e', true],
    ['8.8.8.8', false],
    ['2001:4860::8888', false],
    ['example.com.evil.org', false],
    ['notexample.com', false],
    ['https://a.example.com/x', false],
  ])('%s → %s', (value, ok) => {
    expect(isDocumentationValue(value)).toBe(ok);
  });
});

describe('classifyCreateName', () => {
  const md5 = v.md5;
  const sha = v.sha256.toLowerCase();
  const ip = '2001:db8:a1b:2c3d::1';
  it.each([
    ['as-sent', { md5, sha256: v.sha256, ipv6: v.ipv6 }],
    ['canonical', { md5, sha256: sha, ipv6: ip }],
    ['upper-hashes', { md5: md5.toUpperCase(), sha256: sha.toUpperCase(), ipv6: ip }],
    ['ipv6-expanded', { md5, sha256: sha, ipv6: '2001:0db8:0a1b:2c3d:0000:0000:0000:0001' }],
    ['file-hashes', { md5: `MD5:${md5}`, sha256: `SHA-256:${sha}`, ipv6: ip }],
    ['unknown', { md5: 'file', sha256: 'file', ipv6: ip }],
  ] as const)('%s', (variant, names) => {
    expect(classifyCreateName(v, names)).toBe(variant);
  });
});

describe('row classifiers', () => {
  const before = { description: 'd', valid_until: '2030-01-01T00:00:00.000Z' };
  it.each([
    [200, { description: null, valid_until: null }, 'clear'],
    [200, { description: undefined, valid_until: undefined }, 'clear'],
    [400, undefined, 'reject'],
    [200, { description: 'd', valid_until: '2030-01-01T00:00:00Z' }, 'keep'],
    [200, { description: null, valid_until: '2030-01-01T00:00:00Z' }, 'unknown'],
    [500, undefined, 'unknown'],
  ] as const)('putNull %s %j → %s', (status, after, variant) => {
    expect(classifyPutNull(status, after, before)).toBe(variant);
  });

  it.each([
    [200, { description: 'd', valid_until: null }, 'partial'],
    [200, { description: null, valid_until: null }, 'replace'],
    [200, undefined, 'unknown'],
    [400, { description: 'd', valid_until: null }, 'unknown'],
  ] as const)('putOmitted %s %j → %s', (status, after, variant) => {
    expect(classifyPutOmitted(status, after, 'd')).toBe(variant);
  });

  it.each([
    [{ items: [], total: 2, has_more: true }, 'present'],
    [{ items: [], total: 2 }, 'absent'],
    [{ items: [], total: 2, has_more: false }, 'unknown'],
    [undefined, 'unknown'],
  ])('hasMore %j → %s', (body, variant) => {
    expect(classifyHasMore(body)).toBe(variant);
  });

  it.each([
    [{ id: 'b', revoked: false }, 'new'],
    [{ id: 'a', revoked: false }, 'reactivate'],
    [{ id: 'a', revoked: true }, 'ignore'],
    [{ id: 'b', revoked: true }, 'unknown'],
    [undefined, 'unknown'],
  ] as const)('reimportRevoked %j → %s', (item, variant) => {
    expect(classifyReimportRevoked('a', item)).toBe(variant);
  });

  it.each([
    [200, '200'],
    [404, '404'],
    [400, '400'],
    [500, 'unknown'],
  ])('repeatRevoke %s → %s', (status, variant) => {
    expect(classifyRepeatRevoke(status)).toBe(variant);
  });

  it.each([
    ['application/json', '{"message":"Missing permission"}', 'json-message', 'json'],
    ['application/json', '{"message":"x","code":"E1"}', 'json-code', 'json'],
    ['text/plain', 'Missing permission', 'text', 'text'],
    ['text/html', '<html><body>Forbidden</body></html>', 'html', 'html'],
    ['', '<!DOCTYPE html><html></html>', 'html', 'html'],
    ['text/plain', '', 'empty', 'unknown'],
  ])('403 %s %s → %s', (type, text, _kind, variant) => {
    expect(classifyForbiddenBody(403, type, text)).toBe(variant);
  });

  it('a write that was not refused says nothing about 403 bodies', () => {
    expect(classifyForbiddenBody(200, 'application/json', '{}')).toBe('unknown');
  });

  it.each([
    ['application/json', '{"message":"x","code":"INTHREAT4013"}', 'json-code'],
    ['application/json', '{"message":"x"}', 'json-message'],
    ['text/plain', 'limit reached', 'text'],
    ['text/html', '<html></html>', 'html'],
    ['application/json', '', 'empty'],
    ['application/json', 'not json', 'text'],
  ])('bodyKind %s %j → %s', (type, text, kind) => {
    expect(bodyKind(type, text)).toBe(kind);
  });

  it.each([
    [400, 'application/json', '{"message":"x","code":"C"}', '400 json-code'],
    [429, 'text/plain', 'full', '429 text'],
    [200, 'application/json', '{}', 'unknown'],
  ])('quotaFull %s → %s', (status, type, text, variant) => {
    expect(classifyQuotaFull(status, type, text)).toBe(variant);
  });

  it.each([
    [200, undefined, 'accept-all'],
    [400, 200, 'mitre-lockheed'],
    [400, 400, 'unknown'],
    [500, undefined, 'unknown'],
  ])('killChain %s then %s → %s', (custom, known, variant) => {
    expect(classifyKillChain(custom, known)).toBe(variant);
  });

  it.each([
    [true, false, 'substring'],
    [true, true, 'case-insensitive'],
    [false, true, 'tokenised'],
    [false, false, 'unknown'],
  ])('term: substring %s, upper-case value %s → %s', (sub, upper, variant) => {
    expect(classifyTermSearch(sub, upper)).toBe(variant);
  });
});
