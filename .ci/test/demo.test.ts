// The README's "run" command as a newcomer types it: `pnpm demo` from the repository root converges (the
// simulated Sekoia.io collection equals what the simulated OpenCTI says), its printed `pnpm cli status` line
// works, then one Ctrl-C (SIGINT to the whole process group) is one graceful stop of every app.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSentinelSet, waitFor } from '@octi-sekoia/testkit';
import { expect, it } from 'vitest';
import { repoRoot } from './files.ts';

/** Every descendant of `pid` (from /proc), so the test can prove none is left behind. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

/** `pnpm demo` in its own process group (so SIGINT to the group is what Ctrl-C in a terminal does). */
function startDemo(env: Record<string, string>) {
  const logDir = mkdtempSync(join(tmpdir(), 'demo-test-'));
  const demo = spawn('pnpm', ['demo'], {
    cwd: repoRoot,
    detached: true,
    env: { ...process.env, DEMO_LOG_DIR: logDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // Decoded as a stream: a multi-byte character (the "…" of the summary) may straddle two chunks.
  demo.stdout.setEncoding('utf8');
  demo.stderr.setEncoding('utf8');
  demo.stdout.on('data', (d: string) => {
    out += d;
  });
  demo.stderr.on('data', (d: string) => {
    out += d;
  });
  // 'close' waits for every process holding the output pipes (pnpm, the demo, the apps), not just pnpm.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    demo.on('close', (code, signal) => resolve({ code, signal })),
  );
  const appLog = (name: string) => {
    try {
      return readFileSync(join(logDir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  };
  // The apps run in process groups of their own: kill them by pid, then pnpm's group.
  const kill = () => {
    for (const pid of descendants(demo.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    if (demo.exitCode === null && demo.signalCode === null) process.kill(-demo.pid!, 'SIGKILL');
  };
  return { demo, output: () => out, closed, appLog, kill };
}

const APPS = ['ingest', 'worker-1', 'worker-2', 'dashboard'];
const CLI_LINE =
  /^ {2}CLI +(REDIS_URL=(\S+) REDIS_KEY_PREFIX=(octi-sekoia-demo-(\d+)) CONNECTOR_ID=(\S+) pnpm cli status)$/m;

/** Each app stopped once, gracefully: one "shutting down", never "second signal". */
function expectOneGracefulStop(appLog: (name: string) => string) {
  for (const name of APPS) {
    const log = appLog(name);
    expect(log.match(/"msg":"shutting down"/g), name).toHaveLength(1);
    expect(log, name).not.toContain('second signal');
  }
}

it('pnpm demo converges, prints a working CLI line, and one Ctrl-C is one graceful stop of everything', async () => {
  const run = startDemo({ DEMO_INDICATORS: '150', CONNECTOR_LOG_LEVEL: 'info' });
  try {
    await waitFor(() => /converged: the collection equals OpenCTI/.test(run.output()), {
      what: 'the demo to converge',
      timeoutMs: 180_000,
      intervalMs: 500,
    });
    const out = run.output();
    expect(out).toMatch(/dashboard\s+http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).toMatch(/OpenCTI simulator\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/Sekoia simulator\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/dead letters 0/);

    // The printed command line, run as printed (from the repository root), sees this demo.
    const [, , redisUrl, prefix, , connectorId] = CLI_LINE.exec(out) ?? [];
    expect(prefix).toBeTruthy();
    const status = spawnSync('pnpm', ['--silent', 'cli', 'status', '--json'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: redisUrl!,
        REDIS_KEY_PREFIX: prefix!,
        CONNECTOR_ID: connectorId!,
      },
      encoding: 'utf8',
    });
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toMatchObject({
      connector: { id: connectorId, keyPrefix: prefix, registered: true, found: true },
    });

    const procs = descendants(run.demo.pid!);
    expect(procs.length).toBeGreaterThanOrEqual(4);
    process.kill(-run.demo.pid!, 'SIGINT');
    const { code, signal } = await run.closed;
    // pnpm itself may end on the SIGINT (as in a terminal); the demo under it must stop cleanly.
    expect(code === 0 || signal === 'SIGINT' || code === 130).toBe(true);
    expect(run.output()).toMatch(/stopping…/);
    expect(run.output()).toMatch(/^stopped$/m);
    expect(run.output()).not.toMatch(/exited \(/);
    expectOneGracefulStop(run.appLog);
    await waitFor(() => procs.every((p) => !alive(p)), {
      what: 'every demo process to exit',
      timeoutMs: 30_000,
    });
  } finally {
    run.kill();
  }
}, 240_000);

// pnpm itself does not pass a SIGINT sent to it alone on (it waits for its child); when pnpm ends anyway (here
// killed), the demo notices its launcher is gone and stops rather than running on orphaned.
it.each([
  ['SIGINT to the demo script alone (not its group)', 'SIGINT', (demoPid: number) => demoPid],
  ['pnpm demo killed alone', 'SIGKILL', (_demoPid: number, pnpmPid: number) => pnpmPid],
] as const)(
  '%s: everything stops gracefully',
  async (_what, signal, target) => {
    const run = startDemo({ DEMO_INDICATORS: '20', CONNECTOR_LOG_LEVEL: 'info' });
    try {
      await waitFor(() => APPS.every((name) => run.appLog(name).includes('"msg":"started"')), {
        what: 'every app of the demo to start',
        timeoutMs: 120_000,
        intervalMs: 500,
      });
      // The demo script's pid is the one in its key prefix (printed in the CLI line).
      const demoPid = Number(CLI_LINE.exec(run.output())?.[4]);
      expect(alive(demoPid)).toBe(true);
      process.kill(target(demoPid, run.demo.pid!), signal);
      await run.closed;
      expect(run.output()).toMatch(/^stopped$/m);
      expectOneGracefulStop(run.appLog);
      expect(alive(demoPid)).toBe(false);
    } finally {
      run.kill();
    }
  },
  240_000,
);

it('pnpm demo on Redis behind Sentinel: the apps and its CLI line take the Sentinel settings', async () => {
  const set = await startSentinelSet();
  // REDIS_URL emptied: an empty variable counts as unset, so the Sentinel settings are the only topology.
  const run = startDemo({ DEMO_INDICATORS: '40', CONNECTOR_LOG_LEVEL: 'info', ...set.env, REDIS_URL: '' });
  try {
    await waitFor(() => /converged: the collection equals OpenCTI/.test(run.output()), {
      what: 'the demo to converge',
      timeoutMs: 180_000,
      intervalMs: 500,
    });
    expect(run.output()).toContain(
      `Redis: using sentinel master "${set.masterName}" via ${set.env.REDIS_SENTINELS}`,
    );
    const line =
      /^ {2}CLI +(REDIS_SENTINELS=(\S+) REDIS_SENTINEL_MASTER=(\S+) REDIS_KEY_PREFIX=(\S+) CONNECTOR_ID=(\S+) pnpm cli status)$/m.exec(
        run.output(),
      );
    expect(line?.slice(2, 4)).toEqual([set.env.REDIS_SENTINELS, set.masterName]);
    const status = spawnSync('pnpm', ['--silent', 'cli', 'status', '--json'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_SENTINELS: line![2]!,
        REDIS_SENTINEL_MASTER: line![3]!,
        REDIS_KEY_PREFIX: line![4]!,
        CONNECTOR_ID: line![5]!,
      },
      encoding: 'utf8',
    });
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toMatchObject({
      connector: { id: line![5], registered: true, found: true },
      redis: {
        url: `sentinel master "${set.masterName}" via ${set.env.REDIS_SENTINELS}`,
        maxmemoryPolicy: 'noeviction',
      },
    });
    const master = await set.master();
    expect((await master.keys(`*${line![4]}*`)).length).toBeGreaterThan(0);
    process.kill(-run.demo.pid!, 'SIGINT');
    await run.closed;
    expect(run.output()).toMatch(/^stopped$/m);
    // Ingest, both workers and the dashboard ran on it and stopped once each.
    expectOneGracefulStop(run.appLog);
    // The demo removed its keys from the Sentinel's master.
    try {
      expect(await master.keys(`*${line![4]}*`)).toEqual([]);
    } finally {
      master.disconnect();
    }
  } finally {
    run.kill();
    await set.destroy();
  }
}, 240_000);
