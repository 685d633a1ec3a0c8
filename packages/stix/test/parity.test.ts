import { describe, expect, it } from 'vitest';
import { sekoiaFormat } from '../src/canonical.ts';
import { extractObservables } from '../src/index.ts';
import { vector } from './vectors.ts';

/**
 * Parity with the Python connector, construct by construct (docs/stix-patterns.md).
 * Each row states what the Python connector sends (from the vector's `python_connector` field,
 * checked against the fixture; rows without a vector follow the rules written in section 2) next to what
 * we export, and marks every intentional difference.
 */

type Python =
  | { outcome: 'ioc_import'; format: string; indicators: string }
  | { outcome: 'nothing' }
  | { outcome: 'exception' };

interface Row {
  construct: string;
  /** A vector id, or an authored pattern (then `python` is derived from the section 2 rules). */
  source: { vector: string } | { pattern: string };
  python: Python;
  /** Our strict export (values). `invalid` when we reject the pattern. */
  ours: string[] | 'invalid';
  /** Our lenient export when it differs from strict. */
  lenient?: string[];
  /** null: same values as Python (order aside); otherwise why we differ. */
  difference: string | null;
}

const H256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f';
const py = (format: string, ...values: string[]): Python => ({
  outcome: 'ioc_import',
  format,
  indicators: values.join('\n'),
});

const ROWS: Row[] = [
  // --- what works in both
  {
    construct: 'single hash comparison',
    source: { vector: 'stixpat-001' },
    python: py('file.hashes', H256),
    ours: [H256],
    difference: null,
  },
  {
    construct: 'WITHIN qualifier',
    source: { vector: 'stixpat-213' },
    python: py('ipv4-addr.value', '198.51.100.9'),
    ours: ['198.51.100.9'],
    difference: null,
  },
  {
    construct: 'URL with & and #',
    source: { vector: 'stixpat-234' },
    python: py('url.value', 'http://evil.example/?a=1&b=2#frag'),
    ours: ['http://evil.example/?a=1&b=2#frag'],
    difference: null,
  },
  {
    construct: 'hash key without hyphen (SHA256)',
    source: { vector: 'stixpat-195' },
    python: py('file.hashes', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
    ours: ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    difference: null,
  },
  // --- order and typing
  {
    construct: 'OR inside an observation: comparisons reversed',
    source: { vector: 'stixpat-014' },
    python: py('url.value', 'http://example.com/bar', 'http://example.com/foo'),
    ours: ['http://example.com/foo', 'http://example.com/bar'],
    difference: 'source order; each value typed on its own',
  },
  {
    construct: 'comment inside an observation',
    source: { vector: 'stixpat-223' },
    python: py('domain-name.value', 'bad.example', 'evil.example'),
    ours: ['evil.example', 'bad.example'],
    difference: 'source order',
  },
  {
    construct: 'mixed types: first-entry format rule',
    source: { vector: 'stixpat-188' },
    python: py('domain-name.value', 'evil.com', '1.2.3.4'),
    ours: ['1.2.3.4', 'evil.com'],
    difference: '1.2.3.4 is typed as an IPv4 address, never as a domain',
  },
  {
    construct: 'mixed types: a hash first labels a domain as a hash',
    source: {
      pattern: "[domain-name:value = 'evil.example' OR file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']",
    },
    python: py('file.hashes', 'D41D8CD98F00B204E9800998ECF8427E', 'evil.example'),
    ours: ['evil.example', 'd41d8cd98f00b204e9800998ecf8427e'],
    difference: 'each value keeps its own type; the hash is lower-cased',
  },
  {
    construct: 'substring typing: email-message:subject',
    source: { vector: 'stixpat-233' },
    python: py('email-addr.value', 'Invoice overdue'),
    ours: [],
    difference: 'not an IOC path',
  },
  {
    construct: 'substring typing: email-message:to_refs[-1].value',
    source: { vector: 'stixpat-216' },
    python: py('email-addr.value', 'victim@example.com'),
    ours: [],
    difference: 'only email-addr:value is exported (a reference path is not the object itself)',
  },
  {
    construct: 'substring typing: domain-name:resolves_to_refs under AND',
    source: { vector: 'stixpat-013' },
    python: py('domain-name.value', '198.51.100.1/32', 'www.5z8.info'),
    ours: [],
    lenient: ['www.5z8.info'],
    difference: 'AND: nothing alone implies a match; the IP never goes out as a domain',
  },
  {
    construct: 'substring typing: x509-certificate hashes',
    source: { vector: 'stixpat-197' },
    python: py('file.hashes', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'),
    ours: [],
    difference: 'a certificate hash is not a file hash',
  },
  {
    construct: 'file:hashes[*] (no algorithm)',
    source: { vector: 'stixpat-087' },
    python: py('file.hashes', '8665c8d477534008b3058b72e2dae8ae'),
    ours: [],
    difference: 'algorithm unknown: reported, not exported',
  },
  {
    construct: 'non-IOC paths: user-account',
    source: { vector: 'stixpat-006' },
    python: py('one_per_line', 'Peter', '1007', 'unix', 'Paul', '1008', 'unix', 'Mary', '1009', 'unix'),
    ours: [],
    difference: "'unix', '1007' are not IOCs",
  },
  {
    construct: 'non-IOC paths: file name',
    source: { vector: 'stixpat-068' },
    python: py('one_per_line', 'my_file_name'),
    ours: [],
    difference: 'not an IOC path',
  },
  {
    construct: 'non-IOC paths: registry key',
    source: { vector: 'stixpat-162' },
    python: py('one_per_line', 'AAA'),
    ours: [],
    difference: 'not an IOC path',
  },
  {
    construct: 'non-IOC paths: network-traffic',
    source: { vector: 'stixpat-217' },
    python: py('one_per_line', '198.51.100.5'),
    ours: [],
    difference: 'not an IOC path (and an AND)',
  },
  // --- operators
  {
    construct: '<> (not equal)',
    source: { vector: 'stixpat-211' },
    python: py('ipv4-addr.value', '10.0.0.1'),
    ours: [],
    difference: 'a value that must NOT match is never pushed as malicious',
  },
  {
    construct: 'NOT IN',
    source: { vector: 'stixpat-199' },
    python: { outcome: 'nothing' },
    ours: [],
    difference: null,
  },
  {
    construct: 'NOT ISSUPERSET loses its NOT',
    source: { vector: 'stixpat-207' },
    python: py('ipv6-addr.value', '2001:db8::/32'),
    ours: [],
    difference: 'ISSUPERSET names a set relation, not a value',
  },
  {
    construct: 'LIKE wildcard',
    source: { vector: 'stixpat-201' },
    python: py('domain-name.value', '%.evil.example'),
    ours: [],
    difference: 'a wildcard is not a literal IOC',
  },
  {
    construct: 'MATCHES regex',
    source: { vector: 'stixpat-202' },
    python: py('url.value', '^https?://evil\\.example/.*$'),
    ours: [],
    difference: 'a regex is not a literal IOC',
  },
  {
    construct: 'IN list of strings',
    source: { vector: 'stixpat-198' },
    python: { outcome: 'nothing' },
    ours: ['evil.example', 'bad.example', 'worse.example'],
    difference: 'IN sets are exported (Python drops lists)',
  },
  {
    construct: 'EXISTS',
    source: { vector: 'stixpat-210' },
    python: { outcome: 'exception' },
    ours: [],
    difference: 'parsed (2.1 grammar), nothing to export',
  },
  {
    construct: 'boolean comparison',
    source: { vector: 'stixpat-167' },
    python: { outcome: 'exception' },
    ours: [],
    difference: 'parsed, nothing to export',
  },
  // --- structure
  {
    construct: 'hash-anchored AND in one file observation',
    source: { vector: 'stixpat-003' },
    python: py('one_per_line', 'application/x-pdf', H256),
    ours: [H256],
    difference: 'the hash alone; the MIME type is not an IOC',
  },
  {
    construct: 'AND between observations',
    source: { vector: 'stixpat-190' },
    python: py('ipv4-addr.value', '198.51.100.7', 'http://evil.example/payload.bin'),
    ours: [],
    lenient: ['198.51.100.7', 'http://evil.example/payload.bin'],
    difference: 'strict: neither value alone implies a match (lenient exports both, each with its type)',
  },
  {
    construct: 'AND between hash observations',
    source: { vector: 'stixpat-004' },
    python: py(
      'file.hashes',
      'cead3f77f6cda6ec00f57d76c9a6879f',
      'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c',
      H256,
    ),
    ours: [],
    lenient: [
      'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c',
      'cead3f77f6cda6ec00f57d76c9a6879f',
      H256,
    ],
    difference: 'strict: two files must be seen (lenient exports the hashes)',
  },
  {
    construct: 'FOLLOWEDBY',
    source: { vector: 'stixpat-191' },
    python: py('domain-name.value', 'evil.example', 'https://evil.example/stage2'),
    ours: [],
    lenient: ['evil.example', 'https://evil.example/stage2'],
    difference: 'strict: a sequence, not single values; the URL is never typed as a domain',
  },
  {
    construct: 'FOLLOWEDBY with a hash first',
    source: { vector: 'stixpat-106' },
    python: py('file.hashes', '79054025255fb1a26e4bc422aef54eb4', 'HKEY_LOCAL_MACHINE\\foo\\bar'),
    ours: [],
    lenient: ['79054025255fb1a26e4bc422aef54eb4'],
    difference: 'a registry key is never sent as a hash',
  },
  {
    construct: 'OR of an observation and an AND',
    source: { vector: 'stixpat-236' },
    python: py('domain-name.value', 'evil.example', '198.51.100.1', 'http://x.example/'),
    ours: ['evil.example'],
    lenient: ['evil.example', '198.51.100.1', 'http://x.example/'],
    difference: 'only the OR branch that matches alone',
  },
  {
    construct: 'AND with != inside an observation',
    source: { vector: 'stixpat-237' },
    python: py('domain-name.value', 'c.example', 'b.example', 'a.example'),
    ours: [],
    lenient: ['a.example', 'b.example'],
    difference: 'c.example (must NOT match) is never sent, even in lenient mode',
  },
  {
    construct: 'REPEATS',
    source: { vector: 'stixpat-012' },
    python: py('one_per_line', 'example.com', 'domain-name'),
    ours: [],
    difference: 'not an IOC path; REPEATS 5 would make it over-approximate anyway',
  },
  {
    construct: 'START/STOP',
    source: { vector: 'stixpat-175' },
    python: py('ipv4-addr.value', '192.168.0.100'),
    ours: [],
    lenient: ['192.168.0.100'],
    difference: 'strict: only inside a time window',
  },
  {
    construct: 'START/STOP in STIX 2.0',
    source: { vector: 'stixpat-145' },
    python: py('ipv4-addr.value', '1.2.3.4'),
    ours: [],
    lenient: ['1.2.3.4'],
    difference: 'strict: only inside a time window',
  },
  {
    construct: 'two START/STOP on one observation',
    source: { vector: 'stixpat-040' },
    python: { outcome: 'exception' },
    ours: [],
    difference: 'parsed (semantic check left to another layer), nothing to export',
  },
  // --- values
  {
    construct: 'escaped quote inside a URL',
    source: { pattern: "[url:value = 'http://evil.example/it\\'s']" },
    python: py('url.value', "http://evil.example/it\\'s"),
    ours: ["http://evil.example/it's"],
    difference: 'decoded: no stray backslash',
  },
  {
    construct: 'value ending in an escaped quote',
    source: { vector: 'stixpat-136' },
    python: py('one_per_line', 'weird_name\\'),
    ours: [],
    difference: "decoded as weird_name' (file:name is not exported)",
  },
  {
    construct: 'escaped quotes around a value',
    source: { vector: 'stixpat-186' },
    python: py('one_per_line', "\\'quoted\\"),
    ours: [],
    difference: "decoded as 'quoted' (file:name is not exported)",
  },
  {
    construct: 'binary literal',
    source: { vector: 'stixpat-080' },
    python: py('one_per_line', "b'dGhpcyBpcyBhIHRlc3Q='"),
    ours: [],
    difference: 'binary is not an IOC value',
  },
  {
    construct: 'hex literal',
    source: { vector: 'stixpat-124' },
    python: py('one_per_line', "h'ffd8'"),
    ours: [],
    difference: 'hex is not an IOC value',
  },
  {
    construct: 'impossible date (Feb 30)',
    source: { vector: 'stixpat-059' },
    python: { outcome: 'exception' },
    ours: [],
    difference: 'parsed as the grammar says; nothing to export',
  },
  {
    construct: 'upper-case domain',
    source: { pattern: "[domain-name:value = 'EVIL.Example.']" },
    python: py('domain-name.value', 'EVIL.Example.'),
    ours: ['evil.example'],
    difference: 'canonical: lower case, no trailing dot',
  },
  {
    construct: '/32 CIDR',
    source: { vector: 'stixpat-157' },
    python: py('ipv4-addr.value', '1.2.3.4/32'),
    ours: ['1.2.3.4'],
    difference: 'canonical: the host',
  },
  {
    construct: 'CIDR with host bits set',
    source: { vector: 'stixpat-158' },
    python: py('ipv4-addr.value', '1.2.255.4/23'),
    ours: [],
    difference: 'rejected (network is 1.2.254.0/23), reported in skipped',
  },
  {
    construct: 'not an IP under ipv4-addr:value',
    source: { vector: 'stixpat-159' },
    python: py('ipv4-addr.value', 'foo'),
    ours: [],
    difference: 'rejected by per-type validation, reported in skipped',
  },
  {
    construct: 'uncompressed IPv6',
    source: { vector: 'stixpat-161' },
    python: py('ipv6-addr.value', '0001:0000:0000:0000:0000:0000:0000:0001'),
    ours: ['1::1'],
    difference: 'canonical: RFC 5952',
  },
  // --- invalid patterns
  {
    construct: 'invalid: WITHIN without a number',
    source: { vector: 'stixpat-029' },
    python: py('one_per_line', 'hkey_local_machine\\foo\\bar'),
    ours: 'invalid',
    difference: 'fails closed: no partial result',
  },
  {
    construct: 'invalid: missing closing bracket',
    source: { vector: 'stixpat-227' },
    python: py('domain-name.value', 'evil.example'),
    ours: 'invalid',
    difference: 'fails closed: no partial result',
  },
  {
    construct: 'invalid: stray quote cuts the string',
    source: { vector: 'stixpat-184' },
    python: py('url.value', 'http://a.example/x'),
    ours: 'invalid',
    difference: 'fails closed: no truncated URL',
  },
  {
    construct: 'invalid: missing value',
    source: { vector: 'stixpat-032' },
    python: py('one_per_line', '<missing <INVALID>>'),
    ours: 'invalid',
    difference: 'fails closed: no invented value',
  },
  {
    construct: 'invalid: lower-case qualifier',
    source: { vector: 'stixpat-036' },
    python: { outcome: 'nothing' },
    ours: 'invalid',
    difference: 'reported as a syntax error instead of silently nothing',
  },
];

describe('parity with the Python connector', () => {
  it.each(ROWS.map((r) => [r.construct, r] as const))('%s', (_name, row) => {
    let pattern: string;
    let stixVersion: '2.0' | '2.1' = '2.1';
    if ('vector' in row.source) {
      const v = vector(row.source.vector);
      pattern = v.pattern;
      stixVersion = v.stix_version;
      // The stated Python behaviour is the fixture's.
      const { outcome, format, indicators } = v.python_connector;
      expect(row.python).toEqual(outcome === 'ioc_import' ? { outcome, format, indicators } : { outcome });
    } else {
      pattern = row.source.pattern;
    }
    const strict = extractObservables(pattern, { stixVersion });
    const lenient = extractObservables(pattern, { stixVersion, mode: 'lenient' });
    if (row.ours === 'invalid') {
      expect(strict.valid).toBe(false);
      expect(lenient.observables).toEqual([]);
    } else {
      expect(strict.valid).toBe(true);
      expect(strict.observables.map((o) => o.value)).toEqual(row.ours);
      expect(lenient.observables.map((o) => o.value)).toEqual(row.lenient ?? row.ours);
    }
    // A row is marked as a difference exactly when Python sends other values, in another order or under
    // another format (Python uses one format for the whole import), or crashes.
    let same: boolean;
    if (row.ours === 'invalid' || row.python.outcome === 'exception') same = false;
    else if (row.python.outcome === 'nothing') same = strict.observables.length === 0;
    else {
      const { format, indicators } = row.python;
      same =
        strict.observables.map((o) => o.value).join('\n') === indicators &&
        strict.observables.every((o) => sekoiaFormat(o.type) === format);
    }
    expect(row.difference === null).toBe(same);
  });
});
