import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import {
  jsonLogEntries,
  startEntryPoint,
  startRedisServer,
  type TestRedis,
  tempConfigFile,
  testRedis,
} from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const appDir = join(import.meta.dirname, '..');
const CONNECTOR_ID = '4a0d6a3e-5c1b-4f7e-8d2a-9b3c1e5f7a90';

let r: TestRedis;
beforeEach(async () => {
  r = await testRedis('dashboard-startup');
});
afterEach(async () => {
  await r.cleanup();
});

/** The real entry point, with only the given environment (nothing inherited but PATH and the test's Redis). */
const start = (env: Record<string, string>) =>
  startEntryPoint(appDir, {
    REDIS_URL: r.url,
    REDIS_KEY_PREFIX: r.prefix,
    DASHBOARD_PORT: '0',
    DASHBOARD_HOST: '127.0.0.1',
    ...env,
  });
const configFile = tempConfigFile;
const entries = jsonLogEntries;

describe('dashboard start-up', () => {
  it('a broken configuration: one stderr line per problem and exit code 2', async () => {
    const { proc, stderr } = start({
      CONNECTOR_ID: 'ChangeMe_UUID',
      DASHBOARD_USERNAME: 'admin',
      DASHBOARD_PASSWORD: 'hunter2',
      DASHBOARD_BASE_PATH: '/a/../b',
    });
    expect(await proc.exited).toBe(2);
    expect(stderr().trimEnd().split('\n')).toEqual([
      "config error: CONNECTOR_ID (connector.id) is the placeholder 'ChangeMe_UUID': expected a UUID such as 0d2b6c5e-1f3a-4c7e-9b8d-2a6f4e1c3b5a",
      expect.stringMatching(
        /^config error: DASHBOARD_BASE_PATH \(dashboard\.base_path\) = '\/a\/\.\.\/b' is invalid/,
      ),
      "config error: DASHBOARD_PASSWORD (dashboard.password) = '***' is invalid (too short): expected a password of at least 8 characters",
    ]);
    expect(proc.output()).not.toContain('hunter2');
  });

  it.each([['SIGTERM'], ['SIGINT']] as const)(
    'a valid configuration starts, logs, and exits 0 on %s',
    async (signal) => {
      // Neither the OpenCTI token nor the Sekoia.io key: the dashboard needs neither.
      const { proc } = start({
        CONFIG_FILE: configFile(`dashboard:\n  username: admin\n  password: correct-horse-battery\n`),
        CONNECTOR_ID,
      });
      await proc.waitForOutput(/"msg":"started"/);
      proc.kill(signal);
      expect(await proc.exited).toBe(0);
      const logged = entries(proc.output());
      expect(logged.find((e) => e.msg === 'started')).toMatchObject({
        level: 'info',
        name: 'dashboard',
        connectorId: CONNECTOR_ID,
      });
      expect(logged.find((e) => e.msg === 'shutting down')).toMatchObject({ signal });
      expect(proc.output()).not.toContain('correct-horse-battery');
    },
  );

  const AUTH_FILE = () => configFile(`dashboard:\n  username: admin\n  password: correct-horse-battery\n`);

  it("listens on 127.0.0.1 when DASHBOARD_HOST is not set: reachable there, not on the machine's other addresses", async () => {
    const { proc } = startEntryPoint(appDir, {
      REDIS_URL: r.url,
      REDIS_KEY_PREFIX: r.prefix,
      DASHBOARD_PORT: '0',
      CONFIG_FILE: AUTH_FILE(),
      CONNECTOR_ID,
    });
    try {
      await proc.waitForOutput(/"msg":"started"/);
      const url = String(entries(proc.output()).find((e) => e.msg === 'started')?.url);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect((await fetch(`${url}healthz`)).status).toBe(200);
      const port = new URL(url).port;
      const others = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a && a.family === 'IPv4' && !a.internal)
        .map((a) => a?.address as string);
      for (const address of others) {
        await expect(fetch(`http://${address}:${port}/healthz`), address).rejects.toThrow();
      }
    } finally {
      proc.kill('SIGTERM');
      await proc.exited;
    }
  });

  it('refuses a Redis that may evict keys, as ingest and the worker do: one plain line, exit code 2', async () => {
    const redis = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const { proc } = start({ REDIS_URL: redis.url, CONFIG_FILE: AUTH_FILE(), CONNECTOR_ID });
      expect(await proc.exited).toBe(2);
      const fatal = entries(proc.output()).find((e) => e.level === 'fatal');
      expect(fatal).toMatchObject({ msg: 'refusing to start' });
      expect(String(fatal?.err)).toMatch(/maxmemory-policy is "allkeys-lru".*noeviction/);
      expect(proc.output()).not.toContain('"msg":"started"');
    } finally {
      await redis.destroy();
    }
  });

  it('a port in use: one line naming DASHBOARD_PORT, exit 2, no stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const { proc, stderr } = start({
        DASHBOARD_PORT: String(port),
        CONFIG_FILE: AUTH_FILE(),
        CONNECTOR_ID,
      });
      expect(await proc.exited).toBe(2);
      expect(stderr().trimEnd().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^config error: DASHBOARD_PORT: port ${port} is already in use`)),
      ]);
      expect(proc.output()).not.toMatch(/EADDRINUSE|\n\s+at /);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('a host that does not resolve: one line naming DASHBOARD_HOST, exit 2, no stack trace', async () => {
    const { proc, stderr } = start({
      DASHBOARD_HOST: 'no-such-host.invalid',
      CONFIG_FILE: AUTH_FILE(),
      CONNECTOR_ID,
    });
    expect(await proc.exited).toBe(2);
    expect(stderr().trimEnd().split('\n')).toEqual([
      'config error: DASHBOARD_HOST: host "no-such-host.invalid" does not resolve; expected an IP address or a resolvable name such as 127.0.0.1',
    ]);
    expect(proc.output()).not.toMatch(/ENOTFOUND|\n\s+at /);
  });
});
