/**
 * Canonical IOC values and per-type validation: the one place every package compares values.
 *
 * Sekoia detects an indicator's type from its value alone, so a value is identified by its canonical
 * string. Invariant (tested): when `canonicalize(t, x)` accepts, its value `v` satisfies
 * `detectObservableType(v) === t` and `canonicalize(t, v).value === v`.
 *
 * Hand-written scanners, no regular expressions with backtracking: values can be as long as a pattern.
 */

import { idnToAscii } from './idna.ts';
import { isStixSpace } from './lexer.ts';

export type ObservableType =
  | 'ipv4-addr'
  | 'ipv6-addr'
  | 'domain-name'
  | 'url'
  | 'email-addr'
  | 'file:hashes.MD5'
  | 'file:hashes.SHA-1'
  | 'file:hashes.SHA-256'
  | 'file:hashes.SHA-512';

export interface Observable {
  type: ObservableType;
  value: string;
}

export type CanonicalResult = { ok: true; value: string } | { ok: false; reason: string };

export type SekoiaFormat =
  | 'ipv4-addr.value'
  | 'ipv6-addr.value'
  | 'domain-name.value'
  | 'url.value'
  | 'email-addr.value'
  | 'file.hashes';

export const OBSERVABLE_TYPES: readonly ObservableType[] = [
  'ipv4-addr',
  'ipv6-addr',
  'domain-name',
  'url',
  'email-addr',
  'file:hashes.MD5',
  'file:hashes.SHA-1',
  'file:hashes.SHA-256',
  'file:hashes.SHA-512',
];

const HASH_LENGTH: Record<string, number> = {
  'file:hashes.MD5': 32,
  'file:hashes.SHA-1': 40,
  'file:hashes.SHA-256': 64,
  'file:hashes.SHA-512': 128,
};

const HASH_BY_LENGTH: Record<number, ObservableType> = {
  32: 'file:hashes.MD5',
  40: 'file:hashes.SHA-1',
  64: 'file:hashes.SHA-256',
  128: 'file:hashes.SHA-512',
};

export function sekoiaFormat(type: ObservableType): SekoiaFormat {
  switch (type) {
    case 'ipv4-addr':
      return 'ipv4-addr.value';
    case 'ipv6-addr':
      return 'ipv6-addr.value';
    case 'domain-name':
      return 'domain-name.value';
    case 'url':
      return 'url.value';
    case 'email-addr':
      return 'email-addr.value';
    default:
      return 'file.hashes';
  }
}

const ok = (value: string): CanonicalResult => ({ ok: true, value });
const bad = (reason: string): CanonicalResult => ({ ok: false, reason });

export function canonicalize(type: ObservableType, raw: string): CanonicalResult {
  if (typeof raw !== 'string') return bad('value is not a string');
  const s = trimSpaces(raw);
  if (s === '') return bad('empty value');
  switch (type) {
    case 'ipv4-addr':
      return canonicalIPv4(s);
    case 'ipv6-addr':
      return canonicalIPv6(s);
    case 'domain-name':
      return canonicalDomain(s);
    case 'url':
      return canonicalUrl(s);
    case 'email-addr':
      return canonicalEmail(s);
    case 'file:hashes.MD5':
    case 'file:hashes.SHA-1':
    case 'file:hashes.SHA-256':
    case 'file:hashes.SHA-512':
      return canonicalHash(type, s);
    default:
      return bad(`unknown observable type ${String(type)}`);
  }
}

/**
 * The type Sekoia would see in a value (checked in this order: URL with a scheme, IPv4/CIDR, IPv6,
 * hash by hex length 32/40/64/128, e-mail, domain). Shape only: `canonicalize` validates.
 */
export function detectObservableType(value: string): ObservableType | undefined {
  if (typeof value !== 'string') return undefined;
  const s = trimSpaces(value);
  if (s === '') return undefined;
  if (schemeLength(s) > 0 && s.startsWith('//', schemeLength(s) + 1)) return 'url';
  if (looksLikeIPv4(s)) return 'ipv4-addr';
  if (looksLikeIPv6(s)) return 'ipv6-addr';
  if (isHex(s)) return HASH_BY_LENGTH[s.length];
  if (s.includes('@')) return 'email-addr';
  if (s.includes('.') && !s.includes('/') && !s.includes(':')) return 'domain-name';
  return undefined;
}

/** Detect + canonicalize; undefined when the value is not a valid IOC of any type. */
export function canonicalValue(value: string): string | undefined {
  const type = detectObservableType(value);
  if (type === undefined) return undefined;
  const r = canonicalize(type, value);
  return r.ok ? r.value : undefined;
}

// ---------------------------------------------------------------------------------------------------------

/** The pattern grammar's spaces (lexer.ts) and the byte order mark, which a pasted value may carry. */
function isSpace(c: number): boolean {
  return isStixSpace(c) || c === 0xfeff;
}

function trimSpaces(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isHexDigit(s.charCodeAt(i))) return false;
  return s.length > 0;
}

function isControl(c: number): boolean {
  return c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

/** Decimal without leading zeros, at most `maxDigits` digits; -1 when not. */
function parseDecimal(s: string, maxDigits: number): number {
  if (s.length === 0 || s.length > maxDigits) return -1;
  if (s.length > 1 && s.charCodeAt(0) === 48) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

function splitPrefix(s: string): { addr: string; prefix: string | undefined } {
  const slash = s.indexOf('/');
  if (slash < 0) return { addr: s, prefix: undefined };
  return { addr: s.slice(0, slash), prefix: s.slice(slash + 1) };
}

// --- IPv4 ------------------------------------------------------------------------------------------------

function looksLikeIPv4(s: string): boolean {
  let dots = 0;
  let slash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 && !slash) dots++;
    else if (c === 47 && !slash) slash = true;
    else if (!isDigit(c)) return false;
  }
  return dots === 3;
}

/** Strict dotted quad: four decimal octets 0-255, no leading zeros (they would read as octal elsewhere). */
function parseIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const v = parseDecimal(p, 3);
    if (v < 0 || v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function formatIPv4(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

function canonicalIPv4(s: string): CanonicalResult {
  const { addr, prefix } = splitPrefix(s);
  const n = parseIPv4(addr);
  if (n === undefined) return bad(`not a dotted-quad IPv4 address: ${clip(s)}`);
  if (prefix === undefined) return ok(formatIPv4(n));
  const len = parseDecimal(prefix, 2);
  if (len < 0 || len > 32) return bad(`invalid IPv4 prefix length /${clip(prefix)}`);
  if (len === 32) return ok(formatIPv4(n));
  const size = 2 ** (32 - len);
  const network = n - (n % size);
  if (network !== n) return bad(`host bits set in ${s} (the network is ${formatIPv4(network)}/${len})`);
  return ok(`${formatIPv4(n)}/${len}`);
}

// --- IPv6 ------------------------------------------------------------------------------------------------

function looksLikeIPv6(s: string): boolean {
  let colons = 0;
  let slash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (slash) {
      if (!isDigit(c)) return false;
    } else if (c === 58) colons++;
    else if (c === 47) slash = true;
    else if (!(isHexDigit(c) || c === 46)) return false;
  }
  return colons >= 2;
}

function parseGroups(part: string, out: number[], allowIPv4Tail: boolean): boolean {
  if (part === '') return true;
  const groups = part.split(':');
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (allowIPv4Tail && i === groups.length - 1 && g.includes('.')) {
      const v4 = parseIPv4(g);
      if (v4 === undefined) return false;
      out.push(Math.floor(v4 / 65536), v4 % 65536);
      continue;
    }
    if (g.length === 0 || g.length > 4 || !isHex(g)) return false;
    out.push(Number.parseInt(g, 16));
  }
  return true;
}

/** RFC 4291 text form (with `::` and an embedded dotted IPv4 tail) to 8 groups; no zone ids. */
function parseIPv6(s: string): number[] | undefined {
  const dc = s.indexOf('::');
  if (dc >= 0) {
    if (s.indexOf('::', dc + 1) >= 0) return undefined;
    const head: number[] = [];
    const tail: number[] = [];
    if (!parseGroups(s.slice(0, dc), head, false) || !parseGroups(s.slice(dc + 2), tail, true))
      return undefined;
    if (head.length + tail.length > 7) return undefined;
    return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const groups: number[] = [];
  if (!parseGroups(s, groups, true) || groups.length !== 8) return undefined;
  return groups;
}

/** RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero groups as `::` (first on ties). */
function formatIPv6(g: number[]): string {
  // IPv4-mapped (::ffff:0:0/96): RFC 5952 section 5 recommends mixed notation for this well-known prefix.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(g[6]! * 65536 + g[7]!)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function canonicalIPv6(s: string): CanonicalResult {
  if (s.includes('%')) return bad(`IPv6 zone ids are not IOC values: ${clip(s)}`);
  const { addr, prefix } = splitPrefix(s);
  const g = parseIPv6(addr);
  if (g === undefined) return bad(`not an IPv6 address: ${clip(s)}`);
  if (prefix === undefined) return ok(formatIPv6(g));
  const len = parseDecimal(prefix, 3);
  if (len < 0 || len > 128) return bad(`invalid IPv6 prefix length /${clip(prefix)}`);
  if (len === 128) return ok(formatIPv6(g));
  const net = g.map((x, i) => {
    const bits = Math.min(16, Math.max(0, len - i * 16));
    return bits === 16 ? x : x & (0xffff << (16 - bits)) & 0xffff;
  });
  if (net.some((x, i) => x !== g[i])) {
    return bad(`host bits set in ${clip(s)} (the network is ${formatIPv6(net)}/${len})`);
  }
  return ok(`${formatIPv6(g)}/${len}`);
}

// --- domain, e-mail, URL ---------------------------------------------------------------------------------

/** Letters, digits, `-`, `_` (seen in real hostnames) and non-ASCII (IDN: checked and converted by idna.ts). */
function isDomainChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    isDigit(c) ||
    c === 45 ||
    c === 95 ||
    (c >= 0x80 && !isControl(c) && !isSpace(c) && c !== 0xfffd)
  );
}

function canonicalDomain(s: string): CanonicalResult {
  let d = s.toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.length === 0) return bad('empty domain name');
  // IDNs go out in their `xn--` form; labels that are not valid IDNA 2008 are refused (idna.ts).
  const idn = idnToAscii(d);
  if (!idn.ok) return bad(`${idn.reason}: ${clip(s)}`);
  d = idn.ascii;
  if (d.length > 253) return bad('domain name longer than 253 characters');
  const labels = d.split('.');
  if (labels.length < 2) return bad(`a domain name needs at least two labels: ${clip(s)}`);
  for (const label of labels) {
    if (label.length === 0) return bad(`empty label in domain name ${clip(s)}`);
    if (label.length > 63) return bad('domain label longer than 63 characters');
    for (let i = 0; i < label.length; i++) {
      if (!isDomainChar(label.charCodeAt(i))) {
        return bad(`invalid character ${JSON.stringify(label[i])} in domain name ${clip(s)}`);
      }
    }
  }
  const tld = labels[labels.length - 1]!;
  let allDigits = true;
  for (let i = 0; i < tld.length && allDigits; i++) allDigits = isDigit(tld.charCodeAt(i));
  if (allDigits) return bad(`numeric top-level label: not a domain name: ${clip(s)}`);
  return ok(d);
}

const EMAIL_LOCAL_FORBIDDEN = new Set(['<', '>', '(', ')', '[', ']', '\\', ',', ';', ':', '"', '@']);

function canonicalEmail(s: string): CanonicalResult {
  const at = s.lastIndexOf('@');
  if (at <= 0) return bad(`not an e-mail address: ${clip(s)}`);
  const local = s.slice(0, at);
  if (local.length > 64) return bad('e-mail local part longer than 64 characters');
  for (let i = 0; i < local.length; i++) {
    const c = local.charCodeAt(i);
    if (isControl(c) || isSpace(c) || EMAIL_LOCAL_FORBIDDEN.has(local[i]!)) {
      return bad(`invalid character ${JSON.stringify(local[i])} in e-mail address ${clip(s)}`);
    }
  }
  const domain = canonicalDomain(s.slice(at + 1));
  if (!domain.ok) return bad(`invalid e-mail domain: ${domain.reason}`);
  return ok(`${local.toLowerCase()}@${domain.value}`);
}

/** Length of `scheme` in `scheme:` (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), 0 if none. */
function schemeLength(s: string): number {
  const c0 = s.charCodeAt(0);
  if (!((c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122))) return 0;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) return i;
    const okChar =
      (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || isDigit(c) || c === 43 || c === 45 || c === 46;
    if (!okChar) return 0;
  }
  return 0;
}

function canonicalUrl(s: string): CanonicalResult {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isControl(c) || isSpace(c)) return bad(`whitespace or control character in URL ${clip(s)}`);
  }
  const sl = schemeLength(s);
  if (sl === 0) return bad(`URL without a scheme: ${clip(s)}`);
  if (!s.startsWith('//', sl + 1))
    return bad(`URL without a host (expected '${s.slice(0, sl)}://'): ${clip(s)}`);
  const authStart = sl + 3;
  let authEnd = s.length;
  for (let i = authStart; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35) {
      authEnd = i;
      break;
    }
  }
  const authority = s.slice(authStart, authEnd);
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostport = authority.slice(at + 1);
  let host: string;
  let port: string;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) return bad(`unclosed '[' in URL host: ${clip(s)}`);
    host = hostport.slice(0, close + 1);
    port = hostport.slice(close + 1);
  } else {
    const colon = hostport.indexOf(':');
    host = colon < 0 ? hostport : hostport.slice(0, colon);
    port = colon < 0 ? '' : hostport.slice(colon);
  }
  if (host.length === 0 || host === '[]') return bad(`URL without a host: ${clip(s)}`);
  if (port !== '') {
    if (port.charCodeAt(0) !== 58) return bad(`invalid URL authority: ${clip(s)}`);
    for (let i = 1; i < port.length; i++) {
      if (!isDigit(port.charCodeAt(i))) return bad(`invalid URL port: ${clip(s)}`);
    }
  }
  // An internationalised host goes out in its `xn--` form like a domain (an IP literal never has non-ASCII).
  let hostOut = host.toLowerCase();
  const idn = idnToAscii(hostOut);
  if (!idn.ok) return bad(`${idn.reason}: ${clip(s)}`);
  hostOut = idn.ascii;
  return ok(`${s.slice(0, sl).toLowerCase()}://${userinfo}${hostOut}${port}${s.slice(authEnd)}`);
}

// --- hashes ----------------------------------------------------------------------------------------------

function canonicalHash(type: ObservableType, s: string): CanonicalResult {
  const want = HASH_LENGTH[type]!;
  const alg = type.slice('file:hashes.'.length);
  if (!isHex(s)) return bad(`${alg} hash must be hexadecimal: ${clip(s)}`);
  if (s.length !== want) return bad(`${alg} hash must have ${want} hex digits, got ${s.length}`);
  return ok(s.toLowerCase());
}
