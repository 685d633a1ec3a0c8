import { canonicalValue, detectObservableType, type ObservableType } from '@octi-sekoia/stix';

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

/** An RFC 5952 (canonical) IPv6 address written out in full: 8 groups of 4 lower-case hex digits. */
export function expandIpv6(canonical: string): string {
  const [head, tail] = canonical.includes('::') ? canonical.split('::') : [canonical, undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0')).join(':');
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

/**
 * Phase names Sekoia's file-import documentation accepts (issue 14 row 8): the MITRE ATT&CK enterprise
 * tactics and the Lockheed Martin Cyber Kill Chain phases, in STIX's lower-case hyphenated spelling.
 */
export const KNOWN_KILL_CHAIN_PHASES: ReadonlySet<string> = new Set([
  'reconnaissance',
  'resource-development',
  'initial-access',
  'execution',
  'persistence',
  'privilege-escalation',
  'defense-evasion',
  'credential-access',
  'discovery',
  'lateral-movement',
  'collection',
  'command-and-control',
  'exfiltration',
  'impact',
  'weaponization',
  'delivery',
  'exploitation',
  'installation',
  'actions-on-objectives',
]);
