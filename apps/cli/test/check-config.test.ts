import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONNECTOR_ID, cli } from './helpers.ts';

const OPENCTI_TOKEN = '7c1e4f0a-2b3d-4e5f-8a9b-0c1d2e3f4a5b';
const API_KEY = 'sk-live-Zq8yT3vN5pLm2WxR7cD4';
const DASHBOARD_PASSWORD = 'Dash-board-pw-91x';
const REDIS_PASSWORD = 'redis-pw-0b9e8f7a';
const SECRETS = [OPENCTI_TOKEN, API_KEY, DASHBOARD_PASSWORD, REDIS_PASSWORD];

function configFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cli-check-config-')), 'config.yml');
  writeFileSync(path, content);
  return path;
}

const VALID: Record<string, string> = {
  OPENCTI_URL: 'http://opencti:8080/',
  OPENCTI_TOKEN,
  CONNECTOR_ID,
  CONNECTOR_NAME: 'Sekoia.io',
  CONNECTOR_SCOPE: 'Indicator',
  CONNECTOR_LIVE_STREAM_ID: 'live-stream-1',
  SEKOIA_INTEL_URL: 'https://api.sekoia.io',
  SEKOIA_INTEL_IOC_COLLECTION_UUID: '6f1b7c2d-3e4a-4b5c-8d9e-0f1a2b3c4d5e',
  DASHBOARD_USERNAME: 'admin',
  DASHBOARD_PASSWORD,
  REDIS_URL: `redis://:${REDIS_PASSWORD}@redis:6379`,
};

function expectNoSecret(text: string) {
  for (const s of SECRETS) expect(text).not.toContain(s);
}

describe('check-config', () => {
  it('a valid configuration (environment + config.yml): each app valid, secrets masked, exit 0', async () => {
    const env = { ...VALID, CONFIG_FILE: configFile(`sekoia_intel:\n  apikey: ${API_KEY}\n`) };
    const res = await cli(['check-config'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = res.stdout;
    expectNoSecret(out);
    expect(out).toContain(`config.yml: ${env.CONFIG_FILE}`);
    expect(out).toMatch(/^ingest: valid; effective configuration \(secrets masked\):$/m);
    expect(out).toMatch(/^ {2}OPENCTI_URL +http:\/\/opencti:8080$/m);
    expect(out).toMatch(/^ {2}OPENCTI_TOKEN +\*\*\*$/m);
    expect(out).toMatch(/^ {2}SEKOIA_INTEL_APIKEY +\*\*\*$/m);
    expect(out).toMatch(
      /^ {2}SEKOIA_INTEL_IOC_COLLECTION_UUID +ioc-collection--6f1b7c2d-3e4a-4b5c-8d9e-0f1a2b3c4d5e$/m,
    );
    expect(out).toMatch(/^ {2}DASHBOARD_PASSWORD +\*\*\*$/m);
    expect(out).toMatch(/^ {2}REDIS_URL +redis:\/\/:\[REDACTED\]@redis:6379$/m);
    // Each app lists only what it uses: the dashboard has no OpenCTI token.
    const dashboard = out.slice(out.indexOf('dashboard: valid'));
    expect(dashboard).not.toContain('OPENCTI_TOKEN');
    expect(out.trimEnd().split('\n').at(-1)).toBe(
      'check-config: ingest valid, worker valid, dashboard valid',
    );

    const json = await cli(['check-config', '--json'], env);
    expect(json.code).toBe(0);
    expectNoSecret(json.stdout);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.ok).toBe(true);
    expect(Object.keys(parsed.apps)).toEqual(['ingest', 'worker', 'dashboard']);
    expect(parsed.apps.worker).toMatchObject({
      ok: true,
      problems: [],
      config: {
        // Sensitive keys are censored entirely in JSON; the text output shows the masked form.
        sekoiaIntel: { apiKey: '[REDACTED]', url: 'https://api.sekoia.io' },
        opencti: { token: '***' },
        connector: { id: CONNECTOR_ID },
      },
    });
  });

  it('internal settings: validated always, listed only with --internal', async () => {
    const plain = await cli(['check-config', '--app', 'ingest'], { ...VALID, INGEST_LINGER_MS: '20' });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^ {2}INGEST_BATCH_SIZE +500$/m);
    expect(plain.stdout).not.toContain('INGEST_LINGER_MS');

    const shown = await cli(['check-config', '--app', 'ingest', '--internal'], {
      ...VALID,
      INGEST_LINGER_MS: '20',
    });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^ {2}INGEST_LINGER_MS +20$/m);
    expect(shown.stdout).toMatch(/^ {2}INGEST_LEASE_TTL_MS +15000$/m);

    const bad = await cli(['check-config', '--app', 'ingest'], { ...VALID, INGEST_LEASE_TTL_MS: 'soon' });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain(
      "config error: INGEST_LEASE_TTL_MS (ingest.lease_ttl_ms) = 'soon' is invalid",
    );
  });

  it('a broken configuration: problems listed per app, the valid app still shown, no secret, exit 2', async () => {
    const env = {
      ...VALID,
      OPENCTI_URL: '',
      OPENCTI_TOKEN: `Bearer ${OPENCTI_TOKEN}`,
      SEKOIA_INTEL_APIKEY: 'ChangeMe',
      SEKOIA_INTEL_URL: `https://api.sekoia.io/?apikey=${API_KEY}`,
      WORKER_CONCURRENCY: '0',
    };
    const res = await cli(['check-config'], env);
    expect(res.code).toBe(2);
    const out = res.stdout + res.stderr;
    expectNoSecret(out);
    const section = (app: string) => {
      const start = res.stdout.indexOf(`\n${app}: `);
      const end = res.stdout.indexOf('\n\n', start + 1);
      return res.stdout.slice(start + 1, end).split('\n');
    };
    expect(section('ingest')).toEqual([
      'ingest: INVALID (2 problems)',
      expect.stringMatching(/^ {2}config error: OPENCTI_URL \(opencti\.url\) is empty: expected/),
      expect.stringMatching(/^ {2}config error: OPENCTI_TOKEN \(opencti\.token\) = '\*\*\*' is invalid/),
    ]);
    expect(section('worker')).toEqual([
      'worker: INVALID (3 problems)',
      expect.stringMatching(/^ {2}config error: SEKOIA_INTEL_URL \(sekoia_intel\.url\) = '.*' is invalid/),
      expect.stringMatching(
        /^ {2}config error: SEKOIA_INTEL_APIKEY \(sekoia_intel\.apikey\) is the placeholder/,
      ),
      expect.stringMatching(/^ {2}config error: WORKER_CONCURRENCY \(worker\.concurrency\) = '0' is invalid/),
    ]);
    expect(section('dashboard')[0]).toBe('dashboard: valid; effective configuration (secrets masked):');
    expect(res.stdout.trimEnd().split('\n').at(-1)).toBe(
      'check-config: ingest INVALID, worker INVALID, dashboard valid',
    );

    const json = await cli(['check-config', '--json', '--app', 'worker'], env);
    expect(json.code).toBe(2);
    expectNoSecret(json.stdout);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.ok).toBe(false);
    expect(Object.keys(parsed.apps)).toEqual(['worker']);
    expect(parsed.apps.worker.config).toBeNull();
    expect(parsed.apps.worker.problems.map((p: { env: string }) => p.env)).toEqual([
      'SEKOIA_INTEL_URL',
      'SEKOIA_INTEL_APIKEY',
      'WORKER_CONCURRENCY',
    ]);
  });

  it('an unknown --app is a usage error (exit 2)', async () => {
    const res = await cli(['check-config', '--app', 'scheduler'], VALID);
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toBe(
      'usage error: check-config: --app must be one of ingest, worker, dashboard, cli, got "scheduler"',
    );
  });
  it('reads the same config.yml as the apps: the one where the command was typed (INIT_CWD under pnpm)', async () => {
    const file = configFile(`worker:\n  concurrency: 7\nsekoia_intel:\n  apikey: ${API_KEY}\n`);
    const res = await cli(['check-config', '--app', 'worker'], { ...VALID, INIT_CWD: dirname(file) });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`config.yml: ${file}`);
    expect(res.stdout).toMatch(/^ {2}WORKER_CONCURRENCY +7$/m);
  });
});
