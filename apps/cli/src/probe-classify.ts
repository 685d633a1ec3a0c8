// Pure part of `pnpm cli probe`: the values it writes and how each observation maps to a behaviour variant
// (issue 14; docs/sekoia-behaviours.md). The shell (probe.ts) makes the requests and feeds the answers here.
import { createHash } from 'node:crypto';
import type { BehaviourName, BehaviourVariant, QuotaBodyKind } from '@octi-sekoia/sekoia';
import { canonicalValue, expandIpv6 } from '@octi-sekoia/stix';

/**
 * The values one probe run writes: documentation ranges only (RFC 3849 IPv6 2001:db8::/32, RFC 2606
 * `example.com` subdomains, hashes of fixed strings), made unique per run by `nonce` so that a second run on the
 * same collection never meets the first run's (revoked) values.
 */
export function probeValues(nonce: string) {
  if (!/^[0-9a-f]{8}$/.test(nonce)) throw new TypeError('probe nonce: 8 lower-case hex digits');
  const a = nonce.slice(0, 4).toUpperCase();
  const b = nonce.slice(4).toUpperCase();
  const fixed = (what: string) => `octi-sekoia probe ${nonce} ${what}`;
  const domain = (what: string) => `octi-probe-${nonce}-${what}.example.com`;
  return {
    nonce,
    /** Row 1, sent in a form that tells the name variants apart: md5 lower case, sha-256 upper case… */
    md5: createHash('md5').update(fixed('md5')).digest('hex'),
    sha256: createHash('sha256').update(fixed('sha256')).digest('hex').toUpperCase(),
    /** …and an IPv6 neither canonical (RFC 5952) nor written out in full. */
    ipv6: `2001:DB8:${a}:${b}:0:0:0:1`,
    putNull: domain('put-null'),
    putOmitted: domain('put-omitted'),
    reimport: domain('reimport'),
    revokeTwice: domain('revoke-twice'),
    forbidden: domain('forbidden'),
    killChain: domain('kill-chain'),
    killChainKnown: domain('kill-chain-known'),
    term: domain('term'),
    quota: domain('quota'),
    /** Row 11: an indicator with every compared field, one revoked, one created during a feed walk. */
    feedFull: domain('feed-full'),
    feedRevoked: domain('feed-revoked'),
    feedDuring: domain('feed-during'),
  };
}
export type ProbeValues = ReturnType<typeof probeValues>;

/** Every value a run may write (the final sweep searches each). */
export function allProbeValues(v: ProbeValues): string[] {
  const { nonce: _n, ...values } = v;
  return Object.values(values);
}

/** True for values of the documentation ranges the probe is allowed to write. */
export function isDocumentationValue(value: string): boolean {
  const c = canonicalValue(value);
  if (c === undefined) return false;
  if (/^[0-9a-f]{32}$|^[0-9a-f]{64}$/.test(c)) return true; // hashes (of fixed strings)
  if (/^2001:db8(:|$)/.test(c)) return true; // RFC 3849
  if (/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/.test(c)) return true; // RFC 5737 TEST-NET
  return /(^|\.)example\.com$/.test(c); // RFC 2606
}

type V<B extends BehaviourName> = BehaviourVariant<B> | 'unknown';

/** Row 1: the names Sekoia gave the md5 / sha-256 / IPv6 items (matched to what was sent by pattern). */
export function classifyCreateName(
  v: Pick<ProbeValues, 'md5' | 'sha256' | 'ipv6'>,
  names: { md5: string; sha256: string; ipv6: string },
): V<'createName'> {
  const c = {
    md5: canonicalValue(v.md5) ?? v.md5,
    sha256: canonicalValue(v.sha256) ?? v.sha256,
    ipv6: canonicalValue(v.ipv6) ?? v.ipv6,
  };
  const is = (md5: string, sha256: string, ipv6: string) =>
    names.md5 === md5 && names.sha256 === sha256 && names.ipv6 === ipv6;
  if (is(v.md5, v.sha256, v.ipv6)) return 'as-sent';
  if (is(c.md5, c.sha256, c.ipv6)) return 'canonical';
  if (is(c.md5.toUpperCase(), c.sha256.toUpperCase(), c.ipv6)) return 'upper-hashes';
  if (is(c.md5, c.sha256, expandIpv6(c.ipv6))) return 'ipv6-expanded';
  const labelled = (name: string, hash: string) =>
    name.toLowerCase() !== hash && name.toLowerCase().includes(hash);
  if (labelled(names.md5, c.md5) && labelled(names.sha256, c.sha256)) return 'file-hashes';
  return 'unknown';
}

export interface FieldState {
  description: string | null | undefined;
  valid_until: string | null | undefined;
}

/** Row 2: PUT {description: null, valid_until: null} on an indicator that had both set. */
export function classifyPutNull(
  status: number,
  after: FieldState | undefined,
  before: FieldState,
): V<'putNull'> {
  if (status === 400 || status === 422) return 'reject';
  if (status !== 200 || !after) return 'unknown';
  const cleared = (x: string | null | undefined) => x === null || x === undefined || x === '';
  if (cleared(after.description) && cleared(after.valid_until)) return 'clear';
  if (after.description === before.description && sameDate(after.valid_until, before.valid_until))
    return 'keep';
  return 'unknown';
}

/** Row 3: PUT naming only valid_until on an indicator whose description was set. */
export function classifyPutOmitted(
  status: number,
  after: FieldState | undefined,
  description: string,
): V<'putOmitted'> {
  if (status !== 200 || !after) return 'unknown';
  if (after.description === description) return 'partial';
  if (after.description === null || after.description === undefined || after.description === '')
    return 'replace';
  return 'unknown';
}

/** Row 4: a page of a listing that has more than one page. */
export function classifyHasMore(body: unknown): V<'hasMore'> {
  if (typeof body !== 'object' || body === null || !('items' in body)) return 'unknown';
  if (!('has_more' in body)) return 'absent';
  return (body as { has_more: unknown }).has_more === true ? 'present' : 'unknown';
}

/** Row 5: the item answered to a create of a value whose indicator `firstId` had been revoked. */
export function classifyReimportRevoked(
  firstId: string,
  item: { id: string; revoked: boolean } | undefined,
): V<'reimportRevoked'> {
  if (!item) return 'unknown';
  if (item.id !== firstId) return item.revoked ? 'unknown' : 'new';
  return item.revoked ? 'ignore' : 'reactivate';
}

/** Row 6: status of a second DELETE of one indicator. */
export function classifyRepeatRevoke(status: number): V<'repeatRevoke'> {
  return status === 200 || status === 404 || status === 400
    ? (String(status) as '200' | '404' | '400')
    : 'unknown';
}

/** The kind of an error body (rows 7 and 9). */
export function bodyKind(contentType: string, text: string): QuotaBodyKind {
  const t = text.trim();
  if (t === '') return 'empty';
  if (/html/i.test(contentType) || /^<(!doctype|html|head|body)/i.test(t)) return 'html';
  if (/json/i.test(contentType) || t.startsWith('{')) {
    try {
      const o = JSON.parse(t) as Record<string, unknown>;
      if (typeof o === 'object' && o !== null)
        return typeof o.code === 'string' ? 'json-code' : 'json-message';
    } catch {
      // not JSON after all: text
    }
  }
  return 'text';
}

/** Row 7: a write with a key that may view but not manage. */
export function classifyForbiddenBody(status: number, contentType: string, text: string): V<'forbiddenBody'> {
  if (status !== 403) return 'unknown';
  const kind = bodyKind(contentType, text);
  if (kind === 'html') return 'html';
  if (kind === 'json-code' || kind === 'json-message') return 'json';
  return kind === 'text' ? 'text' : 'unknown';
}

/** Row 8: create with a custom kill chain phase, then (when refused) with a MITRE ATT&CK one. */
export function classifyKillChain(
  customStatus: number,
  knownStatus: number | undefined,
): V<'killChainPhases'> {
  if (customStatus === 200) return 'accept-all';
  if ((customStatus === 400 || customStatus === 422) && knownStatus === 200) return 'mitre-lockheed';
  return 'unknown';
}

/** Row 9: a create refused while count-total-iocs says the quota is used up. */
export function classifyQuotaFull(status: number, contentType: string, text: string): V<'quotaFull'> {
  if (status < 400 || status > 599) return 'unknown';
  return `${status} ${bodyKind(contentType, text)}`;
}

/** Row 10: did a search for a middle substring / for the whole value in upper case find the indicator? */
export function classifyTermSearch(bySubstring: boolean, byUpperCaseValue: boolean): V<'termSearch'> {
  if (bySubstring && !byUpperCaseValue) return 'substring';
  if (bySubstring && byUpperCaseValue) return 'case-insensitive';
  if (!bySubstring && byUpperCaseValue) return 'tokenised';
  return 'unknown';
}

function sameDate(a: string | null | undefined, b: string | null | undefined): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return a === b;
  return Date.parse(a) === Date.parse(b);
}
