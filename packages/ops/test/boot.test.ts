// bootApp, the start-up prologue of every app's main.ts, in a real child process (test/fixtures/boot-app.ts).
import { join } from 'node:path';
import { type ManagedProcess, REDIS_TEST_URL, startProcess } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = join(import.meta.dirname, 'fixtures', 'boot-app.ts');
const SECRET = 'boot-test-dashboard-password';
const VALID = {
  CONNECTOR_ID: '0d2b6c5e-1f3a-4c7e-9b8d-2a6f4e1c3b5a',
  DASHBOARD_USERNAME: 'admin',
  DASHBOARD_PASSWORD: SECRET,
  REDIS_URL: REDIS_TEST_URL,
};
const procs: ManagedProcess[] = [];

function boot(env: Record<string, string>) {
  const proc = startProcess(process.execPath, ['--import', 'tsx', fixture], {
    cwd: import.meta.dirname,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let stderr = '';
  proc.child.stderr?.on('data', (d: string) => {
    stderr += d;
  });
  procs.push(proc);
  return { proc, stderr: () => stderr };
}

afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});

describe('bootApp', () => {
  it('boots: settings derived, secrets redacted in what the app logs', async () => {
    const { proc } = boot({ ...VALID, BOOT_TEST_ECHO: `token ${SECRET}` });
    expect(await proc.exited).toBe(0);
    const line = JSON.parse(
      proc
        .output()
        .split('\n')
        .find((l) => l.includes('"booted"')) ?? '{}',
    );
    expect(line).toMatchObject({ name: 'dashboard', port: 3000, connectorId: VALID.CONNECTOR_ID });
    expect(proc.output()).not.toContain(SECRET);
  });

  it('a configuration problem: one config error line per problem, exit 2', async () => {
    const { proc, stderr } = boot({ REDIS_URL: REDIS_TEST_URL });
    expect(await proc.exited).toBe(2);
    expect(stderr()).toMatch(/^config error: CONNECTOR_ID \(connector\.id\) is missing/m);
    expect(stderr()).toMatch(/^config error: DASHBOARD_PASSWORD/m);
  });

  it("the app's settings refused: config error, exit 2, before Redis is contacted (none listens here)", async () => {
    const { proc, stderr } = boot({
      ...VALID,
      REDIS_URL: 'redis://127.0.0.1:1',
      BOOT_TEST_SETTINGS_ERROR: "TUNING_X = 'y' is invalid",
    });
    expect(await proc.exited).toBe(2);
    expect(stderr()).toBe("config error: TUNING_X = 'y' is invalid\n");
  });

  it('the Redis check fails: one fatal line, secrets redacted, exit 2', async () => {
    const { proc } = boot({ ...VALID, BOOT_TEST_REDIS_ERROR: `maxmemory-policy evicts (${SECRET})` });
    expect(await proc.exited).toBe(2);
    const fatal = proc
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: string })
      .find((l) => l.msg === 'refusing to start');
    expect(fatal?.err).toMatch(/^maxmemory-policy evicts \(\[REDACTED\]\)$/);
    expect(proc.output()).not.toContain(SECRET);
  });
});
