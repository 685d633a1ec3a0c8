import { hostname } from 'node:os';
import pino from 'pino';
import { REDACTED, redactJsonLine, secretVariants } from './redact.ts';

export { REDACTED, redact } from './redact.ts';

export type Logger = pino.Logger;

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** CONNECTOR_LOG_LEVEL names (pycti's/Python logging's and pino's) → pino level: what packages/config accepts. */
export const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
};

/** The configurable levels and `silent` (tests, tools). */
const LEVELS: Record<string, pino.LevelWithSilent> = { ...LOG_LEVELS, silent: 'silent' };

export function normalizeLevel(level: string): pino.LevelWithSilent {
  const found = LEVELS[level.trim().toLowerCase()];
  if (!found)
    throw new Error(`unknown log level '${level}': expected one of ${Object.keys(LEVELS).join(', ')}`);
  return found;
}

export interface LoggerOptions {
  /** pino or pycti level name (`warning` = `warn`, `critical` = `fatal`). */
  level: string;
  /** Logged as `name` on every line (the app). */
  name: string;
  /** Values never to print (token, API key, passwords): see @octi-sekoia/config's `secretsOf`. */
  secrets?: string[];
  /** Default: stdout, written synchronously so nothing is lost on exit. */
  destination?: NodeJS.WritableStream | pino.DestinationStream;
  /** Fields on every line (e.g. `{ connectorId }`). */
  base?: Record<string, unknown>;
}

// Structured paths censored before serialization; the line-level pass below catches every other place.
const REDACT_PATHS = [
  'authorization',
  'password',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'config.headers.authorization',
  'config.headers.Authorization',
  '*.config.headers.authorization',
  '*.config.headers.Authorization',
];

/** pino's error serializer without the transport objects an HTTP client error drags along. */
function errSerializer(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown;
  if (out && typeof out === 'object' && out !== err) {
    const o = out as Record<string, unknown>;
    delete o.request;
    const res = o.response;
    if (res && typeof res === 'object') {
      const r = res as Record<string, unknown>;
      o.response = { status: r.status, statusText: r.statusText, headers: r.headers, data: r.data };
    }
  }
  return out;
}

/** A pino JSON-lines logger whose every line is redacted (secrets, credentials, sensitive keys). */
export function createLogger(opts: LoggerOptions): Logger {
  const variants = secretVariants(opts.secrets ?? []);
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: normalizeLevel(opts.level),
      base: { pid: process.pid, hostname: hostname(), name: opts.name, ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: errSerializer, error: errSerializer },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      hooks: { streamWrite: (line) => redactJsonLine(line, variants) },
    },
    destination as pino.DestinationStream,
  );
}
