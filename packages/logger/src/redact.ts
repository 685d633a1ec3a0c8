// Secret redaction for text, JSON log lines and values. Three nets, because one always has a hole:
// known secret values (in every encoding they may take), credential syntax (`Bearer x`, `scheme://user:pw@`),
// and sensitive key names (`authorization`, `password`, …) at any depth.

import { inspect } from 'node:util';

export const REDACTED = '[REDACTED]';

/** Secrets shorter than this are ignored: replacing 1–3 characters everywhere would shred every line. */
export const MIN_SECRET_LENGTH = 4;

const SENSITIVE_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'api_key',
  'apikey',
  'password',
  'passwd',
  'client_secret',
  'access_token',
  'refresh_token',
];
const SENSITIVE = new Set(SENSITIVE_KEYS);
const KEY_ALT = SENSITIVE_KEYS.map((k) => k.replace(/[-_]/g, '[-_]?')).join('|');

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE.has(key.toLowerCase());
}

// `Bearer <anything up to a delimiter>`; `Basic` only with a base64-looking credential (the word is common).
const BEARER = /\b(Bearer)(\s+)[^\s"'\\,;)}\]]+/gi;
const BASIC = /\b(Basic)(\s+)[A-Za-z0-9+/]{8,}={0,2}/gi;
// userinfo of any URL: `redis://:pw@`, `https://user:pw@`, `https://token@`.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@"'\\<>]*)@/gi;
// Query parameters and `key: 'value'` / `key=value` text (util.inspect output, header dumps).
const QUERY_PARAM = new RegExp(`([?&](?:${KEY_ALT}|token)=)[^&#\\s"'\\\\]+`, 'gi');
const INLINE_PAIR = new RegExp(`\\b(${KEY_ALT})(['"]?\\s*[:=]\\s*)(['"])((?:(?!\\3).)*)\\3`, 'gi');
// In a JSON line: `"authorization":"…"` (or a number), and the escaped form inside a JSON string.
const JSON_PAIR = new RegExp(`("(?:${KEY_ALT})"\\s*:\\s*)(?:"(?:[^"\\\\]|\\\\.)*"|-?\\d[\\d.eE+-]*)`, 'gi');
const ESCAPED_JSON_PAIR = new RegExp(`(\\\\"(?:${KEY_ALT})\\\\"\\s*:\\s*)\\\\"(?:(?!\\\\").)*\\\\"`, 'gi');
const STRING_LITERAL = /"(?:[^"\\]|\\.)*"/g;

const json = (s: string) => JSON.stringify(s).slice(1, -1);

/**
 * Every form a secret may take in our output: raw, as util.inspect or a backslash-escaper prints it,
 * each JSON-escaped once and twice (JSON in a string in a JSON line), and URL-encoded.
 */
export function secretVariants(secrets: readonly string[]): string[] {
  const out = new Set<string>();
  for (const s of secrets) {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) continue;
    for (const base of [s, inspect(s).slice(1, -1), s.replace(/\\/g, '\\\\')]) {
      out
        .add(base)
        .add(json(base))
        .add(json(json(base)));
    }
    out.add(encodeURIComponent(s)).add(encodeURIComponent(s).replace(/%20/g, '+'));
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

function replaceAll(text: string, variants: readonly string[]): string {
  for (const v of variants) if (text.includes(v)) text = text.split(v).join(REDACTED);
  return text;
}

function redactSyntax(text: string): string {
  return text
    .replace(BEARER, `$1$2${REDACTED}`)
    .replace(BASIC, `$1$2${REDACTED}`)
    .replace(URL_USERINFO, (_all, scheme: string, userinfo: string) => {
      if (userinfo === REDACTED || userinfo.endsWith(`:${REDACTED}`)) return `${scheme}${userinfo}@`;
      const colon = userinfo.indexOf(':');
      return colon >= 0 ? `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@` : `${scheme}${REDACTED}@`;
    })
    .replace(QUERY_PARAM, `$1${REDACTED}`)
    .replace(INLINE_PAIR, `$1$2$3${REDACTED}$3`);
}

function redactWith(text: string, variants: readonly string[]): string {
  // Text may itself hold JSON (a response body): censor its sensitive keys, plain and escaped.
  return redactSyntax(replaceAll(text, variants))
    .replace(JSON_PAIR, `$1"${REDACTED}"`)
    .replace(ESCAPED_JSON_PAIR, `$1\\"${REDACTED}\\"`);
}

/** Redacts free text (an error message, a stack, a URL). */
export function redact(text: string, secrets: readonly string[]): string {
  return redactWith(text, secretVariants(secrets));
}

/**
 * Redacts one serialized JSON line. Each string literal is decoded, redacted as text and re-encoded, so the
 * line stays valid JSON whatever the secret looks like; then sensitive keys are censored at any depth.
 */
export function redactJsonLine(line: string, variants: readonly string[]): string {
  return line
    .replace(STRING_LITERAL, (lit) => {
      let text: string;
      try {
        text = JSON.parse(lit) as string;
      } catch {
        return lit;
      }
      const out = redactWith(text, variants);
      return out === text ? lit : JSON.stringify(out);
    })
    .replace(JSON_PAIR, `$1"${REDACTED}"`);
}

/** A deep copy of `value` with every secret redacted (strings, keys' values, errors, maps); cycles are kept. */
export function redactValue<T>(value: T, secrets: readonly string[]): T {
  const variants = secretVariants(secrets);
  const seen = new WeakMap<object, unknown>();

  const walk = (v: unknown, key?: string): unknown => {
    if (key !== undefined && isSensitiveKey(key) && (typeof v === 'string' || typeof v === 'number')) {
      return REDACTED;
    }
    if (typeof v === 'string') return redactWith(v, variants);
    if (typeof v !== 'object' || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    if (v instanceof Date || v instanceof RegExp || ArrayBuffer.isView(v) || v instanceof ArrayBuffer)
      return v;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      seen.set(v, out);
      for (const item of v) out.push(walk(item));
      return out;
    }
    if (v instanceof Map) {
      const out = new Map();
      seen.set(v, out);
      for (const [k, item] of v) out.set(walk(k), walk(item, typeof k === 'string' ? k : undefined));
      return out;
    }
    if (v instanceof Set) {
      const out = new Set();
      seen.set(v, out);
      for (const item of v) out.add(walk(item));
      return out;
    }
    const out = Object.create(Object.getPrototypeOf(v)) as Record<string, unknown>;
    seen.set(v, out);
    // Errors keep message and stack as own non-enumerable properties: copy those too.
    const names = v instanceof Error ? Object.getOwnPropertyNames(v) : Object.keys(v);
    for (const name of names) {
      const desc = Object.getOwnPropertyDescriptor(v, name);
      if (!desc || !('value' in desc)) continue;
      Object.defineProperty(out, name, { ...desc, value: walk(desc.value, name) });
    }
    return out;
  };
  return walk(value) as T;
}
