// `pnpm bench`: the benchmark suites on the simulators and a real Redis (issue 10). Prints a markdown table with
// the aims next to the figures and writes every figure, the machine and the conditions to
// bench-results/<timestamp>.json (+ .md). Benchmarks, not tests: nothing here asserts a timing.
//
//   pnpm bench                                  every default suite (under 15 minutes on 2 cores)
//   pnpm bench --suite initial-sync             one suite or group (repeatable, or comma-separated)
//   pnpm bench --suite memory --size 100000     size in values (events for live-latency), at most 500,000
//   pnpm bench --size initial-sync-a=50000      size of one suite only
//   pnpm bench --soak [--soak-minutes 60]       adds the soak suite (not in the default run)
//   pnpm bench --suite memory --memory-data realistic   per-indicator fields (one create per value: slow)
//   pnpm bench --code HEAD                      apps run from a snapshot of that commit, not the working tree
//   pnpm bench --code HEAD --bundled            … from its esbuild bundles, as the containers run them
//   pnpm bench --list                           suites and default sizes
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type AppConfig, ConfigError, loadRedisConfig } from '@octi-sekoia/config';
import { connectRedis, describeRedis } from '@octi-sekoia/ops';
import { killAllChildren, ROOT, round, setAppRoot } from './lib/children.ts';
import { info } from './lib/redis.ts';
import { fmt, type Row, type SuiteContext, type SuiteResult } from './lib/result.ts';
import { bundleApps, prepareSnapshot } from './lib/snapshot.ts';
import { closeAllStacks } from './lib/stack.ts';
import { runIngest } from './suites/ingest.ts';
import { runInitialSync } from './suites/initial-sync.ts';
import { runLiveLatency } from './suites/live-latency.ts';
import { runMemory } from './suites/memory.ts';
import { runParser } from './suites/parser.ts';
import { runPythonBaseline } from './suites/python-baseline.ts';
import { runRead } from './suites/read.ts';
import { runResync } from './suites/resync.ts';
import { runScaling } from './suites/scaling.ts';
import { runSoak } from './suites/soak.ts';

interface SuiteDef {
  name: string;
  /** Default size (values; events for live-latency; minutes for soak); undefined = no size. */
  size?: number;
  unit?: string;
  inDefault: boolean;
  run: (ctx: SuiteContext, size: number) => Promise<SuiteResult>;
}

const MAX_SIZE = 500_000;
let memoryData: 'shared' | 'realistic' = 'shared';
/** Git ref whose snapshot the apps run from; undefined = the working tree. */
let code: string | undefined;
/** With --code: run the apps' esbuild bundles (like the containers) instead of tsx. */
let bundled = false;

// Order of the default run. Default sizes keep the whole default run under 15 minutes on the 2-core machine.
const SUITES: SuiteDef[] = [
  { name: 'parser', inDefault: true, run: (ctx) => runParser(ctx) },
  {
    name: 'initial-sync-a',
    size: 20_000,
    unit: 'values',
    inDefault: true,
    run: (ctx, n) => runInitialSync(ctx, 'shared', n),
  },
  { name: 'baseline', size: 1_000, unit: 'values', inDefault: true, run: runPythonBaseline },
  {
    name: 'initial-sync-b',
    size: 600,
    unit: 'values',
    inDefault: true,
    run: (ctx, n) => runInitialSync(ctx, 'realistic', n),
  },
  { name: 'live-latency', size: 100, unit: 'events', inDefault: true, run: runLiveLatency },
  { name: 'resync', size: 5_000, unit: 'values', inDefault: true, run: runResync },
  { name: 'read', size: 50_000, unit: 'values', inDefault: false, run: runRead },
  { name: 'ingest', size: 50_000, unit: 'events', inDefault: true, run: runIngest },
  { name: 'scaling', size: 20_000, unit: 'values', inDefault: true, run: (ctx, n) => runScaling(ctx, n) },
  {
    name: 'memory',
    size: 100_000,
    unit: 'values',
    inDefault: true,
    run: (ctx, n) => runMemory(ctx, n, memoryData),
  },
  { name: 'soak', size: 60, unit: 'minutes', inDefault: false, run: runSoak },
];

const GROUPS: Record<string, string[]> = {
  'initial-sync': ['initial-sync-a', 'baseline', 'initial-sync-b'],
};

function usage(exit: number): never {
  const lines = [
    'usage: pnpm bench [--suite NAME[,NAME]]... [--size N | --size SUITE=N]... [--soak] [--soak-minutes M]',
    '                  [--memory-data shared|realistic] [--code GIT_REF [--bundled]] [--list]',
    '',
    'suites (default size):',
    ...SUITES.map(
      (s) =>
        `  ${s.name.padEnd(16)} ${s.size !== undefined ? `${s.size.toLocaleString('en-US')} ${s.unit}` : '-'}${s.inDefault ? '' : '  (only with --soak or --suite soak)'}`,
    ),
    ...Object.entries(GROUPS).map(([g, members]) => `  ${g.padEnd(16)} = ${members.join(' + ')}`),
  ];
  (exit === 0 ? console.log : console.error)(lines.join('\n'));
  process.exit(exit);
}

function parseArgs(argv: string[]) {
  const selected: string[] = [];
  const sizes = new Map<string, number>();
  let sizeAll: number | undefined;
  let soak = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) usage(2);
      return v;
    };
    const [flag, inline] =
      a.includes('=') && a.startsWith('--')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    if (flag === '--') continue;
    if (flag === '--list' || flag === '--help' || flag === '-h') usage(0);
    else if (flag === '--soak') soak = true;
    else if (flag === '--code') code = inline ?? next();
    else if (flag === '--bundled') bundled = true;
    else if (flag === '--memory-data') {
      const v = inline ?? next();
      if (v !== 'shared' && v !== 'realistic') usage(2);
      memoryData = v;
    } else if (flag === '--suite') {
      for (const name of (inline ?? next()).split(',')) {
        if (GROUPS[name]) selected.push(...GROUPS[name]);
        else if (SUITES.some((s) => s.name === name)) selected.push(name);
        else {
          console.error(`unknown suite '${name}'`);
          usage(2);
        }
      }
    } else if (flag === '--size') {
      const v = inline ?? next();
      const m = /^(?:([a-z-]+)=)?(\d+)$/.exec(v.replace(/_/g, ''));
      if (!m) {
        console.error(`--size ${v}: expected N or SUITE=N`);
        usage(2);
      }
      const n = Number(m[2]);
      if (n < 1 || n > MAX_SIZE) {
        console.error(`--size ${v}: expected 1 to ${MAX_SIZE}`);
        usage(2);
      }
      if (m[1]) {
        for (const name of GROUPS[m[1]] ?? [m[1]]) sizes.set(name, n);
      } else sizeAll = n;
    } else if (flag === '--soak-minutes') {
      const n = Number(inline ?? next());
      if (!Number.isFinite(n) || n <= 0 || n > 24 * 60) usage(2);
      sizes.set('soak', n);
      soak = true;
    } else {
      console.error(`unknown argument '${a}'`);
      usage(2);
    }
  }
  let names = selected.length > 0 ? selected : SUITES.filter((s) => s.inDefault).map((s) => s.name);
  if (soak && !names.includes('soak')) names = [...names, 'soak'];
  const plan = SUITES.filter((s) => names.includes(s.name)).map((s) => ({
    def: s,
    size:
      sizes.get(s.name) ?? (s.name !== 'soak' && s.size !== undefined ? sizeAll : undefined) ?? s.size ?? 0,
  }));
  return { plan, explicit: selected.length > 0 };
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}

async function machine(settings: AppConfig['redis']) {
  const redis = connectRedis(settings, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const server = await info(redis, 'server');
    const policy = (await redis.config('GET', 'maxmemory-policy')) as string[];
    return {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
      redis: {
        url: describeRedis(settings),
        version: server.redis_version,
        mode: server.redis_mode,
        os: server.os,
        maxmemoryPolicy: policy[1],
      },
    };
  } finally {
    redis.disconnect();
  }
}

/** ours (a) vs the baseline, when both ran. */
function comparison(results: SuiteResult[]): SuiteResult | undefined {
  const a = results.find((r) => r.suite === 'initial-sync-a' && !r.error);
  const b = results.find((r) => r.suite === 'baseline' && !r.error);
  if (!a || !b) return undefined;
  const ours = Number(a.figures.valuesPerSecond);
  const baseValues = Number(b.figures.valuesDeliveredPerSecond);
  const baseEvents = Number(b.figures.indicatorEventsPerSecond);
  const ratio = ours / baseValues;
  const rows: Row[] = [
    {
      figure: '(a) values/s ÷ baseline values delivered/s',
      value: `${fmt(ratio, 1)}× (${fmt(ours)} ÷ ${fmt(baseValues, 3)})`,
      aim: '≥ 90× the baseline',
      met: ratio >= 90,
    },
    {
      figure: '(a) values/s ÷ baseline indicator events processed/s (lost ones included)',
      value: `${fmt(ours / baseEvents, 1)}× (${fmt(ours)} ÷ ${fmt(baseEvents)})`,
    },
  ];
  return {
    suite: 'comparison',
    title: 'Initial sync (a) against the Python-connector baseline',
    conditions: {
      note: 'both at 20 ms latency; ours within a 5 req/s budget, the baseline against a 5 req/s rate limit',
    },
    figures: {
      ratioToBaselineDelivered: round(ratio, 2),
      ratioToBaselineProcessed: round(ours / baseEvents, 2),
    },
    rows,
    notes: [],
  };
}

/** The same figure in an earlier run: its value, and when that run started. */
export interface Previous {
  value: number;
  started: string;
}

/**
 * The latest earlier run in bench-results/ that measured each figure (suite + figure name → value), so every
 * figure is printed next to its previous value and a regression shows at a glance.
 */
function previousFigures(outDir: string, current: string): Map<string, Previous> {
  const out = new Map<string, Previous>();
  let files: string[] = [];
  try {
    files = readdirSync(outDir)
      .filter((f) => /^\d{4}-.*\.json$/.test(f) && f !== current)
      .sort();
  } catch {
    return out;
  }
  // Oldest first: later runs overwrite, so each figure keeps its latest earlier value.
  for (const f of files) {
    try {
      const report = JSON.parse(readFileSync(join(outDir, f), 'utf8')) as {
        started: string;
        results?: SuiteResult[];
      };
      for (const r of report.results ?? []) {
        for (const row of r.rows ?? []) {
          if (row.measure && Number.isFinite(row.measure.value))
            out.set(`${r.suite}\u0000${row.figure}`, { value: row.measure.value, started: report.started });
        }
      }
    } catch {
      // An unreadable or partial file: skipped.
    }
  }
  return out;
}

/** "ratio to the aim" cell: value ÷ aim (aim ÷ value for lower-is-better figures), ≥ 1 = met. */
function ratioCell(m: Row['measure']): string {
  if (!m || m.aim === undefined) return '';
  if (m.lowerIsBetter) {
    if (m.value === 0) return m.aim === 0 ? '1 (met)' : '∞ (met)';
    if (m.aim === 0) return `${fmt(m.value)} over 0`;
    return fmt(m.aim / m.value, 3);
  }
  return m.aim === 0 ? '' : fmt(m.value / m.aim, 3);
}

/** "previous run" cell: its value and the change, marked when it is a regression. */
function previousCell(m: Row['measure'], prev: Previous | undefined): string {
  if (!m || !prev) return '';
  const delta = m.value - prev.value;
  const worse = m.lowerIsBetter ? delta > 0 : delta < 0;
  const change =
    prev.value === 0
      ? fmt(delta, 4)
      : `${delta >= 0 ? '+' : ''}${fmt((delta / Math.abs(prev.value)) * 100, 1)} %`;
  return `${fmt(prev.value, 4)} (${prev.started.slice(0, 16)}; ${worse ? `**${change}**` : change})`;
}

function markdown(
  results: SuiteResult[],
  meta: { machine: unknown; started: string; seconds: number; previous: Map<string, Previous> },
): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const m = meta.machine as {
    cores: number;
    node: string;
    redis: { version: string };
    loadAverageAtStart: number[];
  };
  const out = [
    `## pnpm bench — ${meta.started} (${fmt(meta.seconds / 60, 1)} min; ${m.cores} cores, Node ${m.node}, Redis ${m.redis.version}, load average at start ${m.loadAverageAtStart.join(' / ')})`,
    '',
    '| suite | figure | value | aim | met | ratio to the aim | previous run (change) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if (r.error) {
      out.push(`| ${r.suite} | error | ${esc(r.error)} | | | | |`);
      continue;
    }
    for (const row of r.rows) {
      const met = row.met === undefined ? '' : row.met === null ? 'n/a' : row.met ? 'yes' : '**no**';
      const prev = meta.previous.get(`${r.suite}\u0000${row.figure}`);
      out.push(
        `| ${r.suite} | ${esc(row.figure)} | ${esc(row.value)} | ${esc(row.aim ?? '')} | ${met} | ${ratioCell(row.measure)} | ${esc(previousCell(row.measure, prev))} |`,
      );
    }
  }
  out.push('', 'Conditions:');
  for (const r of results) {
    const c = Object.entries(r.conditions)
      .map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('; ');
    out.push(`- **${r.suite}** (${fmt(r.wallSeconds ?? 0, 0)} s): ${c}`);
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { plan } = parseArgs(process.argv.slice(2));
  // Large sizes need a larger heap for the in-process simulators, scenario and oracle: re-run with one.
  const biggest = Math.max(0, ...plan.filter((p) => p.def.unit === 'values').map((p) => p.size));
  if (biggest > 150_000 && !process.env.OCTI_BENCH_BIG_HEAP) {
    const r = spawnSync(
      process.execPath,
      [...process.execArgv, '--max-old-space-size=16384', ...process.argv.slice(1)],
      { stdio: 'inherit', env: { ...process.env, OCTI_BENCH_BIG_HEAP: '1' } },
    );
    process.exit(r.status ?? 1);
  }

  let redis: AppConfig['redis'];
  try {
    redis = loadRedisConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`config error: ${p.line}\n`);
    process.exit(2);
  }
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const outDir = join(ROOT, 'bench-results');
  const logDir = join(outDir, `logs-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  const ctx: SuiteContext = { redis, logDir, log };

  let interrupted = false;
  let save: () => void = () => undefined;
  let removeSnapshot: () => void = () => undefined;
  const onSignal = (sig: string) => {
    if (interrupted) {
      killAllChildren();
      process.exit(130);
    }
    interrupted = true;
    log(`${sig}: stopping the apps and cleaning up Redis (again to force)…`);
    const force = setTimeout(() => {
      killAllChildren();
      process.exit(130);
    }, 30_000);
    force.unref();
    void closeAllStacks().finally(() => {
      killAllChildren();
      save();
      removeSnapshot();
      process.exit(130);
    });
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('exit', killAllChildren);

  let codeInfo: Record<string, unknown> = {
    source: 'working tree',
    commit: git(['rev-parse', 'HEAD']),
    uncommittedFiles: git(['status', '--porcelain', '--', 'apps', 'packages'])
      .split('\n')
      .filter((l) => l !== ''),
  };
  if (bundled && !code) {
    console.error('--bundled needs --code (the bundles are built inside the snapshot)');
    process.exit(2);
  }
  if (code) {
    const snap = prepareSnapshot(code);
    removeSnapshot = () => rmSync(snap.root, { recursive: true, force: true });
    if (bundled) bundleApps(snap.root);
    setAppRoot(snap.root, bundled);
    codeInfo = {
      source: `snapshot of ${code}`,
      commit: snap.commit,
      root: snap.root,
      run: bundled
        ? 'node --enable-source-maps dist/main.js (esbuild bundles)'
        : 'node --import tsx src/main.ts',
    };
    log(`code under test: ${code} = ${snap.commit} (snapshot in ${snap.root})`);
  }
  const machineInfo = { ...(await machine(redis)), code: codeInfo };
  log(
    `bench: ${plan.map((p) => `${p.def.name}${p.def.size !== undefined ? ` (${p.size.toLocaleString('en-US')} ${p.def.unit})` : ''}`).join(', ')}`,
  );
  log(`logs of the apps: ${logDir}`);
  const results: SuiteResult[] = [];
  const file = join(outDir, `${stamp}.json`);
  const previous = previousFigures(outDir, `${stamp}.json`);
  // Written after every suite (and on Ctrl-C), so an interrupted run keeps what it measured.
  save = () => {
    const all = [...results];
    const cmp = comparison(all);
    if (cmp) all.push(cmp);
    const seconds = (Date.now() - started.getTime()) / 1000;
    const md = markdown(all, { machine: machineInfo, started: started.toISOString(), seconds, previous });
    const report = {
      started: started.toISOString(),
      seconds: round(seconds, 1),
      complete: all.length > 0 && results.length === plan.length,
      argv: process.argv.slice(2),
      machine: { ...machineInfo, loadAverageAtEnd: os.loadavg().map((x) => round(x, 2)) },
      results: all,
      markdown: md,
    };
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, `${stamp}.md`), `${md}\n`);
    return md;
  };
  for (const { def, size } of plan) {
    if (interrupted) break;
    const t = performance.now();
    const loadBefore = os.loadavg()[0]!;
    log(`── ${def.name} ──`);
    let r: SuiteResult;
    try {
      r = await def.run(ctx, size);
    } catch (err) {
      r = {
        suite: def.name,
        title: def.name,
        conditions: { size },
        figures: {},
        rows: [],
        notes: [],
        error: (err as Error).message,
      };
      if (!interrupted) log(`${def.name} failed: ${(err as Error).stack ?? err}`);
      await closeAllStacks();
    }
    r.wallSeconds = round((performance.now() - t) / 1000, 1);
    r.conditions.loadAverage1mBeforeAfter = [round(loadBefore, 2), round(os.loadavg()[0]!, 2)];
    if (interrupted) break;
    results.push(r);
    save();
    log(`${def.name}: done in ${fmt(r.wallSeconds, 0)} s`);
  }
  if (interrupted) {
    // The signal handler cleans up, saves and exits.
    await new Promise(() => undefined);
  }
  const md = save();
  console.log(`\n${md}\n`);
  log(`written ${file}`);
  removeSnapshot();
  process.exit(results.some((r) => r.error) ? 1 : 0);
}

await main();
