import { describe, expect, it } from 'vitest';
import { extractObservables, type ObservableType } from '../src/index.ts';

const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SHA3 = 'a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a';

/** [pattern, strict export, lenient export (defaults to strict)] as `type=value` strings. */
const CASES: [string, string[], string[]?][] = [
  // Exact paths and operators.
  ["[ipv4-addr:value = '198.51.100.1']", ['ipv4-addr=198.51.100.1']],
  ["[ipv4-addr:value == '198.51.100.1']", ['ipv4-addr=198.51.100.1']],
  ["[ipv4-addr:'value' = '198.51.100.1']", ['ipv4-addr=198.51.100.1']],
  ["[ipv6-addr:value = '2001:DB8::0:1']", ['ipv6-addr=2001:db8::1']],
  ["[email-addr:value = 'JDoe@Example.com']", ['email-addr=jdoe@example.com']],
  ["[url:value = 'http://evil.example/a']", ['url=http://evil.example/a']],
  ["[ipv4-addr:value[0] = '198.51.100.1']", []],
  ["[ipv4-addr:value.x = '198.51.100.1']", []],
  ["[ipv4-addr:resolves_to_refs[*].value = '198.51.100.1']", []],
  ["[IPV4-ADDR:value = '198.51.100.1']", []],
  ["[domain-name:value != 'evil.example']", []],
  ["[domain-name:value NOT = 'evil.example']", []],
  ["[domain-name:value > 'evil.example']", []],
  ["[domain-name:value LIKE 'evil.example']", []],
  ["[domain-name:value MATCHES 'evil.example']", []],
  ["[ipv4-addr:value ISSUBSET '198.51.100.0/24']", []],
  ['[ipv4-addr:value = 1]', []],
  ["[ipv4-addr:value = h'c6336401']", []],
  ['[EXISTS ipv4-addr:value]', []],
  [
    "[constructor:value = '198.51.100.1' OR __proto__:value = 'a.example' OR toString:value = 'b.example']",
    [],
  ],
  ["[file:hashes.constructor = 'x' OR file:hashes.__proto__ = 'y']", []],
  // IN sets.
  [
    "[domain-name:value IN ('a.example', 'B.example', 'a.example')]",
    ['domain-name=a.example', 'domain-name=b.example'],
  ],
  ["[domain-name:value IN ('a.example', 1)]", []],
  ["[domain-name:value IN ('a.example', true)]", []],
  ['[domain-name:value IN ()]', []],
  ["[domain-name:value NOT IN ('a.example')]", []],
  ["[domain-name:value IN ('a.example', '%bad')]", ['domain-name=a.example']],
  // Hashes: key compared case- and hyphen-insensitively; four algorithms exported.
  [`[file:hashes.MD5 = '${MD5.toUpperCase()}']`, [`file:hashes.MD5=${MD5}`]],
  [`[file:hashes.'md5' = '${MD5}']`, [`file:hashes.MD5=${MD5}`]],
  [`[file:hashes.'SHA-1' = '${SHA1}']`, [`file:hashes.SHA-1=${SHA1}`]],
  [`[file:hashes.SHA1 = '${SHA1}']`, [`file:hashes.SHA-1=${SHA1}`]],
  [`[file:hashes.'sha-256' = '${SHA256}']`, [`file:hashes.SHA-256=${SHA256}`]],
  [`[file:'hashes'.'SHA-256' = '${SHA256}']`, [`file:hashes.SHA-256=${SHA256}`]],
  [`[file:hashes.'SHA3-256' = '${SHA3}']`, []],
  ["[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']", []],
  [`[file:hashes.MD5 = '${SHA1}']`, []],
  [`[file:hashes.'SHA-256' IN ('${SHA256}', '${MD5}')]`, [`file:hashes.SHA-256=${SHA256}`]],
  [`[x509-certificate:hashes.'SHA-1' = '${SHA1}']`, []],
  [`[artifact:hashes.MD5 = '${MD5}']`, []],
  // Hash-anchored AND inside one file observation.
  [`[file:hashes.MD5 = '${MD5}' AND file:name = 'a.exe']`, [`file:hashes.MD5=${MD5}`]],
  [
    `[file:hashes.MD5 = '${MD5}' AND file:hashes.'SHA-1' = '${SHA1}']`,
    [`file:hashes.MD5=${MD5}`, `file:hashes.SHA-1=${SHA1}`],
  ],
  [`[(file:hashes.MD5 = '${MD5}' OR file:size = 3) AND file:name = 'a']`, [`file:hashes.MD5=${MD5}`]],
  [
    `[file:hashes.MD5 = '${MD5}' AND ipv4-addr:value = '198.51.100.1']`,
    [],
    [`file:hashes.MD5=${MD5}`, 'ipv4-addr=198.51.100.1'],
  ],
  [`[file:hashes.MD5 = '${MD5}'] AND [file:name = 'a']`, [], [`file:hashes.MD5=${MD5}`]],
  // Structure.
  [
    "[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']",
    ['domain-name=a.example', 'domain-name=b.example'],
  ],
  ["[domain-name:value = 'a.example'] WITHIN 5 SECONDS", ['domain-name=a.example']],
  ["[domain-name:value = 'a.example'] REPEATS 1 TIMES", ['domain-name=a.example']],
  ["[domain-name:value = 'a.example'] REPEATS 2 TIMES", [], ['domain-name=a.example']],
  ["[domain-name:value = 'a.example'] REPEATS 0 TIMES", [], ['domain-name=a.example']],
  [
    "[domain-name:value = 'a.example'] START t'2024-01-01T00:00:00Z' STOP t'2024-02-01T00:00:00Z'",
    [],
    ['domain-name=a.example'],
  ],
  [
    "[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']",
    [],
    ['domain-name=a.example', 'domain-name=b.example'],
  ],
  [
    "[domain-name:value = 'a.example' AND domain-name:value = 'b.example']",
    [],
    ['domain-name=a.example', 'domain-name=b.example'],
  ],
  [
    "[domain-name:value = 'a.example'] OR ([domain-name:value = 'a.example'] AND [domain-name:value = 'b.example'])",
    ['domain-name=a.example'],
    ['domain-name=a.example', 'domain-name=b.example'],
  ],
  ["[domain-name:value = 'a.example' AND domain-name:value != 'b.example']", [], ['domain-name=a.example']],
  [
    "[domain-name:value = 'a.example' AND domain-name:value LIKE '%.b.example']",
    [],
    ['domain-name=a.example'],
  ],
  // Values: canonicalised, de-duplicated, invalid ones skipped.
  ["[domain-name:value = 'A.example' OR domain-name:value = 'a.example.']", ['domain-name=a.example']],
  ["[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '198.51.100.1']", ['ipv4-addr=198.51.100.1']],
  ["[ipv4-addr:value = 'evil.example']", []],
  ["[url:value = 'evil.example/x']", []],
  ["[url:value = ' http://evil.example/it\\'s ']", ["url=http://evil.example/it's"]],
];

const fmt = (r: ReturnType<typeof extractObservables>) => r.observables.map((o) => `${o.type}=${o.value}`);

describe('extractObservables', () => {
  it.each(CASES)('%s', (pattern, strict, lenient) => {
    const s = extractObservables(pattern);
    const l = extractObservables(pattern, { mode: 'lenient' });
    expect(s.valid).toBe(true);
    expect(fmt(s)).toEqual(strict);
    expect(fmt(l)).toEqual(lenient ?? strict);
  });

  it('reports why each comparison is not exported', () => {
    const r = extractObservables(
      `[file:hashes.'SHA3-256' = '${SHA3}' OR file:hashes.foo = 'x' OR domain-name:value != 'a.example' OR ` +
        `domain-name:value LIKE '%x' OR ipv4-addr:value = 'nope' OR file:name = 'a'] ` +
        `OR ([url:value = 'http://a.example/'] AND [url:value = 'http://b.example/'])`,
    );
    expect(r.observables).toEqual([]);
    expect(r.skipped.map((s) => [s.path, s.operator, s.value, s.reason.split(':')[0]])).toEqual([
      [
        "file:hashes.'SHA3-256'",
        '=',
        SHA3,
        'hash algorithm SHA3-256 is not exported (Sekoia documents MD5, SHA-1, SHA-256, SHA-512)',
      ],
      ['file:hashes.foo', '=', 'x', 'unknown hash algorithm foo'],
      ['domain-name:value', '!=', 'a.example', 'negated comparison'],
      ['domain-name:value', 'LIKE', '%x', 'operator LIKE does not name IOC values'],
      ['ipv4-addr:value', '=', 'nope', 'invalid ipv4-addr value'],
      ['file:name', '=', 'a', 'not an IOC property'],
      ['url:value', '=', 'http://a.example/', 'over-approximate, exported only in lenient mode'],
      ['url:value', '=', 'http://b.example/', 'over-approximate, exported only in lenient mode'],
    ]);
  });

  it('does not report an over-approximate value that another branch exports', () => {
    const r = extractObservables(
      "[url:value = 'http://a.example/'] OR ([url:value = 'http://a.example/'] AND [url:value = 'http://b.example/'])",
    );
    expect(fmt(r)).toEqual(['url=http://a.example/']);
    expect(r.skipped.map((s) => s.value)).toEqual(['http://b.example/']);
  });

  it('fails closed on syntax errors, with position', () => {
    expect(extractObservables("[domain-name:value = 'a.example'] OR")).toEqual({
      valid: false,
      error: { message: "expected '[' or '(', found end of pattern", position: 36 },
      observables: [],
      skipped: [],
    });
  });

  it('honours the STIX version', () => {
    expect(extractObservables('[EXISTS a:b]', { stixVersion: '2.0' }).valid).toBe(false);
    expect(extractObservables('[EXISTS a:b]', { stixVersion: '2.1' }).valid).toBe(true);
  });

  it('treats an unknown mode as strict', () => {
    const p = "[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']";
    expect(extractObservables(p, { mode: 'loose' as 'lenient' }).observables).toEqual([]);
  });

  it('never throws, whatever it is given', () => {
    for (const bad of [undefined, null, 42, {}, [], "[a:b = '\u0000']"]) {
      expect(() => extractObservables(bad as unknown as string)).not.toThrow();
    }
    expect(extractObservables(null as unknown as string).valid).toBe(false);
  });

  it('exports every observable type', () => {
    const types = new Set<ObservableType>();
    for (const [p] of CASES) for (const o of extractObservables(p).observables) types.add(o.type);
    expect(types.size).toBe(8); // all but SHA-512 appear above
  });
});
