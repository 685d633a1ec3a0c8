import { APPS, type AppConfig, type AppName, VARS, type VarSpec } from './schema.ts';
import { maskSecret, maskUrlPassword, urlPasswords } from './values.ts';

/** Every secret value of the configuration, for log redaction. */
export function secretsOf(config: AppConfig): string[] {
  const all = [
    config.opencti.token,
    config.sekoiaIntel.apiKey,
    config.sekoiaIntel.probeViewOnlyApiKey,
    config.redis.password,
    config.redis.sentinelPassword,
    config.dashboard.password,
    ...urlPasswords(config.redis.url),
  ];
  return [...new Set(all.filter((s): s is string => typeof s === 'string' && s.length > 0))];
}

/** The effective configuration with secrets masked (for `check-config`). */
export function describeConfig(config: AppConfig): Record<string, unknown> {
  const copy = structuredClone(config) as AppConfig;
  const mask = (s: string | undefined) => (s ? maskSecret(s) : s);
  copy.opencti.token = mask(copy.opencti.token) ?? '';
  copy.sekoiaIntel.apiKey = mask(copy.sekoiaIntel.apiKey) ?? '';
  if (copy.sekoiaIntel.probeViewOnlyApiKey !== undefined) {
    copy.sekoiaIntel.probeViewOnlyApiKey = mask(copy.sekoiaIntel.probeViewOnlyApiKey);
  }
  if (copy.redis.password !== undefined) copy.redis.password = mask(copy.redis.password);
  if (copy.redis.sentinelPassword !== undefined)
    copy.redis.sentinelPassword = mask(copy.redis.sentinelPassword);
  if (copy.dashboard.password !== undefined) copy.dashboard.password = mask(copy.dashboard.password);
  copy.redis.url = maskUrlPassword(copy.redis.url);
  return copy as unknown as Record<string, unknown>;
}

export interface ConfigTableRow {
  env: string;
  yml: string;
  /** The default as written in env/yml, `''` when there is none. */
  default: string;
  requiredFor: AppName[];
  usedBy: AppName[];
  secret: boolean;
  /** Not part of the supported configuration (VarSpec.internal): not in the README table nor the samples. */
  internal: boolean;
  doc: string;
}

export function configTable(): ConfigTableRow[] {
  return VARS.map((s) => ({
    env: s.env,
    yml: s.yml,
    default: s.default === undefined ? '' : String(s.default),
    requiredFor: [...s.requiredFor],
    usedBy: [...s.usedBy],
    secret: s.secret === true,
    internal: s.internal === true,
    doc: s.doc,
  }));
}

const GENERATED =
  'Generated from packages/config/src/schema.ts by `pnpm --filter @octi-sekoia/config readme-table`';

function apps(list: AppName[]): string {
  if (list.length === 0) return '';
  if (APPS.every((a) => list.includes(a))) return 'all';
  return list.join(', ');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The README region between the config-table markers (without the markers). */
export function renderConfigTableMarkdown(): string {
  const lines = [
    `<!-- ${GENERATED}: do not edit by hand -->`,
    '',
    'Precedence: environment variable > `config.yml` > default. `config.yml` is read from the path in `CONFIG_FILE`',
    '(default: `config.yml` in the directory where the command was typed, when it exists: the repository root for',
    '`pnpm --filter ./apps/<app> start` and `pnpm cli` alike; a relative `CONFIG_FILE` is taken from there too).',
    'An empty variable counts as unset. Booleans take `true`/`false` in any',
    'case (`yes`/`no` too). Placeholders such as `ChangeMe` are rejected. Each app checks only what it uses and',
    'requires only what it needs; a bad configuration stops it with one `config error:` line per problem and exit code 2.',
    'Internal settings (for tests and incident work) are validated too but not listed here: `pnpm cli check-config',
    '--internal` shows them with their values.',
    '',
    '| Variable | `config.yml` key | Default | Required by | Used by | Description |',
    '|---|---|---|---|---|---|',
    ...configTable()
      .filter((r) => !r.internal)
      .map((r) => {
        const def = r.default === '' ? '' : `\`${r.default}\``;
        const doc = `${r.secret ? '**Secret.** ' : ''}${r.doc}`;
        return `| \`${r.env}\` | \`${r.yml}\` | ${cell(def)} | ${apps(r.requiredFor)} | ${apps(r.usedBy)} | ${cell(doc)} |`;
      }),
  ];
  return lines.join('\n');
}

/** Replaces the region between the markers of a README. */
export function replaceConfigTable(readme: string): string {
  const start = '<!-- config-table:start -->';
  const end = '<!-- config-table:end -->';
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < i) throw new Error('README has no config-table markers');
  return `${readme.slice(0, i + start.length)}\n${renderConfigTableMarkdown()}\n${readme.slice(j)}`;
}

const SECTION_TITLES: Record<string, string> = {
  opencti: 'OpenCTI',
  connector: 'Connector and live stream',
  sekoia_intel: 'Sekoia.io',
  redis: 'Redis',
  worker: 'Worker',
  ingest: 'Ingest',
  dashboard: 'Dashboard',
};

function sections(): Array<[string, VarSpec[]]> {
  const out = new Map<string, VarSpec[]>();
  for (const s of VARS) {
    if (s.internal) continue;
    const section = s.yml.split('.')[0] as string;
    out.set(section, [...(out.get(section) ?? []), s]);
  }
  return [...out.entries()];
}

function comment(s: VarSpec): string {
  const req = s.requiredFor.length > 0 ? ` Required by: ${apps(s.requiredFor)}.` : '';
  return `${s.doc}${req}`;
}

function wrap(text: string, prefix: string, width = 110): string[] {
  const lines: string[] = [];
  let line = prefix;
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > width && line.trim() !== prefix.trim()) {
      lines.push(line);
      line = prefix;
    }
    line += line === prefix ? word : ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/** `.env.example`: required settings set (to placeholders to replace), optional ones commented with their default. */
export function renderEnvExample(): string {
  const out = [
    '# Environment of the OpenCTI → Sekoia.io IOC collection sync.',
    `# ${GENERATED.replace('readme-table', 'samples')}.`,
    '# Precedence: environment > config.yml (path in CONFIG_FILE, default config.yml where the command is typed) > default.',
    '# Uncommented settings are required by some app: replace every ChangeMe. Commented ones show their default.',
  ];
  for (const [section, specs] of sections()) {
    out.push('', `# --- ${SECTION_TITLES[section] ?? section} ---`);
    for (const s of specs) {
      out.push(...wrap(comment(s), '# '));
      if (s.sample !== undefined) out.push(`${s.env}=${s.sample}`);
      else out.push(`# ${s.env}=${s.default === undefined ? '' : String(s.default)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

function yamlScalar(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  return `'${v.replace(/'/g, "''")}'`;
}

/** `config.yml.sample`: same content as `.env.example`, with the Python connector's keys. */
export function renderConfigYmlSample(): string {
  const out = [
    '# config.yml of the OpenCTI → Sekoia.io IOC collection sync.',
    `# ${GENERATED.replace('readme-table', 'samples')}.`,
    '# Environment variables override these values. Uncommented keys are required by some app: replace every',
    '# ChangeMe. Commented keys show their default.',
  ];
  for (const [section, specs] of sections()) {
    out.push('', `# --- ${SECTION_TITLES[section] ?? section} ---`, `${section}:`);
    for (const s of specs) {
      const key = s.yml.split('.')[1] as string;
      out.push(...wrap(`${comment(s)} (${s.env})`, '  # '));
      if (s.sample !== undefined) out.push(`  ${key}: ${yamlScalar(s.sample)}`);
      else out.push(`  # ${key}:${s.default === undefined ? '' : ` ${yamlScalar(s.default)}`}`);
    }
  }
  return `${out.join('\n')}\n`;
}

const hostPorts = (list: { host: string; port: number }[]) =>
  list.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(',');

/**
 * The environment that gives an app these Redis settings (the inverse of the loader for the `redis` section,
 * key prefix and dead-letter cap aside): `pnpm demo` and `pnpm bench` hand the operator's Redis to the apps they
 * start. Secrets included, so `secrets: false` leaves them out for a line shown to the operator.
 */
export function redisEnv(
  redis: AppConfig['redis'],
  opts: { secrets?: boolean } = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  if (redis.clusterNodes?.length) env.REDIS_CLUSTER_NODES = hostPorts(redis.clusterNodes);
  else if (redis.sentinels?.length) {
    env.REDIS_SENTINELS = hostPorts(redis.sentinels);
    if (redis.sentinelMaster) env.REDIS_SENTINEL_MASTER = redis.sentinelMaster;
  } else env.REDIS_URL = opts.secrets === false ? maskUrlPassword(redis.url) : redis.url;
  if (redis.username) env.REDIS_USERNAME = redis.username;
  if (redis.tls) env.REDIS_TLS = 'true';
  if (redis.tlsCaFile) env.REDIS_TLS_CA_FILE = redis.tlsCaFile;
  if (opts.secrets !== false) {
    if (redis.password) env.REDIS_PASSWORD = redis.password;
    if (redis.sentinelPassword) env.REDIS_SENTINEL_PASSWORD = redis.sentinelPassword;
  }
  return env;
}
