// The product's apps as child processes, started the way scripts/demo.ts starts them (`node --import tsx
// apps/<app>/src/main.ts`), plus what the suites read from them: pino log lines, /metrics, CPU time and RSS
// from /proc. Every child is registered so that an error or Ctrl-C in the bench never leaves one behind.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS } from '@octi-sekoia/ops';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Where the apps are started from: the working tree, or a snapshot of a commit (`--code`). */
let appRoot = ROOT;
/** Run the esbuild bundles (`node --enable-source-maps dist/main.js`, as the containers do) instead of tsx. */
let bundled = false;
export function setAppRoot(root: string, useBundles = false): void {
  appRoot = root;
  bundled = useBundles;
}
export function getAppRoot(): string {
  return appRoot;
}

const alive = new Set<ChildProcess>();

/** SIGKILL every child still running (synchronous: usable from an 'exit' handler). */
export function killAllChildren(): void {
  for (const c of alive) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  alive.clear();
}

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of a process, in seconds (every thread of it), from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces: split after its closing parenthesis. utime, stime = fields 14, 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / ticksPerSecond();
}

/** VmRSS and VmHWM (peak RSS) in MB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: round(kb('VmRSS') / 1024, 1), peakRssMb: round(kb('VmHWM') / 1024, 1) };
}

/** Busy and total CPU time of the whole machine (all cores), in seconds, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …
  const idle = (line[3] ?? 0) + (line[4] ?? 0);
  const total = line.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / ticksPerSecond(), total: total / ticksPerSecond() };
}

export function round(n: number, digits = 2): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface LogLine {
  /** Epoch ms (pino's ISO `time` converted). */
  time: number;
  msg: string;
  level: string;
  [k: string]: unknown;
}

export class App {
  readonly proc: ChildProcess;
  readonly spawnedAt = Date.now();
  /** Time of the app's `started` log line (pino `time`), once seen. */
  startedAt: number | undefined;
  /** Time of the app's first log line (pino `time`): spawn → this is mostly loading the modules. */
  firstLineAt: number | undefined;
  private readonly lines: LogLine[] = [];
  private partial = '';
  private readonly out: WriteStream;
  private exitInfo: string | undefined;

  constructor(
    readonly name: string,
    readonly app: 'ingest' | 'worker',
    readonly httpPort: number,
    env: Record<string, string>,
    logFile: string,
    /** Log lines kept in memory (the others only go to the file). */
    private readonly keep: (line: LogLine) => boolean,
  ) {
    this.out = createWriteStream(logFile);
    // The app's node flags (packages/ops heap.ts NODE_FLAGS), as its image's command and `pnpm start` pass them.
    // BENCH_APP_NODE_ARGS: extra node options for the apps only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
    // (NODE_OPTIONS would also profile pnpm and the bench).
    const extra = (process.env.BENCH_APP_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const args = bundled
      ? [...NODE_FLAGS[app], ...extra, '--enable-source-maps', join(appRoot, 'apps', app, 'dist', 'main.js')]
      : [...NODE_FLAGS[app], ...extra, '--import', 'tsx', join(appRoot, 'apps', app, 'src', 'main.ts')];
    this.proc = spawn(process.execPath, args, {
      cwd: join(appRoot, 'apps', app),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    alive.add(this.proc);
    this.proc.stdout?.on('data', (d: Buffer) => this.onData(d));
    this.proc.stderr?.on('data', (d: Buffer) => this.out.write(d));
    this.proc.on('exit', (code, signal) => {
      alive.delete(this.proc);
      this.exitInfo = String(code ?? signal);
      this.out.end();
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get exited(): string | undefined {
    return this.exitInfo;
  }

  private onData(d: Buffer): void {
    this.out.write(d);
    const text = this.partial + d.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const raw of parts) {
      if (!raw.startsWith('{')) continue;
      let line: LogLine;
      try {
        const o = JSON.parse(raw) as Record<string, unknown>;
        line = {
          ...o,
          time: typeof o.time === 'string' ? Date.parse(o.time) : Number(o.time),
          msg: String(o.msg ?? ''),
          level: String(o.level ?? ''),
        };
      } catch {
        continue;
      }
      this.firstLineAt ??= line.time;
      if (line.msg === 'started' && this.startedAt === undefined) this.startedAt = line.time;
      if (this.keep(line) || line.level === 'error' || line.level === 'fatal') this.lines.push(line);
    }
  }

  logs(msg?: string): LogLine[] {
    return msg === undefined ? [...this.lines] : this.lines.filter((l) => l.msg === msg);
  }

  cpuSeconds(): number {
    return this.running ? cpuSecondsOf(this.pid) : Number.NaN;
  }

  memory(): { rssMb: number; peakRssMb: number } {
    return this.running ? memoryOf(this.pid) : { rssMb: Number.NaN, peakRssMb: Number.NaN };
  }

  async metricsText(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    return res.text();
  }

  /** Sum of a Prometheus metric over the series whose labels include every given label. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricSum(await this.metricsText(), name, labels);
  }

  async waitStarted(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.startedAt === undefined) {
      if (!this.running) throw new Error(`${this.name} exited (${this.exitInfo}) before starting`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not start within ${timeoutMs} ms`);
      await sleep(50);
    }
    return this.startedAt;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      this.proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      this.proc.kill('SIGTERM');
    });
  }
}

export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (Object.entries(labels).some(([k, v]) => !rest.includes(`${k}="${v}"`))) continue;
    sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
