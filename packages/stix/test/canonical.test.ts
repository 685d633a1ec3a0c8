import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sekoiaFormat } from '../src/canonical.ts';
import {
  canonicalize,
  canonicalValue,
  detectObservableType,
  OBSERVABLE_TYPES,
  type ObservableType,
} from '../src/index.ts';

const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SHA512 =
  'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';

/** [type, raw, canonical value or undefined when rejected] */
const CASES: [ObservableType, string, string | undefined][] = [
  // IPv4: strict dotted quad, /32 is the host, other prefixes kept when the network address is exact.
  ['ipv4-addr', '198.51.100.1', '198.51.100.1'],
  ['ipv4-addr', ' 198.51.100.1\n', '198.51.100.1'],
  ['ipv4-addr', '0.0.0.0', '0.0.0.0'],
  ['ipv4-addr', '255.255.255.255', '255.255.255.255'],
  ['ipv4-addr', '1.2.3.4/32', '1.2.3.4'],
  ['ipv4-addr', '198.51.100.0/24', '198.51.100.0/24'],
  ['ipv4-addr', '10.0.0.0/8', '10.0.0.0/8'],
  ['ipv4-addr', '0.0.0.0/0', '0.0.0.0/0'],
  ['ipv4-addr', '1.2.255.4/23', undefined],
  ['ipv4-addr', '192.168.122.84/10', undefined],
  ['ipv4-addr', '1.2.3.4/33', undefined],
  ['ipv4-addr', '1.2.3.4/', undefined],
  ['ipv4-addr', '1.2.3.4/024', undefined],
  ['ipv4-addr', '1.2.3.4/24/1', undefined],
  ['ipv4-addr', '256.1.1.1', undefined],
  ['ipv4-addr', '01.2.3.4', undefined],
  ['ipv4-addr', '1.2.3', undefined],
  ['ipv4-addr', '1.2.3.4.5', undefined],
  ['ipv4-addr', '1..3.4', undefined],
  ['ipv4-addr', '0x7f.0.0.1', undefined],
  ['ipv4-addr', 'foo', undefined],
  ['ipv4-addr', '', undefined],
  ['ipv4-addr', '::1', undefined],
  // IPv6: RFC 5952.
  ['ipv6-addr', '2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
  ['ipv6-addr', '0001:0000:0000:0000:0000:0000:0000:0001', '1::1'],
  ['ipv6-addr', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
  ['ipv6-addr', '2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // longest run, not the first
  ['ipv6-addr', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed
  ['ipv6-addr', '::', '::'],
  ['ipv6-addr', '::1', '::1'],
  ['ipv6-addr', '1::', '1::'],
  ['ipv6-addr', '0:0:0:0:0:0:0:0', '::'],
  ['ipv6-addr', 'FE80::A:B', 'fe80::a:b'],
  ['ipv6-addr', '::ffff:192.0.2.1', '::ffff:192.0.2.1'],
  ['ipv6-addr', '::FFFF:c000:0201', '::ffff:192.0.2.1'],
  ['ipv6-addr', '0:0:0:0:0:ffff:192.0.2.1', '::ffff:192.0.2.1'],
  ['ipv6-addr', '::192.0.2.1', '::c000:201'], // IPv4-compatible (deprecated): hex
  ['ipv6-addr', '64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ['ipv6-addr', '2001:db8::1/128', '2001:db8::1'],
  ['ipv6-addr', '2001:db8::/32', '2001:db8::/32'],
  ['ipv6-addr', '2001:0db8:dead:beef:0000:0000:0000:0000/64', '2001:db8:dead:beef::/64'],
  ['ipv6-addr', '2001:db8::1/64', undefined],
  ['ipv6-addr', '2001:db8::/129', undefined],
  ['ipv6-addr', 'fe80::1%eth0', undefined],
  ['ipv6-addr', '1:2:3:4:5:6:7:8:9', undefined],
  ['ipv6-addr', '1:2:3:4:5:6:7', undefined],
  ['ipv6-addr', '1::2::3', undefined],
  ['ipv6-addr', ':::', undefined],
  ['ipv6-addr', '1:2:3:4:5:6:7::8', undefined],
  ['ipv6-addr', '12345::', undefined],
  ['ipv6-addr', '::ffff:1.2.3.256', undefined],
  ['ipv6-addr', '1.2.3.4::', undefined],
  ['ipv6-addr', ':1::', undefined],
  ['ipv6-addr', '1.2.3.4', undefined],
  // Domains: lower case, one trailing dot removed.
  ['domain-name', 'Evil.Example.', 'evil.example'],
  ['domain-name', 'www.5z8.info', 'www.5z8.info'],
  ['domain-name', '_dmarc.example.com', '_dmarc.example.com'],
  ['domain-name', 'xn--bcher-kva.example', 'xn--bcher-kva.example'],
  // IDNs: exported in their xn-- form (IDNA 2008 labels only).
  ['domain-name', 'BÜCHER.example', 'xn--bcher-kva.example'],
  ['domain-name', 'münchen.de', 'xn--mnchen-3ya.de'],
  ['domain-name', 'faß.de', 'xn--fa-hia.de'],
  ['domain-name', 'пример.рф', 'xn--e1afmkfd.xn--p1ai'],
  ['domain-name', 'מבחן.example', 'xn--5dbmtg.example'],
  ['domain-name', '\u202egoogle.com', undefined],
  ['domain-name', 'goo\u200bgle.com', undefined],
  ['domain-name', '😀.example', undefined],
  ['domain-name', 'xn--e28h.example', undefined],
  ['domain-name', 'xn--zz.example', undefined],
  ['domain-name', '\u0301abc.example', undefined],
  ['domain-name', 'abcמבחן.example', undefined],
  ['domain-name', 'évil-.example', undefined],
  ['url', 'http://Bücher.example/x', 'http://xn--bcher-kva.example/x'],
  ['url', 'http://😀.example/', undefined],
  ['email-addr', 'a@bücher.example', 'a@xn--bcher-kva.example'],
  ['domain-name', 'evil.example..', undefined],
  ['domain-name', 'localhost', undefined],
  ['domain-name', '.example', undefined],
  ['domain-name', 'a..example', undefined],
  ['domain-name', '%.evil.example', undefined],
  ['domain-name', '*.evil.example', undefined],
  ['domain-name', 'evil example.com', undefined],
  ['domain-name', '1.2.3.4', undefined],
  ['domain-name', 'evil.example/path', undefined],
  ['domain-name', `${'a'.repeat(64)}.example`, undefined],
  ['domain-name', `${'a.'.repeat(127)}com`, undefined],
  // URLs: trimmed, scheme and host lower-cased, the rest as is.
  ['url', 'HTTP://Evil.Example/Path?Q=A#F', 'http://evil.example/Path?Q=A#F'],
  ['url', '  https://evil.example  ', 'https://evil.example'],
  ['url', 'http://evil.example/?a=1&b=2#frag', 'http://evil.example/?a=1&b=2#frag'],
  ['url', "http://evil.example/it's", "http://evil.example/it's"],
  ['url', 'http://User:Pass@Evil.Example:8080/x', 'http://User:Pass@evil.example:8080/x'],
  ['url', 'http://[2001:DB8::1]:80/', 'http://[2001:db8::1]:80/'],
  ['url', 'ftp://198.51.100.1', 'ftp://198.51.100.1'],
  ['url', 'hxxp://evil.example/', 'hxxp://evil.example/'],
  ['url', 'evil.example/path', undefined],
  ['url', 'mailto:a@example.com', undefined],
  ['url', 'http:///path', undefined],
  ['url', 'http://', undefined],
  ['url', 'http://evil.example:80a/', undefined],
  ['url', 'http://evil example/', undefined],
  ['url', 'http://evil.example/\nx', undefined],
  ['url', '1http://evil.example/', undefined],
  // E-mail addresses: lower case.
  ['email-addr', 'JDoe@Example.COM', 'jdoe@example.com'],
  ['email-addr', 'first.last+tag@example.com.', 'first.last+tag@example.com'],
  ['email-addr', 'Invoice overdue', undefined],
  ['email-addr', '@example.com', undefined],
  ['email-addr', 'a@localhost', undefined],
  ['email-addr', 'a b@example.com', undefined],
  ['email-addr', 'a@b@example.com', undefined],
  ['email-addr', 'a:b@example.com', undefined],
  // Hashes: hex only, length per algorithm, lower case.
  ['file:hashes.MD5', MD5.toUpperCase(), MD5],
  ['file:hashes.SHA-1', SHA1, SHA1],
  ['file:hashes.SHA-256', SHA256, SHA256],
  ['file:hashes.SHA-512', SHA512, SHA512],
  ['file:hashes.MD5', SHA1, undefined],
  ['file:hashes.SHA-256', `${SHA256}0`, undefined],
  ['file:hashes.SHA-1', `${SHA1.slice(0, 39)}g`, undefined],
  ['file:hashes.MD5', '', undefined],
];

describe('canonicalize', () => {
  it.each(CASES)('%s %j → %j', (type, raw, expected) => {
    const r = canonicalize(type, raw);
    if (expected === undefined) {
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.reason).not.toBe('');
    } else {
      expect(r).toEqual({ ok: true, value: expected });
    }
  });

  it.each(CASES.filter((c) => c[2] !== undefined))(
    '%s %j: the canonical value is stable and detected as its type',
    (type, _raw, value) => {
      expect(canonicalize(type, value!)).toEqual({ ok: true, value });
      expect(detectObservableType(value!)).toBe(type);
      expect(canonicalValue(value!)).toBe(value);
    },
  );

  it('explains host bits in a CIDR with the network', () => {
    expect(canonicalize('ipv4-addr', '1.2.255.4/23')).toEqual({
      ok: false,
      reason: expect.stringContaining('1.2.254.0/23'),
    });
    expect(canonicalize('ipv6-addr', '2001:db8::1/64')).toEqual({
      ok: false,
      reason: expect.stringContaining('2001:db8::/64'),
    });
  });
});

describe('detectObservableType', () => {
  const cases: [string, ObservableType | undefined][] = [
    ['198.51.100.1', 'ipv4-addr'],
    ['198.51.100.0/24', 'ipv4-addr'],
    ['999.1.1.1', 'ipv4-addr'], // shape only: canonicalize rejects it
    ['2001:db8::1', 'ipv6-addr'],
    ['::ffff:1.2.3.4', 'ipv6-addr'],
    ['2001:db8::/32', 'ipv6-addr'],
    [MD5, 'file:hashes.MD5'],
    [SHA1.toUpperCase(), 'file:hashes.SHA-1'],
    [SHA256, 'file:hashes.SHA-256'],
    [SHA512, 'file:hashes.SHA-512'],
    ['d41d8cd98f00b204e9800998ecf8427', undefined], // 31 hex digits
    ['jdoe@example.com', 'email-addr'],
    ['http://user@evil.example/', 'url'],
    ['HTTPS://evil.example', 'url'],
    ['evil.example', 'domain-name'],
    ['EVIL.example.', 'domain-name'],
    ['evil', undefined],
    ['', undefined],
    ['   ', undefined],
    ['evil.example/path', undefined],
    ['mailto:x', undefined],
  ];
  it.each(cases)('%j → %s', (value, type) => {
    expect(detectObservableType(value)).toBe(type);
  });

  it('canonicalValue detects then canonicalises', () => {
    expect(canonicalValue(' Evil.Example. ')).toBe('evil.example');
    expect(canonicalValue('1.2.3.4/32')).toBe('1.2.3.4');
    expect(canonicalValue('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalValue(MD5.toUpperCase())).toBe(MD5);
    expect(canonicalValue('999.1.1.1')).toBeUndefined();
    expect(canonicalValue('not a value')).toBeUndefined();
  });
});

describe('sekoiaFormat', () => {
  const cases: [ObservableType, string][] = [
    ['ipv4-addr', 'ipv4-addr.value'],
    ['ipv6-addr', 'ipv6-addr.value'],
    ['domain-name', 'domain-name.value'],
    ['url', 'url.value'],
    ['email-addr', 'email-addr.value'],
    ['file:hashes.MD5', 'file.hashes'],
    ['file:hashes.SHA-1', 'file.hashes'],
    ['file:hashes.SHA-256', 'file.hashes'],
    ['file:hashes.SHA-512', 'file.hashes'],
  ];
  it.each(cases)('%s → %s', (type, format) => {
    expect(sekoiaFormat(type)).toBe(format);
  });
  it('covers every observable type', () => {
    expect(cases.map((c) => c[0])).toEqual([...OBSERVABLE_TYPES]);
  });
});

describe('canonical invariant (property)', () => {
  const hex = fc.constantFrom(...'0123456789abcdefABCDEF'.split(''));
  const octet = fc.integer({ min: 0, max: 255 });
  const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
  const group = fc.integer({ min: 0, max: 0xffff }).map((g) => g.toString(16));
  const ipv6 = fc
    .tuple(fc.array(fc.oneof(group, fc.constant('0')), { minLength: 8, maxLength: 8 }), fc.boolean())
    .map(([g, upper]) => (upper ? g.join(':').toUpperCase() : g.join(':')));
  const label = fc.stringMatching(/^[a-zA-Z0-9_-]{1,12}$/);
  const domain = fc
    .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-zA-Z]{2,6}$/))
    .map(([ls, tld]) => `${ls.join('.')}.${tld}`);
  const candidates = fc.oneof(
    fc.tuple(
      fc.constant<ObservableType>('ipv4-addr'),
      fc.oneof(
        ipv4,
        fc.tuple(ipv4, fc.integer({ min: 0, max: 33 })).map(([a, n]) => `${a}/${n}`),
      ),
    ),
    fc.tuple(
      fc.constant<ObservableType>('ipv6-addr'),
      fc.oneof(
        ipv6,
        fc.tuple(ipv6, fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`),
      ),
    ),
    fc.tuple(fc.constant<ObservableType>('domain-name'), domain),
    fc.tuple(
      fc.constant<ObservableType>('email-addr'),
      fc.tuple(label, domain).map(([l, d]) => `${l}@${d}`),
    ),
    fc.tuple(
      fc.constant<ObservableType>('url'),
      fc
        .tuple(fc.constantFrom('http', 'HTTPS', 'ftp'), domain, fc.string())
        .map(([s, d, rest]) => `${s}://${d}/${rest}`),
    ),
    fc.tuple(
      fc.constantFrom<ObservableType>(
        'file:hashes.MD5',
        'file:hashes.SHA-1',
        'file:hashes.SHA-256',
        'file:hashes.SHA-512',
      ),
      fc.array(hex, { minLength: 32, maxLength: 128 }).map((a) => a.join('')),
    ),
    fc.tuple(fc.constantFrom(...OBSERVABLE_TYPES), fc.string()),
  );

  it('accepted values are fixed points detected as their own type', () => {
    fc.assert(
      fc.property(candidates, ([type, raw]) => {
        const r = canonicalize(type, raw);
        if (!r.ok) return;
        expect(canonicalize(type, r.value)).toEqual(r);
        expect(detectObservableType(r.value)).toBe(type);
      }),
      { numRuns: 5000 },
    );
  });
});
