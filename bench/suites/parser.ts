// STIX pattern parser throughput: runParserBench of packages/stix/bench/parser.bench.ts (one core, in this
// process). Imported by path: the bench is not a dependency of @octi-sekoia/stix.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { runParserBench } from '../../packages/stix/bench/parser.bench.ts';
import { getAppRoot } from '../lib/children.ts';
import { fmt, type SuiteContext, type SuiteResult } from '../lib/result.ts';

export async function runParser(_ctx: SuiteContext): Promise<SuiteResult> {
  // From the code under test (the working tree, or the `--code` snapshot).
  const mod = (await import(
    pathToFileURL(join(getAppRoot(), 'packages', 'stix', 'bench', 'parser.bench.ts')).href
  )) as { runParserBench: typeof runParserBench };
  const r = mod.runParserBench({ durationMs: 1000, repeat: 3 });
  const worst = r.large.reduce((a, b) => (b.extractMs > a.extractMs ? b : a));
  return {
    suite: 'parser',
    title: 'STIX pattern parser',
    conditions: {
      typicalPatterns: r.typical.patterns,
      durationMsPerFigure: 1000,
      largePatternBytes: r.large[0]?.bytes,
      node: r.node,
    },
    figures: r as unknown as Record<string, unknown>,
    rows: [
      { figure: 'parsePattern, typical patterns', value: `${fmt(r.typical.parsePerSecond, 0)} patterns/s` },
      {
        figure: 'extractObservables, typical patterns',
        value: `${fmt(r.typical.extractPerSecond, 0)} patterns/s`,
      },
      {
        figure: 'slowest 1 MiB pattern (extract)',
        value: `${worst.name}: ${fmt(worst.extractMs, 1)} ms`,
      },
    ],
    notes: [],
  };
}
