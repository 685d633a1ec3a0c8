import {
  type AppName,
  ConfigError,
  type ConfigProblem,
  configFilePath,
  configTable,
  describeConfig,
  loadConfig,
  secretsOf,
} from '@octi-sekoia/config';
import { parseArgs } from './args.ts';
import { EXIT_OK, EXIT_USAGE, type Io, UsageError } from './io.ts';

/** The apps check-config validates by default (the CLI's own settings are a subset of theirs). */
const SERVICE_APPS: readonly AppName[] = ['ingest', 'worker', 'dashboard'];
const ALL_APPS: readonly AppName[] = [...SERVICE_APPS, 'cli'];

export interface AppCheck {
  ok: boolean;
  problems: ConfigProblem[];
  warnings: string[];
  /** The effective configuration with secrets masked (describeConfig); null when invalid. */
  config: Record<string, unknown> | null;
}

/** One app's verdict, and the secrets its configuration holds (to keep them out of the output). */
export function checkApp(
  app: AppName,
  env: Record<string, string | undefined>,
): { check: AppCheck; secrets: string[] } {
  try {
    const { config, warnings } = loadConfig(app, { env });
    return {
      check: { ok: true, problems: [], warnings, config: describeConfig(config) },
      secrets: secretsOf(config),
    };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { check: { ok: false, problems: err.problems, warnings: [], config: null }, secrets: [] };
  }
}

const norm = (s: string) => s.toLowerCase().replace(/_/g, '');

/** The value of a `section.key` setting in a described configuration (camelCase paths). */
function lookup(described: Record<string, unknown>, yml: string): unknown {
  const [section = '', key = ''] = yml.split('.');
  const sec = Object.entries(described).find(([k]) => norm(k) === norm(section))?.[1];
  if (typeof sec !== 'object' || sec === null) return undefined;
  return Object.entries(sec as Record<string, unknown>).find(([k]) => norm(k) === norm(key))?.[1];
}

function shown(value: unknown): string {
  if (value === undefined || value === '') return '(not set)';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',');
  return String(value);
}

/** The config.yml in use, as loadConfig picks it. */
function configFileOf(env: Record<string, string | undefined>): string | null {
  return configFilePath(env)?.path ?? null;
}

export async function checkConfigCommand(io: Io, args: readonly string[]): Promise<number> {
  const { flags, options } = parseArgs('check-config', args, {
    flags: ['--json', '--internal'],
    options: ['--app'],
  });
  const only = options.get('--app');
  if (only !== undefined && !(ALL_APPS as readonly string[]).includes(only)) {
    throw new UsageError(
      `check-config: --app must be one of ${ALL_APPS.join(', ')}, got ${JSON.stringify(only)}`,
    );
  }
  const apps = only ? [only as AppName] : SERVICE_APPS;
  const table = configTable();
  // Secret values as given (environment), and as loaded (config.yml too): never printed, whatever happens.
  io.addSecrets(table.filter((r) => r.secret).map((r) => io.env[r.env]));
  const results = new Map<AppName, AppCheck>();
  for (const app of apps) {
    const { check, secrets } = checkApp(app, io.env);
    io.addSecrets(secrets);
    results.set(app, check);
  }
  const ok = [...results.values()].every((r) => r.ok);
  const configFile = configFileOf(io.env);

  if (flags.has('--json')) {
    io.json({ ok, configFile, apps: Object.fromEntries(results) });
    return ok ? EXIT_OK : EXIT_USAGE;
  }

  io.out(`config.yml: ${configFile ?? 'none (environment variables and defaults only)'}`);
  for (const [app, r] of results) {
    io.out('');
    if (!r.ok) {
      io.out(`${app}: INVALID (${r.problems.length === 1 ? '1 problem' : `${r.problems.length} problems`})`);
      for (const p of r.problems) io.out(`  config error: ${p.line}`);
      continue;
    }
    io.out(`${app}: valid; effective configuration (secrets masked):`);
    // Internal settings (VarSpec.internal) only on request: they are not part of the supported configuration.
    const rows = table
      .filter((row) => row.usedBy.includes(app) && (!row.internal || flags.has('--internal')))
      .map((row) => [row.env, shown(lookup(r.config ?? {}, row.yml))] as const);
    const width = Math.max(...rows.map(([env]) => env.length));
    for (const [env, value] of rows) io.out(`  ${env.padEnd(width)}  ${value}`);
    for (const w of r.warnings) io.out(`  warning: ${w}`);
  }
  io.out('');
  const verdict = [...results].map(([app, r]) => `${app} ${r.ok ? 'valid' : 'INVALID'}`).join(', ');
  io.out(`check-config: ${verdict}`);
  return ok ? EXIT_OK : EXIT_USAGE;
}
