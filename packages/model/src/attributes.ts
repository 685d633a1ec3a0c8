import type { IocAttributes, KillChainPhase } from './job.ts';

/** How `valid_until` is rounded before it is sent: coarser rounding lets more creates share one batch. */
export const VALID_UNTIL_ROUNDINGS = ['none', 'minute', 'hour', 'day'] as const;
export type ValidUntilRounding = (typeof VALID_UNTIL_ROUNDINGS)[number];

const UNIT_MS: Record<ValidUntilRounding, number> = {
  none: 1,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Largest instant a JS Date can hold (±8.64e15 ms). */
const MAX_DATE_MS = 8.64e15;

/**
 * ISO 8601 date-time with an explicit zone, as STIX requires. Date.parse alone would also accept
 * free-form strings ("March 7 2020") through its legacy parser.
 */
const ISO_RE = /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(\d+))?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Epoch milliseconds of an ISO timestamp, or undefined when it is not one. `ceil` rounds sub-millisecond
 * digits (OASIS data has microseconds) up instead of truncating them, so an end of validity never moves
 * earlier.
 */
function parseInstant(iso: string, ceil: boolean): number | undefined {
  const m = ISO_RE.exec(iso);
  if (!m) return undefined;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  const frac = m[1];
  if (ceil && frac !== undefined && /[1-9]/.test(frac.slice(3))) return ms + 1;
  return ms;
}

function toIso(ms: number): string | undefined {
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : undefined;
}

/** Two ASCII digits at `i` as a number, or -1. */
function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Whether `s` is already what `toIso(Date.parse(s))` returns: exactly `YYYY-MM-DDTHH:mm:ss.sssZ` with a real
 * date and time (Date.parse rolls `02-30` or `24:00` over to the next day, and refuses second 60). Most streamed
 * timestamps are (OpenCTI writes them with toISOString): they skip the regex, the parse and the formatting,
 * which cost ~3 µs per event on the ingest path (issue 18). The result is the same string either way
 * (test/attributes.test.ts compares both paths).
 */
function isCanonicalInstant(s: string): boolean {
  if (s.length !== 24 || s.charCodeAt(23) !== 90 /* Z */) return false;
  if (s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':' || s[19] !== '.') {
    return false;
  }
  const hi = digits2(s, 0);
  const lo = digits2(s, 2);
  const month = digits2(s, 5);
  const day = digits2(s, 8);
  const hour = digits2(s, 11);
  const minute = digits2(s, 14);
  const second = digits2(s, 17);
  const msHi = digits2(s, 20);
  const msLo = s.charCodeAt(22) - 48;
  if (hi < 0 || lo < 0 || msHi < 0 || msLo < 0 || msLo > 9) return false;
  if (month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return false;
  if (second < 0 || second > 59) return false;
  const year = hi * 100 + lo;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days =
    month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return day <= days;
}

/**
 * The epoch milliseconds of `s` when it is exactly what `toISOString()` gives for them (isCanonicalInstant), else
 * undefined: the caller then parses and formats, or keeps the text.
 */
export function canonicalInstantMs(s: string): number | undefined {
  return isCanonicalInstant(s) ? Date.parse(s) : undefined;
}

/**
 * A start of validity in canonical form (`YYYY-MM-DDTHH:mm:ss.sssZ`); sub-milliseconds are truncated (an
 * earlier start never shortens validity). A string that is not an ISO timestamp is returned unchanged.
 */
export function canonicalValidFrom(iso: string): string {
  if (isCanonicalInstant(iso)) return iso;
  const ms = parseInstant(iso, false);
  return (ms !== undefined && toIso(ms)) || iso;
}

/**
 * Rounds an end of validity UP to the unit (UTC), in canonical ISO form: rounding never shortens validity, and
 * an instant already on the boundary stays. Absent stays absent; a string that is not an ISO timestamp is
 * returned unchanged (Sekoia then judges it).
 */
export function roundValidUntil(iso: string, rounding: ValidUntilRounding): string;
export function roundValidUntil(iso: string | undefined, rounding: ValidUntilRounding): string | undefined;
export function roundValidUntil(iso: string | undefined, rounding: ValidUntilRounding): string | undefined {
  if (iso === undefined) return undefined;
  const canonical = isCanonicalInstant(iso);
  // Already canonical, to the millisecond: on every unit boundary of 'none'.
  if (canonical && rounding === 'none') return iso;
  const ms = canonical ? Date.parse(iso) : parseInstant(iso, true);
  if (ms === undefined) return iso;
  const unit = UNIT_MS[rounding];
  return toIso(Math.ceil(ms / unit) * unit) ?? iso;
}

/**
 * Kill chain phases as `{kill_chain_name, phase_name}` only, de-duplicated and sorted, so that two indicators
 * listing the same phases in another order (or with extra keys) compare equal. Entries without both names
 * are dropped.
 */
export function normalizeKillChainPhases(input: unknown): KillChainPhase[] {
  if (!Array.isArray(input)) return [];
  if (input.length <= 1) {
    // The common case (none or one phase) needs no de-duplication or sort.
    const phase = killChainPhase(input[0]);
    return phase ? [phase] : [];
  }
  const byKey = new Map<string, KillChainPhase>();
  for (const p of input) {
    const phase = killChainPhase(p);
    if (phase) byKey.set(JSON.stringify([phase.kill_chain_name, phase.phase_name]), phase);
  }
  return [...byKey.values()].sort(
    (a, b) => cmp(a.kill_chain_name, b.kill_chain_name) || cmp(a.phase_name, b.phase_name),
  );
}

/** One entry as `{kill_chain_name, phase_name}` only, or undefined without both names. */
function killChainPhase(p: unknown): KillChainPhase | undefined {
  if (typeof p !== 'object' || p === null) return undefined;
  const { kill_chain_name, phase_name } = p as Record<string, unknown>;
  if (typeof kill_chain_name !== 'string' || typeof phase_name !== 'string') return undefined;
  return { kill_chain_name, phase_name };
}

/** Code-unit order: locale-independent, so every process sorts the same way. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Instants compare as instants (`…05Z` = `…05.000Z`), so a format Sekoia echoes back does not look like an edit. */
function instantKey(iso: string): string {
  const ms = parseInstant(iso, false);
  return ms === undefined ? `raw:${iso}` : String(ms);
}

/**
 * A stable string equal for exactly the attributes `attributesEqual` deems equal: instants compared as
 * instants, kill chain phases as a set, description exactly. Plain JSON (not a hash): use it as a map key
 * for grouping creates that share identical default fields.
 */
export function attributesFingerprint(a: IocAttributes): string {
  return JSON.stringify([instantKey(a.validFrom), ...sharedParts(a)]);
}

/**
 * What the items of one create request share: Sekoia's `default_fields`. Only `value` and `valid_from` are per
 * item in `POST …/indicators` (docs/sekoia-api.md, "POST /{id}/indicators"), so every other field is shared.
 */
export type CreateFields = Omit<IocAttributes, 'validFrom'>;

/**
 * A stable string equal for exactly the attributes that may share one create request: `attributesFingerprint`
 * without `valid_from` (sent per item). Creates batch by this key whatever their valid_from.
 */
export function createGroupKey(a: CreateFields): string {
  return JSON.stringify(sharedParts(a));
}

/** The fingerprint's parts other than valid_from (one definition for both keys). */
function sharedParts(a: CreateFields): unknown[] {
  return [
    a.validUntil === undefined ? null : instantKey(a.validUntil),
    normalizeKillChainPhases(a.killChainPhases).map((p) => [p.kill_chain_name, p.phase_name]),
    a.description,
  ];
}

/** Whether writing `b` over `a` would change nothing Sekoia stores (decides whether an edit is needed). */
export function attributesEqual(a: IocAttributes, b: IocAttributes): boolean {
  return attributesFingerprint(a) === attributesFingerprint(b);
}
