import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import {
  jsonLogEntries,
  startEntryPoint,
  type TestRedis,
  tempConfigFile,
  testRedis,
} from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const appDir = join(import.meta.dirname, '..');
const TOKEN = '0b8f7a6e-1c2d-4e3f-9a8b-7c6d5e4f3a2b';
const CONNECTOR_ID = '4a0d6a3e-5c1b-4f7e-8d2a-9b3c1e5f7a90';

let r: TestRedis;
beforeEach(async () => {
  r = await testRedis('ingest-startup');
});
afterEach(async () => {
  await r.cleanup();
});

/** The real entry point, with only the given environment (nothing inherited but PATH and the test's Redis). */
const start = (env: Record<string, string>) =>
  startEntryPoint(appDir, {
    REDIS_URL: r.url,
    REDIS_KEY_PREFIX: r.prefix,
    INGEST_HTTP_PORT: '0',
    ...env,
  });
const configFile = tempConfigFile;
const entries = jsonLogEntries;

describe('ingest start-up', () => {
  it('a broken configuration: one stderr line per problem and exit code 2', async () => {
    const { proc, stderr } = start({
      OPENCTI_URL: 'ftp://opencti',
      OPENCTI_TOKEN: 'ChangeMe',
      CONNECTOR_ID: 'not-a-uuid',
      CONNECTOR_NAME: 'Sekoia',
      CONNECTOR_SCOPE: 'Indicator',
    });
    expect(await proc.exited).toBe(2);
    const out = stderr().trimEnd().split('\n');
    expect(out).toEqual([
      expect.stringMatching(
        /^config error: OPENCTI_URL \(opencti\.url\) = 'ftp:\/\/opencti' is invalid .*expected/,
      ),
      'config error: OPENCTI_TOKEN (opencti.token) is the placeholder \'ChangeMe\': expected the OpenCTI API token (without "Bearer ")',
      expect.stringMatching(
        /^config error: CONNECTOR_ID \(connector\.id\) = 'not-a-uuid' is invalid: expected a UUID/,
      ),
      expect.stringMatching(
        /^config error: CONNECTOR_LIVE_STREAM_ID \(connector\.live_stream_id\) is missing: expected/,
      ),
    ]);
    expect(proc.output()).not.toContain('started');
  });

  it.each([['SIGTERM'], ['SIGINT']] as const)(
    'a valid configuration starts, logs, and exits 0 on %s',
    async (signal) => {
      const { proc } = start({
        CONFIG_FILE: configFile(
          `opencti:\n  url: http://opencti:8080\nconnector:\n  name: Sekoia\n  scope: Indicator\n  live_stream_id: live\n  live_stream_listen_delete: false\n`,
        ),
        OPENCTI_TOKEN: TOKEN,
        CONNECTOR_ID,
        CONNECTOR_LOG_LEVEL: 'debug',
      });
      await proc.waitForOutput(/"msg":"started"/);
      proc.kill(signal);
      expect(await proc.exited).toBe(0);
      const logged = entries(proc.output());
      expect(logged.find((e) => e.msg === 'started')).toMatchObject({
        level: 'info',
        name: 'ingest',
        connectorId: CONNECTOR_ID,
      });
      expect(
        logged.some(
          (e) => e.level === 'warn' && String(e.msg).startsWith('CONNECTOR_LIVE_STREAM_LISTEN_DELETE'),
        ),
      ).toBe(true);
      expect(logged.find((e) => e.msg === 'shutting down')).toMatchObject({ signal });
      expect(proc.output()).not.toContain(TOKEN);
    },
  );
  it('a metrics port already taken: one line naming INGEST_HTTP_PORT, exit 2', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const { proc, stderr } = start({
        OPENCTI_URL: 'http://opencti:8080',
        OPENCTI_TOKEN: TOKEN,
        CONNECTOR_ID,
        CONNECTOR_NAME: 'Sekoia',
        CONNECTOR_SCOPE: 'Indicator',
        CONNECTOR_LIVE_STREAM_ID: 'live',
        INGEST_HTTP_PORT: String(port),
      });
      expect(await proc.exited).toBe(2);
      expect(stderr().trimEnd().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^config error: INGEST_HTTP_PORT: port ${port} is already in use`)),
      ]);
      expect(proc.output()).not.toMatch(/EADDRINUSE|\n\s+at /);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
  it('started as the README says (pnpm from the root): reads config.yml of the root, not of apps/ingest', async () => {
    const root = dirname(
      configFile(
        `opencti:\n  url: http://opencti:8080\n  token: ${TOKEN}\nconnector:\n  id: ${CONNECTOR_ID}\n  name: Sekoia\n  scope: Indicator\n  live_stream_id: live\n`,
      ),
    );
    // pnpm runs the app in apps/ingest and sets INIT_CWD to where the command was typed.
    const { proc } = start({ INIT_CWD: root });
    await proc.waitForOutput(/"msg":"started"/);
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});
