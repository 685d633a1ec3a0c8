// Value parsers shared by the schema: each takes a raw value (env string or config.yml scalar), returns the
// normalised value or throws `Invalid`. Placeholders, emptiness and quoting are handled before they run.

import { accessSync, constants } from 'node:fs';
import { LOG_LEVELS, type LogLevel } from '@octi-sekoia/logger';
import { unknownPlaceholders } from '@octi-sekoia/model';

/** A raw value as it comes from the environment (string) or config.yml (scalar or list). */
export type Raw = string | number | boolean | unknown[];

/** Thrown by a parser; `reason` is an optional detail shown before what is expected. */
export class Invalid extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? 'invalid');
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEKOIA_COLLECTIONS_PATH = '/v2/inthreat/ioc-collections';

export function asString(raw: Raw): string {
  if (Array.isArray(raw)) throw new Invalid('a list');
  return String(raw).trim();
}

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** The placeholder a value is, if it is one (`ChangeMe`, `CHANGEME`, `https://console.changeme.com`, `<token>`, `${VAR}`). */
export function placeholderOf(raw: Raw): string | undefined {
  const values = Array.isArray(raw) ? raw.map((v) => String(v)) : [String(raw)];
  for (const v of values) {
    const s = v.trim();
    if (/changeme/i.test(s)) return s;
    if (/^<[^>]*>$/.test(s)) return s;
    if (/^\$\{[^}]*\}$/.test(s)) return s;
  }
  return undefined;
}

export function bool(raw: Raw): boolean {
  if (typeof raw === 'boolean') return raw;
  const s = asString(raw).toLowerCase();
  // pycti also accepts yes/no.
  if (s === 'true' || s === 'yes') return true;
  if (s === 'false' || s === 'no') return false;
  throw new Invalid();
}

export function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: Raw): number => {
    const s = asString(raw);
    if (!/^-?\d+$/.test(s)) throw new Invalid(s.startsWith('tcp://') ? kubernetesHint : undefined);
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid('out of range');
    return n;
  };
}

// Kubernetes injects `<SERVICE>_PORT=tcp://ip:port` for every service: a service named "dashboard" collides.
const kubernetesHint =
  'looks like a Kubernetes service link: set it explicitly or use enableServiceLinks: false';

export function positiveNumber(max: number) {
  return (raw: Raw): number => {
    const s = asString(raw);
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(s)) throw new Invalid();
    const n = Number(s);
    if (!(n > 0) || n > max) throw new Invalid('out of range');
    return n;
  };
}

/** `a, b or c`: the choices of a setting, for its expected text. */
export function alternatives(choices: readonly string[]): string {
  return choices.length < 2 ? choices.join('') : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: Raw): T => {
    const s = asString(raw).toLowerCase();
    const found = choices.find((c) => c.toLowerCase() === s);
    if (found === undefined) throw new Invalid();
    return found;
  };
}

export function logLevel(raw: Raw): LogLevel {
  const level = LOG_LEVELS[asString(raw).toLowerCase()];
  if (!level) throw new Invalid();
  return level;
}

function parseUrl(s: string, protocols: string[]): URL {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new Invalid('not a URL');
  }
  if (!protocols.includes(url.protocol)) throw new Invalid(`scheme ${url.protocol.replace(/:$/, '')}`);
  if (!url.hostname) throw new Invalid('no host');
  return url;
}

/** http(s) base URL without query, fragment or trailing slash. */
export function httpBaseUrl(raw: Raw): string {
  const url = parseUrl(asString(raw), ['http:', 'https:']);
  if (url.search || url.hash) throw new Invalid('has a query or fragment');
  if (url.username || url.password) throw new Invalid('has credentials');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Sekoia API base; a URL already ending in `/v2/inthreat/ioc-collections` (the Python connector's form) is cut. */
export function sekoiaBaseUrl(raw: Raw): string {
  const base = httpBaseUrl(raw);
  const cut = base.toLowerCase().endsWith(SEKOIA_COLLECTIONS_PATH)
    ? base.slice(0, -SEKOIA_COLLECTIONS_PATH.length)
    : base;
  if (/\/v2(\/|$)/i.test(new URL(cut).pathname)) throw new Invalid(`path ${new URL(base).pathname}`);
  return cut.replace(/\/+$/, '');
}

export function redisUrl(raw: Raw): string {
  const s = asString(raw);
  const url = parseUrl(s, ['redis:', 'rediss:']);
  if (url.search || url.hash) throw new Invalid('has a query or fragment');
  if (url.pathname && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname))
    throw new Invalid('bad database');
  return s;
}

/**
 * `host:port,host:port,…` (REDIS_SENTINELS, REDIS_CLUSTER_NODES; a YAML list too): an IPv6 host in brackets,
 * the port always given (26379 for a sentinel and 6379 for a node are common, but a guess would hide a typo).
 */
export function hostPortList(raw: Raw): { host: string; port: number }[] {
  const items = Array.isArray(raw) ? raw.map((x) => String(x)) : asString(raw).split(',');
  const out: { host: string; port: number }[] = [];
  const seen = new Set<string>();
  for (const item of items.map((x) => x.trim())) {
    if (item === '') throw new Invalid('an empty entry');
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(item);
    const host = m?.[1] ?? m?.[2];
    const port = Number(m?.[3]);
    if (!m || !host || port < 1 || port > 65535) throw new Invalid(`'${item}' is not host:port`);
    if (seen.has(`${host}:${port}`)) throw new Invalid(`'${item}' is listed twice`);
    seen.add(`${host}:${port}`);
    out.push({ host, port });
  }
  return out;
}

/** A Sentinel master group name (`sentinel monitor <name> …`): no whitespace. */
export function sentinelMasterName(raw: Raw): string {
  const s = asString(raw);
  if (!/^[A-Za-z0-9._-]+$/.test(s)) throw new Invalid();
  return s;
}

export function uuid(raw: Raw): string {
  const s = asString(raw);
  if (!UUID.test(s)) throw new Invalid();
  return s;
}

/** `ioc-collection--<uuid>`; a bare UUID gets the prefix. */
export function iocCollectionId(raw: Raw): string {
  const s = asString(raw).toLowerCase();
  if (UUID.test(s)) return `ioc-collection--${s}`;
  const m = /^ioc-collection--(.+)$/.exec(s);
  if (m?.[1] && UUID.test(m[1])) return s;
  throw new Invalid();
}

export function connectorType(raw: Raw): 'STREAM' {
  if (asString(raw).toUpperCase() !== 'STREAM') throw new Invalid();
  return 'STREAM';
}

export function connectorName(raw: Raw): string {
  const s = asString(raw);
  if ([...s].length < 2) throw new Invalid('too short');
  return s;
}

/** Comma-separated like pycti, or a YAML list. */
export function scope(raw: Raw): string[] {
  const parts = Array.isArray(raw) ? raw.map((v) => String(v)) : asString(raw).split(',');
  const out = parts.map((p) => p.trim()).filter((p) => p.length > 0);
  if (out.length === 0) throw new Invalid();
  return out;
}

/** Used in the stream URL path: keep it to safe characters. */
export function streamId(raw: Raw): string {
  const s = asString(raw);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)) throw new Invalid();
  return s;
}

/** A credential sent in a header: one token, without a scheme. */
export function credential(raw: Raw): string {
  const s = asString(raw);
  if (/^(bearer|basic)\s/i.test(s)) throw new Invalid("includes the 'Bearer' prefix");
  if (/\s/.test(s)) throw new Invalid('contains whitespace');
  return s;
}

export function anyText(raw: Raw): string {
  return asString(raw);
}

export function epochMs(raw: Raw): number {
  const s = asString(raw);
  if (!/^\d{1,16}$/.test(s)) throw new Invalid();
  return Number(s);
}

/** An ISO date (UTC when no offset is given), or `no`/`none`/`false` = no recovery (pycti's spellings). */
export function recoverDate(raw: Raw): string | false {
  if (raw === false) return false;
  if (raw === true) throw new Invalid();
  const s = asString(raw);
  if (['no', 'none', 'false'].includes(s.toLowerCase())) return false;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(s);
  if (!m) throw new Invalid();
  const iso = `${m[1]}T${m[2] ?? '00:00:00'}${m[3] ?? 'Z'}`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Invalid();
  return new Date(t).toISOString().replace(/\.000Z$/, 'Z');
}

export function hostName(raw: Raw): string {
  const s = asString(raw);
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(s)) throw new Invalid();
  return s;
}

/** `/`-rooted, no trailing slash except the root itself. */
export function basePath(raw: Raw): string {
  const s = asString(raw);
  const path = `/${s}`.replace(/\/+/g, '/').replace(/\/$/, '');
  if (path === '') return '/';
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(path) || path.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw new Invalid();
  }
  return path;
}

/** Redis key namespace: segments of safe characters joined by `:`. */
export function keyPrefix(raw: Raw): string {
  const s = asString(raw);
  if (!/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$/.test(s)) throw new Invalid();
  return s;
}

export function readableFile(raw: Raw): string {
  const s = asString(raw);
  try {
    accessSync(s, constants.R_OK);
  } catch {
    throw new Invalid('not a readable file');
  }
  return s;
}

export function descriptionTemplate(raw: Raw): string {
  const s = asString(raw);
  // The renderer's own token rule (packages/model): `{name}`, case-insensitive; other braces are plain text.
  const unknown = unknownPlaceholders(s);
  if (unknown.length > 0) throw new Invalid(`unknown field ${unknown[0]}`);
  return s;
}

export function dashboardUsername(raw: Raw): string {
  const s = asString(raw);
  // Basic auth splits user and password on the first colon.
  if (s.includes(':')) throw new Invalid('contains a colon');
  return s;
}

export function dashboardPassword(raw: Raw): string {
  const s = asString(raw);
  if ([...s].length < 8) throw new Invalid('too short');
  return s;
}

/** `***`: not one character of a secret is shown (a prefix narrows a guess and is copied into tickets). */
export function maskSecret(_value: string): string {
  return '***';
}

/** A URL with its password (if any) masked. */
export function maskUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)([^/@]*)@/i, (_all, head: string) => `${head}***@`);
}

/** The password inside a URL, raw and decoded. */
export function urlPasswords(value: string): string[] {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:([^/@]*)@/i.exec(value);
  if (!m?.[1]) return [];
  let decoded = m[1];
  try {
    decoded = decodeURIComponent(m[1]);
  } catch {
    // keep the raw form
  }
  return [...new Set([m[1], decoded])];
}
