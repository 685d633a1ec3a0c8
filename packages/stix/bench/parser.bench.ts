/**
 * Parser benchmark (not a test): `pnpm --filter @octi-sekoia/stix bench`.
 * Throughput on typical indicator patterns (one core, parse only and parse + extract) and time for 1 MB
 * patterns of the shapes that hurt naive parsers. A suite runner can call `runParserBench()`.
 */
import { pathToFileURL } from 'node:url';
import { extractObservables, parsePattern } from '../src/index.ts';

export interface ParserBenchOptions {
  /** Time spent measuring each throughput figure (default 1000 ms). */
  durationMs?: number;
  /** Size of the large patterns (default 1 MiB). */
  largeBytes?: number;
  /** Runs per large pattern; the best time is reported (default 3). */
  repeat?: number;
  /** Print the figures (default false when called, true from the command line). */
  print?: boolean;
}

export interface ParserBenchResult {
  typical: { patterns: number; parsePerSecond: number; extractPerSecond: number };
  large: { name: string; bytes: number; parseMs: number; extractMs: number; observables: number }[];
  node: string;
}

/** What OpenCTI indicators usually carry. */
export const TYPICAL_PATTERNS: readonly string[] = [
  "[ipv4-addr:value = '198.51.100.23']",
  "[domain-name:value = 'login-microsoft-verify.example']",
  "[url:value = 'http://evil.example/gate.php?id=42&x=1']",
  "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
  "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
  "[email-addr:value = 'billing@evil.example']",
  "[ipv6-addr:value = '2001:db8::23']",
  "[ipv4-addr:value = '203.0.113.0/24']",
  "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
  "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' AND file:name = 'invoice.pdf.exe']",
  "[domain-name:value = 'a.evil.example'] OR [domain-name:value = 'b.evil.example'] OR [ipv4-addr:value = '198.51.100.7']",
  "[domain-name:value IN ('a.evil.example', 'b.evil.example', 'c.evil.example')]",
];

function throughput(fn: (p: string) => unknown, patterns: readonly string[], durationMs: number): number {
  // Warm up so the JIT has compiled the hot paths before timing.
  for (let i = 0; i < 20_000; i++) fn(patterns[i % patterns.length]!);
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    for (let i = 0; i < 1000; i++) fn(patterns[(n + i) % patterns.length]!);
    n += 1000;
    now = performance.now();
  }
  return Math.round((n * 1000) / (now - start));
}

function repeatTo(bytes: number, unit: (i: number) => string, sep: string): string {
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < bytes; i++) {
    const u = unit(i);
    parts.push(u);
    len += u.length + sep.length;
  }
  return parts.join(sep);
}

export function largePatterns(bytes: number): { name: string; pattern: string }[] {
  const depth = Math.floor((bytes - 12) / 2);
  return [
    {
      name: 'OR chain of observations',
      pattern: repeatTo(
        bytes,
        (i) => `[ipv4-addr:value = '10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}']`,
        ' OR ',
      ),
    },
    {
      name: 'OR chain inside one observation',
      pattern: `[${repeatTo(bytes, (i) => `domain-name:value = 'd${i}.evil.example'`, ' OR ')}]`,
    },
    {
      name: 'IN list',
      pattern: `[domain-name:value IN (${repeatTo(bytes, (i) => `'d${i}.evil.example'`, ', ')})]`,
    },
    {
      name: 'deep parentheses around an observation',
      pattern: `${'('.repeat(depth)}[a:b=1]${')'.repeat(depth)}`,
    },
    {
      name: 'right-nested AND inside an observation',
      pattern: `[${'a:b=1 AND ('.repeat(Math.floor(bytes / 13))}a:b=1${')'.repeat(Math.floor(bytes / 13))}]`,
    },
    {
      name: 'string literal',
      pattern: `[url:value = 'http://evil.example/${"a\\\\b\\'c".repeat(Math.floor(bytes / 7))}']`,
    },
  ];
}

/** Best of `repeat` runs, in ms (the machine is shared: the minimum is the least disturbed run). */
function timeMs(fn: () => unknown, repeat: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return Math.round(best * 10) / 10;
}

export function runParserBench(opts: ParserBenchOptions = {}): ParserBenchResult {
  const durationMs = opts.durationMs ?? 1000;
  const largeBytes = opts.largeBytes ?? 1 << 20;
  const repeat = opts.repeat ?? 3;
  const parsePerSecond = throughput((p) => parsePattern(p), TYPICAL_PATTERNS, durationMs);
  const extractPerSecond = throughput((p) => extractObservables(p), TYPICAL_PATTERNS, durationMs);
  const large = largePatterns(largeBytes).map(({ name, pattern }) => {
    const parseMs = timeMs(() => parsePattern(pattern), repeat);
    let observables = 0;
    const extractMs = timeMs(() => {
      observables = extractObservables(pattern).observables.length;
    }, repeat);
    return { name, bytes: pattern.length, parseMs, extractMs, observables };
  });
  const result: ParserBenchResult = {
    typical: { patterns: TYPICAL_PATTERNS.length, parsePerSecond, extractPerSecond },
    large,
    node: process.version,
  };
  if (opts.print) {
    console.log(
      `typical indicator patterns (${TYPICAL_PATTERNS.length} shapes, one core, ${process.version}):`,
    );
    console.log(`  parsePattern        ${parsePerSecond.toLocaleString('en')} patterns/s`);
    console.log(`  extractObservables  ${extractPerSecond.toLocaleString('en')} patterns/s`);
    console.log('large patterns:');
    for (const l of large) {
      console.log(
        `  ${l.name.padEnd(40)} ${(l.bytes / 1024).toFixed(0).padStart(5)} KiB  parse ${String(l.parseMs).padStart(7)} ms  extract ${String(l.extractMs).padStart(7)} ms  (${l.observables} values)`,
      );
    }
  }
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runParserBench({ print: true });
}
