import type { CreateFields, IocAttributes, KillChainPhase } from '@octi-sekoia/model';
import { normalizeKillChainPhases } from '@octi-sekoia/model';
import { KNOWN_KILL_CHAIN_PHASES } from '@octi-sekoia/stix';
import { indicatorValue } from './match.ts';

/**
 * The one mapping between the model's attributes (`IocAttributes`, camelCase) and Sekoia's indicator fields, both
 * directions (docs/sekoia-api.md, "Field mapping"): what a create and an edit send, and what a listed, searched
 * or edited indicator is read back as, with the approximations Sekoia forces (docs/sekoia-behaviours.md). No HTTP
 * here: the client sends what this builds, and the sync engine's collection reads load this module alone
 * (`@octi-sekoia/sekoia/fields`) without the client's axios.
 */

/** The fields Sekoia lets us set on an indicator (POST default_fields, PUT). */
export interface IndicatorFields {
  description?: string | null;
  valid_from?: string;
  valid_until?: string | null;
  kill_chain_phases?: KillChainPhase[];
  x_ic_related_threat_refs?: string[];
}

export type DefaultFields = Pick<
  IndicatorFields,
  'description' | 'valid_from' | 'valid_until' | 'kill_chain_phases'
>;

/** One value of a create, with the one per-item field besides it (docs/sekoia-api.md, "POST /{id}/indicators"). */
export interface NewIndicator {
  value: string;
  valid_from?: string;
}

/** An indicator as Sekoia lists, searches or answers it (the fields read back; SekoiaClient's SekoiaIndicator fits). */
export interface ListedIndicator {
  id: string;
  name: string;
  pattern?: unknown;
  revoked?: boolean;
  valid_from?: string;
  valid_until?: string | null;
  kill_chain_phases?: unknown;
  description?: string | null;
}

/**
 * How an edit clears `valid_until` and `description` when OpenCTI has none (WriteChoices.clear): 'null' once the
 * probe saw null clear a field; 'omit' otherwise (docs/sekoia-behaviours.md rows 2 and 3).
 */
export type ClearMode = 'null' | 'omit';

// ── desired attributes → Sekoia ─────────────────────────────────────────────────────────────────────────────

/**
 * A create's `default_fields` from the fields its items share (absent fields are left out); `valid_from` is sent
 * per item (docs/sekoia-api.md, "POST /{id}/indicators").
 */
export function createDefaults(a: CreateFields): DefaultFields {
  const f: DefaultFields = { kill_chain_phases: a.killChainPhases };
  if (a.validUntil !== undefined) f.valid_until = a.validUntil;
  if (a.description !== '') f.description = a.description;
  return f;
}

/** One item of a create: the value and its own `valid_from`. */
export function createItem(i: { value: string; validFrom?: string }): NewIndicator {
  return i.validFrom ? { value: i.value, valid_from: i.validFrom } : { value: i.value };
}

/** The body of `POST /{id}/indicators`: only defined default fields are sent (never `null`s). */
export function createBody(
  defaults: DefaultFields,
  items: readonly NewIndicator[],
): { default_fields: DefaultFields; indicators: NewIndicator[] } {
  const default_fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(defaults)) if (v !== undefined) default_fields[k] = v;
  return {
    default_fields,
    indicators: items.map((i) => createItem({ value: i.value, validFrom: i.valid_from })),
  };
}

/**
 * PUT body: every field we own, so an edit is right whether PUT replaces or updates (issue 14 row 3). A field
 * OpenCTI does not have is cleared the way `clear` says: null only once the probe saw null clear it (row 2: one
 * variant refuses null, one ignores it); otherwise `description: ''` and no `valid_until` — under a partial PUT
 * the old `valid_until` then stays, the closest the API allows (`keptValidUntil` reports it).
 */
export function editFields(a: IocAttributes, clear: ClearMode = 'omit'): IndicatorFields {
  const f: IndicatorFields = { valid_from: a.validFrom, kill_chain_phases: a.killChainPhases };
  if (a.validUntil !== undefined) f.valid_until = a.validUntil;
  else if (clear === 'null') f.valid_until = null;
  f.description = a.description !== '' ? a.description : clear === 'null' ? null : '';
  return f;
}

/** The phases Sekoia accepts under 'mitre-lockheed' (docs/sekoia-behaviours.md row 8), and those left out. */
export function knownPhases<P extends { phase_name: string }>(
  phases: readonly P[],
): { kept: P[]; dropped: P[] } {
  const kept: P[] = [];
  const dropped: P[] = [];
  for (const p of phases) (KNOWN_KILL_CHAIN_PHASES.has(p.phase_name.toLowerCase()) ? kept : dropped).push(p);
  return { kept, dropped };
}

/**
 * The same fields with only the kill chain phases Sekoia's documentation names: the approximation
 * 'custom-kill-chains-dropped' (issue 14 row 8).
 */
export function withKnownPhases<F extends Pick<IndicatorFields, 'kill_chain_phases'>>(
  f: F,
): { fields: F; dropped: KillChainPhase[] } {
  const { kept, dropped } = knownPhases(f.kill_chain_phases ?? []);
  return { fields: { ...f, kill_chain_phases: kept }, dropped };
}

// ── Sekoia → observed attributes ───────────────────────────────────────────────────────────────────────────

/**
 * The attributes an indicator carries, in the model's shape (undefined without a valid_from): kill chain phases
 * normalised (order and duplicates do not count), a null or absent description read as '' (what an edit
 * clearing it wrote), a null or empty valid_until as none.
 */
export function observedAttributes(i: ListedIndicator): IocAttributes | undefined {
  if (typeof i.valid_from !== 'string' || i.valid_from === '') return undefined;
  const a: IocAttributes = {
    validFrom: i.valid_from,
    killChainPhases: normalizeKillChainPhases(i.kill_chain_phases),
    description: typeof i.description === 'string' ? i.description : '',
  };
  if (typeof i.valid_until === 'string' && i.valid_until !== '') a.validUntil = i.valid_until;
  return a;
}

/**
 * The value and attributes a listed indicator stands for: its value by `indicatorValue` (Sekoia's `name` may be
 * upper-cased, an expanded IPv6 or a label: issue 14 row 1), its attributes by `observedAttributes`.
 */
export function observedIndicator(i: ListedIndicator): {
  value: string;
  revoked: boolean;
  attributes?: IocAttributes;
} {
  const attributes = observedAttributes(i);
  return { value: indicatorValue(i), revoked: i.revoked === true, ...(attributes ? { attributes } : {}) };
}

/**
 * The attributes as written when the write had no valid_until: Sekoia applies a default validity to a create
 * without one (docs/sekoia-api.md, "POST /{id}/indicators"), and a partial PUT keeps the old one (row 3). An
 * indicator whose attributes match a record this way is the one written.
 */
export function withoutValidUntil(a: IocAttributes): IocAttributes {
  const { validUntil: _, ...rest } = a;
  return rest;
}

/**
 * The approximation 'valid-until-kept': OpenCTI has no valid_until and the edited indicator, as Sekoia answered
 * the PUT, still holds one (null could not be sent, row 2, and the PUT kept it). Undefined otherwise.
 */
export function keptValidUntil(
  desired: IocAttributes,
  answer: ListedIndicator | undefined,
): string | undefined {
  const kept: unknown = answer?.valid_until;
  return desired.validUntil === undefined && typeof kept === 'string' && kept !== '' ? kept : undefined;
}
