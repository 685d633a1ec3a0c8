// The README's "run" command as a newcomer types it: `pnpm demo` from the repository root converges (the
// simulated Sekoia.io collection equals what the simulated OpenCTI says), then Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { waitFor } from '@octi-sekoia/testkit';
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

it('pnpm demo converges on the simulators and stops cleanly on Ctrl-C', async () => {
  // Its own process group, so SIGINT reaches it the way Ctrl-C in a terminal does.
  const demo = spawn('pnpm', ['demo'], {
    cwd: repoRoot,
    detached: true,
    env: { ...process.env, DEMO_INDICATORS: '150', CONNECTOR_LOG_LEVEL: 'warn' },
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
  try {
    await waitFor(() => /converged: the collection equals OpenCTI/.test(out), {
      what: 'the demo to converge',
      timeoutMs: 180_000,
      intervalMs: 500,
    });
    expect(out).toMatch(/dashboard\s+http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).toMatch(/OpenCTI simulator\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/Sekoia simulator\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/dead letters 0/);
    const procs = descendants(demo.pid!);
    expect(procs.length).toBeGreaterThanOrEqual(4);
    process.kill(-demo.pid!, 'SIGINT');
    const { code, signal } = await closed;
    // pnpm itself may end on the SIGINT (as in a terminal); the demo under it must stop cleanly.
    expect(code === 0 || signal === 'SIGINT' || code === 130).toBe(true);
    expect(out).toMatch(/stopping…/);
    expect(out).toMatch(/^stopped$/m);
    expect(out).not.toMatch(/exited \(/);
    await waitFor(() => procs.every((p) => !alive(p)), {
      what: 'every demo process to exit',
      timeoutMs: 30_000,
    });
  } finally {
    if (demo.exitCode === null && demo.signalCode === null) process.kill(-demo.pid!, 'SIGKILL');
  }
}, 240_000);
