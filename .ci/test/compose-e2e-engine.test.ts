// scripts/compose-e2e/run on a machine where the Docker engine cannot start: one line saying so, and a failure
// (CI must not pass by skipping the compose e2e). `docker` and `dockerd` are replaced by stand-ins on PATH that
// fail the way an unprivileged container does.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { repoRoot } from './files.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('says in one line that the engine cannot start, and exits non-zero', () => {
  const dir = mkdtempSync(join(tmpdir(), 'compose-e2e-engine-'));
  dirs.push(dir);
  const stub = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  stub('docker', 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1');
  stub(
    'dockerd',
    'echo "failed to start daemon: Error initializing network controller: operation not permitted" >&2; exit 1',
  );
  const r = spawnSync('bash', [join(repoRoot, 'scripts/compose-e2e/run')], {
    env: {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      COMPOSE_E2E_DOCKERD_LOG: join(dir, 'dockerd.log'),
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(
    /^compose-e2e: (the Docker engine cannot start on this machine|no Docker engine answers)/,
  );
  if (process.getuid?.() === 0) expect(lines[0]).toContain('operation not permitted');
});
