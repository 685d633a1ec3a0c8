import { existsSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import convict from 'convict';
import { boundProblem, SETTING_BOUNDS } from './bounds.ts';
import { type AppConfig, type AppName, VARS, type VarSpec, WAIVED_BY_NO_AUTH } from './schema.ts';
import { Invalid, maskSecret, maskUrlPassword, placeholderOf, type Raw, urlPasswords } from './values.ts';

/**
 * The YAML parser, loaded only when a config.yml is read: most deployments configure through the environment,
 * and loading it costs every app ~50 ms of CPU at start (issue 18 point 1, measured with process.cpuUsage).
 * Resolved from this module (under tsx) or from the bundle (an app's own dependency, as the containers ship).
 */
function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}

export interface ConfigProblem {
  /** Environment variable name (or CONFIG_FILE for a problem with the file itself). */
  env: string;
  /** config.yml key (`section.name`), `''` when none applies. */
  yml: string;
  /** The offending value, secrets masked; `''` when missing. */
  value: string;
  expected: string;
  /** One line that says it all. */
  line: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => p.line).join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * Where a command was typed: `INIT_CWD` when started through pnpm/npm (`pnpm --filter ./apps/worker start` runs
 * in apps/worker but was typed at the repository root), else the working directory (`node dist/main.js`).
 */
export function invocationDir(env: Record<string, string | undefined>, cwd = process.cwd()): string {
  const typedIn = env.INIT_CWD?.trim();
  return typedIn ? resolve(cwd, typedIn) : cwd;
}

/**
 * The one rule for which config.yml every app and the CLI read: `CONFIG_FILE` (a relative path is taken from
 * where the command was typed), else `config.yml` where the command was typed when it exists.
 */
export function configFilePath(
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): { path: string; explicit: boolean } | undefined {
  const base = invocationDir(env, cwd);
  const explicit = env.CONFIG_FILE?.trim();
  if (explicit) return { path: resolve(base, explicit), explicit: true };
  const path = resolve(base, 'config.yml');
  return existsSync(path) ? { path, explicit: false } : undefined;
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Path of config.yml (`''`: none); default: `configFilePath(env)`. */
  configFile?: string;
}

const SPEC_BY_YML = new Map(VARS.map((s) => [s.yml, s]));
const SPEC_BY_ENV = new Map(VARS.map((s) => [s.env, s]));
const SECTIONS = new Set(VARS.map((s) => s.yml.split('.')[0]));
/** AppConfig fields that are left out (rather than `''`) when not set. */
const OPTIONAL_PATHS = new Set([
  'connector.liveStreamStartTimestamp',
  'connector.liveStreamRecoverIsoDate',
  'redis.password',
  'redis.username',
  'redis.sentinels',
  'redis.sentinelMaster',
  'redis.sentinelPassword',
  'redis.clusterNodes',
  'redis.tlsCaFile',
  'dashboard.username',
  'dashboard.password',
  'tuning.writeHorizonMs',
]);
// Our own prefixes: an unknown variable under them is most likely a typo.
const OWN_PREFIXES = /^(SEKOIA_INTEL|REDIS|WORKER|INGEST|DASHBOARD|TUNING)_/;
// Kubernetes service links (`<SERVICE>_PORT_80_TCP_ADDR`, `<SERVICE>_SERVICE_HOST`…) are not typos.
const SERVICE_LINK = /_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;
const TEST_ENV = new Set(['REDIS_TEST_URL']);
/** Settings that may be a YAML list in config.yml (the env form is comma-separated). */
const LIST_OK = new Set(['CONNECTOR_SCOPE', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES']);
/** The three Redis topologies: exactly one may be given (README, "Redis topologies"). */
const TOPOLOGIES = [
  { env: 'REDIS_URL', what: 'standalone' },
  { env: 'REDIS_SENTINELS', what: 'Sentinel, with REDIS_SENTINEL_MASTER' },
  { env: 'REDIS_CLUSTER_NODES', what: 'Cluster' },
] as const;

function names(spec: { env: string; yml: string }): string {
  return spec.yml ? `${spec.env} (${spec.yml})` : spec.env;
}

function display(raw: Raw): string {
  const s = Array.isArray(raw) ? JSON.stringify(raw) : String(raw).trim();
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

interface YmlResult {
  values: Record<string, Record<string, Raw>>;
  /** yml keys set to an empty value. */
  empty: Set<string>;
  file?: string;
}

function readYml(path: string | undefined, explicit: boolean, problems: ConfigProblem[], warnings: string[]) {
  const result: YmlResult = { values: {}, empty: new Set() };
  if (!path) return result;
  const fileProblem = (what: string, expected: string) =>
    problems.push({
      env: 'CONFIG_FILE',
      yml: '',
      value: path,
      expected,
      line: `CONFIG_FILE '${path}' ${what}: expected ${expected}`,
    });
  if (!existsSync(path)) {
    if (explicit) fileProblem('does not exist', 'the path of a readable config.yml');
    return result;
  }
  result.file = path;
  let doc: unknown;
  try {
    doc = loadYaml().parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    fileProblem(`is not valid YAML (${detail})`, 'a YAML mapping of sections (opencti, connector, …)');
    return result;
  }
  if (doc === null || doc === undefined) return result;
  if (!isPlainObject(doc)) {
    fileProblem('is not a mapping', 'a YAML mapping of sections (opencti, connector, …)');
    return result;
  }
  for (const [section, body] of Object.entries(doc)) {
    if (!SECTIONS.has(section)) {
      warnings.push(`config.yml: unknown section '${section}' is ignored`);
      continue;
    }
    if (body === null || body === undefined) continue;
    if (!isPlainObject(body)) {
      problems.push({
        env: 'CONFIG_FILE',
        yml: section,
        value: display(body as Raw),
        expected: 'a mapping of keys',
        line: `config.yml section '${section}' is not a mapping: expected a mapping of keys`,
      });
      continue;
    }
    for (const [key, value] of Object.entries(body)) {
      const yml = `${section}.${key}`;
      const spec = SPEC_BY_YML.get(yml);
      if (!spec) {
        warnings.push(`config.yml: unknown key '${yml}' is ignored`);
        continue;
      }
      if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) {
        result.empty.add(yml);
        continue;
      }
      const listOk = Array.isArray(value) && LIST_OK.has(spec.env);
      if (isPlainObject(value) || (Array.isArray(value) && !listOk) || value instanceof Date) {
        const shown = spec.secret ? '***' : display(JSON.stringify(value));
        problems.push({
          env: spec.env,
          yml,
          value: shown,
          expected: spec.expected,
          line: `${names(spec)} is not a single value: expected ${spec.expected}`,
        });
        continue;
      }
      result.values[section] ??= {};
      (result.values[section] as Record<string, Raw>)[key] = value as Raw;
    }
  }
  return result;
}

function convictSchema() {
  const schema: Record<string, Record<string, unknown>> = {};
  for (const spec of VARS) {
    const [section, key] = spec.yml.split('.') as [string, string];
    schema[section] ??= {};
    (schema[section] as Record<string, unknown>)[key] = {
      doc: spec.doc,
      format: '*',
      default: spec.default ?? null,
      env: spec.env,
      sensitive: spec.secret === true,
    };
  }
  return schema;
}

function getPath(source: Record<string, unknown>, path: string): unknown {
  const [section, key] = path.split('.') as [string, string];
  return (source[section] as Record<string, unknown> | undefined)?.[key];
}

function setPath(target: Record<string, unknown>, path: string, value: unknown) {
  const [section, key] = path.split('.') as [string, string];
  target[section] ??= {};
  (target[section] as Record<string, unknown>)[key] = value;
}

/**
 * Loads and validates the configuration for one app: env > config.yml > default.
 * Only what the app uses is validated; what it requires must be present.
 * Throws ConfigError with one line per problem.
 */
export function loadConfig(app: AppName, opts: LoadOptions = {}): { config: AppConfig; warnings: string[] } {
  const { config, warnings, problems } = evaluate(app, opts);
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, warnings };
}

/**
 * The Redis settings alone, checked by the same rules as the apps' (for `pnpm demo` and `pnpm bench`, which
 * start the apps themselves and take only the operator's Redis from the environment; no config.yml).
 * Throws ConfigError with the REDIS_* problems only.
 */
export function loadRedisConfig(env: Record<string, string | undefined>): AppConfig['redis'] {
  const redisOnly: Record<string, string | undefined> = {};
  for (const [k, val] of Object.entries(env)) if (k.startsWith('REDIS_')) redisOnly[k] = val;
  const { config, problems } = evaluate('cli', { env: redisOnly, configFile: '' });
  const own = problems.filter((p) => p.env.startsWith('REDIS_'));
  if (own.length > 0) throw new ConfigError(own);
  return config.redis;
}

function evaluate(app: AppName, opts: LoadOptions) {
  const env = opts.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];

  // configFile '' = no config.yml at all.
  const file =
    opts.configFile !== undefined
      ? opts.configFile
        ? { path: opts.configFile, explicit: true }
        : undefined
      : configFilePath(env);
  const yml = readYml(file?.path, file?.explicit ?? false, problems, warnings);

  // An empty variable counts as unset (compose's `${VAR}` of an unset VAR): config.yml or the default apply.
  const emptyEnv = new Set<string>();
  const cleanEnv: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) {
    if (val === undefined) continue;
    if (val.trim() === '') emptyEnv.add(k);
    else cleanEnv[k] = val;
  }
  for (const k of Object.keys(cleanEnv)) {
    if (OWN_PREFIXES.test(k) && !SPEC_BY_ENV.has(k) && !SERVICE_LINK.test(k) && !TEST_ENV.has(k)) {
      warnings.push(`unknown variable ${k} is ignored`);
    }
  }

  const conf = convict(convictSchema() as convict.Schema<Record<string, unknown>>, {
    env: cleanEnv,
    args: [],
  });
  conf.load(yml.values);

  const raws = new Map<VarSpec, Raw | null>();
  for (const spec of VARS) raws.set(spec, conf.get(spec.yml as never) as Raw | null);

  // Every secret as given, so no line ever prints one, even one pasted into the wrong setting.
  const secrets = new Set<string>();
  for (const [spec, raw] of raws) {
    if (raw === null || Array.isArray(raw)) continue;
    const s = String(raw).trim();
    if (spec.secret && s.length >= 4) secrets.add(s);
    if (spec.env === 'REDIS_URL') for (const pw of urlPasswords(s)) if (pw.length >= 4) secrets.add(pw);
  }
  const shown = (spec: VarSpec, raw: Raw) => {
    let s = display(raw);
    if (spec.secret) return maskSecret(s);
    if (spec.env === 'REDIS_URL') s = maskUrlPassword(s);
    for (const secret of secrets) s = s.split(secret).join('***');
    return s;
  };
  const reported = new Set<string>();
  const report = (spec: VarSpec, what: string, value: string, expected = spec.expected) => {
    reported.add(spec.env);
    problems.push({
      env: spec.env,
      yml: spec.yml,
      value,
      expected,
      line: `${names(spec)} ${what}: expected ${expected}`,
    });
  };

  // Given by the operator (env or config.yml, valid or not): a default does not count.
  const given = (env: string) => {
    const s = SPEC_BY_ENV.get(env)!;
    const [section, key] = s.yml.split('.') as [string, string];
    return cleanEnv[env] !== undefined || yml.values[section]?.[key] !== undefined;
  };

  const values: Record<string, unknown> = {};
  const isSet = new Set<string>();
  const noAuthSpec = VARS.find((s) => s.env === 'DASHBOARD_NO_AUTH')!;
  let noAuth = false;
  try {
    const rawNoAuth = raws.get(noAuthSpec);
    noAuth = rawNoAuth === null || rawNoAuth === undefined ? false : (noAuthSpec.parse(rawNoAuth) as boolean);
  } catch {
    // reported below with the other values
  }

  for (const spec of VARS) {
    const used = spec.usedBy.includes(app);
    const required =
      spec.requiredFor.includes(app) && !(app === 'dashboard' && noAuth && WAIVED_BY_NO_AUTH.has(spec.env));
    let raw = raws.get(spec) ?? null;
    if (typeof raw === 'string' && raw.trim() === '') raw = null;
    const fallback = () => {
      if (spec.default !== undefined) setPath(values, spec.path, spec.parse(spec.default));
      else if (!OPTIONAL_PATHS.has(spec.path))
        setPath(values, spec.path, spec.env === 'CONNECTOR_SCOPE' ? [] : '');
    };

    if (raw === null) {
      if (required) {
        const empty = emptyEnv.has(spec.env) || yml.empty.has(spec.yml);
        report(spec, empty ? 'is empty' : 'is missing', '');
      }
      fallback();
      continue;
    }
    const placeholder = placeholderOf(raw);
    if (placeholder !== undefined) {
      if (used) report(spec, `is the placeholder '${placeholder}'`, placeholder);
      fallback();
      continue;
    }
    try {
      if (typeof raw === 'string' && /^(['"]).*\1$/s.test(raw.trim()) && raw.trim().length >= 2) {
        throw new Invalid('wrapped in quotes: remove them');
      }
      setPath(values, spec.path, spec.parse(raw));
      isSet.add(spec.env);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      if (used) {
        const why = err.reason ? ` (${err.reason})` : '';
        report(spec, `= '${shown(spec, raw)}' is invalid${why}`, shown(spec, raw));
      }
      fallback();
    }
  }

  const config = values as unknown as AppConfig;
  const spec = (env: string) => SPEC_BY_ENV.get(env)!;
  // Only when both sides are valid: a fallback default would make a second, misleading line.
  const related = (a: string, b: string) =>
    spec(a).usedBy.includes(app) && !reported.has(a) && !reported.has(b);

  // Relations between settings, checked only when both sides were valid.
  for (const bound of SETTING_BOUNDS) {
    if (!related(bound.setting, bound.other)) continue;
    const value = getPath(values, spec(bound.setting).path) as number;
    const problem = boundProblem(bound, value, getPath(values, spec(bound.other).path) as number);
    if (problem) report(spec(bound.setting), problem.what, String(value), problem.expected);
  }

  redisTopologyProblems(given, report);
  config.redis.tls =
    config.redis.tls ||
    (!given('REDIS_SENTINELS') && !given('REDIS_CLUSTER_NODES') && config.redis.url.startsWith('rediss:'));

  if ((app === 'ingest' || app === 'cli') && !config.connector.liveStreamListenDelete) {
    warnings.push(
      'CONNECTOR_LIVE_STREAM_LISTEN_DELETE (connector.live_stream_listen_delete) is false: indicators deleted in OpenCTI will never be removed from the Sekoia.io collection',
    );
  }
  if (app === 'ingest') {
    if (!config.connector.liveStreamNoDependencies) {
      warnings.push(
        'CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES (connector.live_stream_no_dependencies) is false: the stream also sends dependencies, which are read and skipped',
      );
    }
    if (!config.opencti.sslVerify && config.opencti.url.startsWith('https:')) {
      warnings.push(
        "OPENCTI_SSL_VERIFY (opencti.ssl_verify) is false: OpenCTI's TLS certificate is not verified",
      );
    }
    const ts = config.connector.liveStreamStartTimestamp;
    if (ts !== undefined && ts > 0 && ts < 100_000_000_000) {
      warnings.push(
        `CONNECTOR_LIVE_STREAM_START_TIMESTAMP (connector.live_stream_start_timestamp) = ${ts} looks like seconds: it is read as milliseconds (${new Date(ts).toISOString()})`,
      );
    }
  }
  if (app === 'worker' && config.sekoiaIntel.url) {
    const u = new URL(config.sekoiaIntel.url);
    if (u.hostname.startsWith('app.') && (u.pathname === '/' || u.pathname === '')) {
      warnings.push(
        `SEKOIA_INTEL_URL (sekoia_intel.url) = '${config.sekoiaIntel.url}' looks like the web console: the API base is usually ${config.sekoiaIntel.url}/api`,
      );
    }
  }
  if (config.redis.tlsCaFile && !config.redis.tls) {
    warnings.push(
      'REDIS_TLS_CA_FILE (redis.tls_ca_file) is ignored: REDIS_TLS is false and REDIS_URL is not rediss://',
    );
  }
  if (
    config.redis.username &&
    given('REDIS_URL') &&
    /^[a-z]+:\/\/[^/@:]+(:[^/@]*)?@/i.test(config.redis.url)
  ) {
    warnings.push('REDIS_USERNAME (redis.username) overrides the user in REDIS_URL');
  }
  if (config.redis.password && urlPasswords(config.redis.url).length > 0) {
    warnings.push('REDIS_PASSWORD (redis.password) overrides the password in REDIS_URL');
  }
  if (app === 'dashboard' && noAuth) {
    warnings.push(
      'DASHBOARD_NO_AUTH (dashboard.no_auth) is true: the dashboard has no authentication; only expose it behind an authenticating proxy',
    );
    if (isSet.has('DASHBOARD_USERNAME') || isSet.has('DASHBOARD_PASSWORD')) {
      warnings.push('DASHBOARD_USERNAME and DASHBOARD_PASSWORD are ignored: DASHBOARD_NO_AUTH is true');
    }
  }

  if (app === 'dashboard' && noAuth) {
    delete config.dashboard.username;
    delete config.dashboard.password;
  }
  return { config, warnings, problems };
}

/**
 * Exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES (none: REDIS_URL's default); the Sentinel
 * settings only with REDIS_SENTINELS, which needs REDIS_SENTINEL_MASTER.
 */
function redisTopologyProblems(
  given: (env: string) => boolean,
  report: (spec: VarSpec, what: string, value: string, expected?: string) => void,
) {
  const spec = (env: string) => SPEC_BY_ENV.get(env)!;
  const set = TOPOLOGIES.filter((t) => given(t.env));
  if (set.length > 1) {
    const names = set.map((t) => t.env);
    report(
      spec(names[0]!),
      `and ${names.slice(1).join(' and ')} are ${names.length === 2 ? 'both' : 'all'} set, but only one Redis topology may be`,
      '',
      `exactly one of ${TOPOLOGIES.map((t) => `${t.env} (${t.what})`).join(', ')}`,
    );
  }
  const sentinels = given('REDIS_SENTINELS');
  if (sentinels && !given('REDIS_SENTINEL_MASTER')) {
    report(
      spec('REDIS_SENTINEL_MASTER'),
      'is missing (REDIS_SENTINELS is set)',
      '',
      'the master name the sentinels monitor',
    );
  }
  for (const env of ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD']) {
    if (!sentinels && given(env)) {
      report(spec(env), 'is set but REDIS_SENTINELS is not', '', 'REDIS_SENTINELS with it, or neither');
    }
  }
}

/**
 * For main.ts: the configuration, or one `config error: <line>` per problem on stderr and exit code 2.
 */
export function startupConfig(app: AppName): { config: AppConfig; warnings: string[] } {
  try {
    return loadConfig(app);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Synchronous write: nothing may be lost to the exit that follows.
    writeSync(2, err.problems.map((p) => `config error: ${p.line}\n`).join(''));
    process.exit(2);
  }
}
