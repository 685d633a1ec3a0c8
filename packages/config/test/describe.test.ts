import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { renderConfigTableMarkdown } from '../src/describe.ts';
import { configTable, describeConfig, secretsOf } from '../src/index.ts';
import { API_KEY, BASE, load, problemsOf, TOKEN } from './helpers.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const table = configTable();
/** The supported settings: the internal ones (VarSpec.internal) stay out of the README table and the samples. */
const supported = table.filter((r) => !r.internal);

describe('secretsOf and describeConfig', () => {
  const env = {
    ...BASE,
    REDIS_URL: 'redis://user:url%40pw-123@redis:6379',
    REDIS_PASSWORD: 'redis-password-1',
  };

  it('lists every secret, including the password inside REDIS_URL (raw and decoded)', () => {
    const { config } = load('dashboard', env);
    expect(secretsOf(config).sort()).toEqual(
      [TOKEN, API_KEY, 'redis-password-1', 'correct-horse-battery', 'url%40pw-123', 'url@pw-123'].sort(),
    );
  });

  it('leaves out secrets that are not set', () => {
    const { config } = load('cli', { CONNECTOR_ID: BASE.CONNECTOR_ID });
    expect(secretsOf(config)).toEqual([]);
  });

  it('describeConfig shows the effective configuration with every secret masked', () => {
    const { config } = load('dashboard', env);
    const described = describeConfig(config);
    const text = JSON.stringify(described);
    for (const secret of secretsOf(config)) expect(text).not.toContain(secret);
    expect(described).toMatchObject({
      opencti: { token: '***' },
      redis: { url: 'redis://user:***@redis:6379', password: '***' },
      sekoiaIntel: { apiKey: '***', iocCollectionUuid: config.sekoiaIntel.iocCollectionUuid },
      worker: { concurrency: 50 },
    });
    expect(config.opencti.token).toBe(TOKEN);
  });
});

describe('configTable', () => {
  it('has unique env names and config.yml keys, spelled alike', () => {
    expect(new Set(table.map((r) => r.env)).size).toBe(table.length);
    expect(new Set(table.map((r) => r.yml)).size).toBe(table.length);
    for (const r of table) {
      expect(r.yml).toMatch(/^[a-z_]+\.[a-z_]+$/);
      expect(r.doc.length).toBeGreaterThan(10);
      for (const app of r.requiredFor) expect(r.usedBy).toContain(app);
    }
  });

  it("keeps the Python connector's names and config.yml keys", () => {
    const python: Array<[string, string, string]> = [
      ['OPENCTI_URL', 'opencti.url', ''],
      ['OPENCTI_TOKEN', 'opencti.token', ''],
      ['CONNECTOR_ID', 'connector.id', ''],
      ['CONNECTOR_TYPE', 'connector.type', 'STREAM'],
      ['CONNECTOR_NAME', 'connector.name', ''],
      ['CONNECTOR_SCOPE', 'connector.scope', ''],
      ['CONNECTOR_LOG_LEVEL', 'connector.log_level', 'info'],
      ['CONNECTOR_LIVE_STREAM_ID', 'connector.live_stream_id', ''],
      ['CONNECTOR_LIVE_STREAM_LISTEN_DELETE', 'connector.live_stream_listen_delete', 'true'],
      ['CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES', 'connector.live_stream_no_dependencies', 'true'],
      ['CONNECTOR_LIVE_STREAM_WITH_INFERENCES', 'connector.live_stream_with_inferences', 'false'],
      ['CONNECTOR_LIVE_STREAM_START_TIMESTAMP', 'connector.live_stream_start_timestamp', ''],
      ['CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE', 'connector.live_stream_recover_iso_date', ''],
      ['OPENCTI_SSL_VERIFY', 'opencti.ssl_verify', 'true'],
      ['SEKOIA_INTEL_URL', 'sekoia_intel.url', ''],
      ['SEKOIA_INTEL_APIKEY', 'sekoia_intel.apikey', ''],
      ['SEKOIA_INTEL_IOC_COLLECTION_UUID', 'sekoia_intel.ioc_collection_uuid', ''],
    ];
    for (const [env, yml, def] of python) {
      expect(table.find((r) => r.env === env)).toMatchObject({ yml, default: def });
    }
  });

  it('marks the secrets', () => {
    expect(table.filter((r) => r.secret).map((r) => r.env)).toEqual([
      'OPENCTI_TOKEN',
      'SEKOIA_INTEL_APIKEY',
      'SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY',
      'REDIS_SENTINEL_PASSWORD',
      'REDIS_PASSWORD',
      'DASHBOARD_PASSWORD',
    ]);
  });
});

describe('README table', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const region = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)?.[1];

  it('is the one generated from the schema (run `pnpm --filter @octi-sekoia/config readme-table`)', () => {
    expect(region).toBe(renderConfigTableMarkdown());
  });

  it('has one row per supported setting, none for the internal ones', () => {
    const rows = (region ?? '').split('\n').filter((l) => /^\| `[A-Z_]+` \|/.test(l));
    expect(rows.map((l) => /^\| `([A-Z_]+)`/.exec(l)?.[1])).toEqual(supported.map((r) => r.env));
    expect(table.filter((r) => r.internal).map((r) => r.env)).toContain('INGEST_LEASE_TTL_MS');
    expect(region).not.toContain('INGEST_LEASE_TTL_MS');
  });
});

describe('sample files (run `pnpm --filter @octi-sekoia/config samples`)', () => {
  const envExample = readFileSync(join(root, '.env.example'), 'utf8');
  const ymlSample = readFileSync(join(root, 'config.yml.sample'), 'utf8');

  it('.env.example names every supported setting and nothing else', () => {
    const names = [...envExample.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(names.sort()).toEqual(supported.map((r) => r.env).sort());
  });

  it('config.yml.sample names every supported key and nothing else', () => {
    const keys: string[] = [];
    let section = '';
    for (const line of ymlSample.split('\n')) {
      const s = /^([a-z_]+):\s*$/.exec(line);
      if (s) section = s[1]!;
      const k = /^ {2}(?:# )?([a-z_]+):/.exec(line);
      if (k) keys.push(`${section}.${k[1]}`);
    }
    expect(keys.sort()).toEqual(supported.map((r) => r.yml).sort());
  });

  it('config.yml.sample is YAML whose uncommented keys are exactly the ones with sample values', () => {
    const doc = YAML.parse(ymlSample) as Record<string, Record<string, unknown>>;
    const set = Object.entries(doc).flatMap(([section, body]) =>
      Object.keys(body ?? {}).map((k) => `${section}.${k}`),
    );
    const envSet = [...envExample.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(set.map((y) => table.find((r) => r.yml === y)!.env).sort()).toEqual(envSet.sort());
  });

  it('as shipped, the sample is refused for its placeholders, by name', () => {
    const err = problemsOf('ingest', {}, join(root, 'config.yml.sample'));
    expect(err.problems.map((p) => p.env).sort()).toEqual([
      'CONNECTOR_ID',
      'CONNECTOR_LIVE_STREAM_ID',
      'OPENCTI_TOKEN',
      'SEKOIA_INTEL_IOC_COLLECTION_UUID',
    ]);
    for (const p of err.problems) expect(p.line).toContain("is the placeholder 'ChangeMe'");
  });
});
