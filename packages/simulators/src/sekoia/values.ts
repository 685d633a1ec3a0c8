import { canonicalValue, detectObservableType, expandIpv6, type ObservableType } from '@octi-sekoia/stix';

/** A value as the simulator understands it: Sekoia works out the type from the value alone. */
export interface AnalysedValue {
  /** Dedup identity. */
  canonical: string;
  type: ObservableType;
}

/** Type + canonical form, or undefined when no type can be detected (Sekoia would reject it). */
export function analyseValue(raw: string): AnalysedValue | undefined {
  const trimmed = raw.trim();
  if (trimmed === '') return undefined;
  const canonical = canonicalValue(trimmed);
  if (canonical === undefined) return undefined;
  const type = detectObservableType(trimmed) ?? detectObservableType(canonical);
  if (type === undefined) return undefined;
  return { canonical, type };
}

const HASH_KEYS: Partial<Record<ObservableType, string>> = {
  'file:hashes.MD5': 'MD5',
  'file:hashes.SHA-1': "'SHA-1'",
  'file:hashes.SHA-256': "'SHA-256'",
  'file:hashes.SHA-512': "'SHA-512'",
};

export function isHashType(type: ObservableType): boolean {
  return type in HASH_KEYS;
}

/** STIX object type Sekoia reports in `x_ic_observable_types`. */
export function observableObjectType(type: ObservableType): string {
  return isHashType(type) ? 'file' : type;
}

/** STIX string literal: only `\` and `'` are escaped. */
function stixString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** One comparison; hashed keys with a hyphen must be quoted in STIX (`file:hashes.'SHA-256'`). */
function comparison(type: ObservableType, value: string): string {
  const hashKey = HASH_KEYS[type];
  const path = hashKey ? `file:hashes.${hashKey}` : `${type}:value`;
  return `${path} = ${stixString(value)}`;
}

/** The pattern Sekoia builds, e.g. `[ipv4-addr:value = '94.24.86.201']`; several hashes of one file are OR-ed. */
export function buildPattern(parts: Array<{ type: ObservableType; value: string }>): string {
  return `[${parts.map((p) => comparison(p.type, p.value)).join(' OR ')}]`;
}

/** `format` values of POST /indicators/text that Sekoia's own clients send, and the types each allows. */
export const TEXT_FORMATS: Record<string, (type: ObservableType) => boolean> = {
  'ipv4-addr.value': (t) => t === 'ipv4-addr',
  'ipv6-addr.value': (t) => t === 'ipv6-addr',
  'domain-name.value': (t) => t === 'domain-name',
  'url.value': (t) => t === 'url',
  'email-addr.value': (t) => t === 'email-addr',
  'file.hashes': (t) => isHashType(t),
  one_per_line: () => true,
};

const DAY_MS = 86_400_000;

/**
 * Server-side default validity when no valid_until is given. Assumption from DOC-BL (stated for the blocklist
 * playbook): 30 days for IPs, 6 months for domains and URLs; none for other types.
 */
export function defaultValidityMs(type: ObservableType): number | undefined {
  if (type === 'ipv4-addr' || type === 'ipv6-addr') return 30 * DAY_MS;
  if (type === 'domain-name' || type === 'url') return 180 * DAY_MS;
  return undefined;
}

const HASH_LABELS: Partial<Record<ObservableType, string>> = {
  'file:hashes.MD5': 'MD5',
  'file:hashes.SHA-1': 'SHA-1',
  'file:hashes.SHA-256': 'SHA-256',
  'file:hashes.SHA-512': 'SHA-512',
};

export type ItemNameMode = 'as-sent' | 'canonical' | 'upper-hashes' | 'ipv6-expanded' | 'file-hashes';

/** The `name` the simulator gives a new indicator under each `itemName` switch (issue 14 row 1). */
export function indicatorName(
  mode: ItemNameMode,
  sent: string,
  parts: Array<{ type: ObservableType; canonical: string }>,
): string {
  if (mode === 'as-sent') return sent;
  const first = parts[0]!;
  if (mode === 'file-hashes' && isHashType(first.type)) {
    return parts.map((p) => `${HASH_LABELS[p.type]}:${p.canonical}`).join(', ');
  }
  const names = parts.map((p) => {
    if (mode === 'upper-hashes' && isHashType(p.type)) return p.canonical.toUpperCase();
    if (mode === 'ipv6-expanded' && p.type === 'ipv6-addr') return expandIpv6(p.canonical);
    return p.canonical;
  });
  return names.join(',');
}
