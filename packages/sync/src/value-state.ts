import { hash } from 'node:crypto';
import { attributesFingerprint, canonicalInstantMs, type IocAttributes } from '@octi-sekoia/model';

/**
 * The value-state vocabulary of the sync engine, pure (no Redis): what a value's desired and applied state are,
 * the mutations that change the applied state, and their codec — the TypeScript mirror of record-applied.lua
 * (`applyMutations` keeps the reconciler's copy as the script changes Redis) and of the field-set text that
 * record-desired.lua counts. `decide.ts` reads these types; `state.ts` stores them.
 */

/** The live holder whose event is last in stream order (docs: packages/sync/README.md, "Reconcile"). */
export interface Winner {
  indicatorId: string;
  eventId: string;
}

export interface DesiredValue {
  value: string;
  /** Desired version: the global sequence number of the last recordDesired that touched the value (0: none). */
  version: number;
  live: boolean;
  attributes?: IocAttributes;
  fp?: string;
  winner?: Winner;
  /** Highest generation among the live holders (0 when not live). */
  generation: number;
  liveIndicators: number;
  /**
   * Set while the current generation (its value) is not swept: its recovery may still bring holders of this
   * live value, or its sweep remove some, so the winner may change (README, "Reconcile").
   */
  recovering?: number;
  /** While recovering: a live holder is not re-read in the current generation yet. */
  staleHolders?: boolean;
  /** Not to be written yet: its holders are settling (set by the reconciler from the two fields above). */
  settling?: boolean;
}

export interface Intent {
  seq: number;
  op: 'create' | 'edit' | 'revoke';
  /** ms. */
  since: number;
  fp: string;
}

export interface AppliedState {
  /** Live (non-revoked, as far as we know) Sekoia ids of the value → fingerprint last written ('' = unknown). */
  ids: Record<string, string>;
  /** Generation in which `ids` was last confirmed (0 = never). */
  generation: number;
  /**
   * Sekoia refused a write at desired `version`: nothing is re-sent until the desired state changes. `ids`: the
   * Sekoia ids whose revoke was refused (the other ids are still revoked); absent for a refused create or edit.
   */
  rejected?: { reason: string; version: number; ids?: string[] };
  /** Sekoia may hold something `ids` does not say (lost answer): search before acting. */
  unsure: boolean;
  /** Fingerprint the lost create sent ('' unknown): what an id found by the search carries. */
  unsureFp?: string;
  /** Write intents not yet recorded (create-pending etc.). */
  intents: Intent[];
  /** Consecutive retryable failures (backoff). */
  failures: number;
}

export interface ValueState {
  value: string;
  desired: DesiredValue;
  applied: AppliedState;
}

export type Mutation =
  | { op: 'setid'; id: string; fp: string }
  | { op: 'delid'; id: string }
  | { op: 'gen'; generation: number }
  | { op: 'rej'; reason: string; version: number; ids?: string[] }
  | { op: 'clearrej' }
  | { op: 'unsure'; fp: string }
  | { op: 'sure' }
  | { op: 'failinc' }
  | { op: 'failreset' }
  | { op: 'clearforeign' }
  | { op: 'keepintent' };

export type RecordMode = 'done' | 'retry' | 'observe';

export interface RecordAppliedResult {
  outcome: 'done' | 'redirtied' | 'lost' | 'ok';
  /** Why it went back to the dirty set: lock lost, desired version changed, retry asked, unsure, intent. */
  reason: string;
}

export function emptyApplied(): AppliedState {
  return { ids: {}, generation: 0, unsure: false, intents: [], failures: 0 };
}

/** Applies mutations to a local copy, as record-applied.lua does in Redis (keeps the reconciler's view current). */
export function applyMutations(
  a: AppliedState,
  muts: Mutation[],
  ownSeq: number,
  now: number,
  horizonMs: number,
) {
  const out: AppliedState = { ...a, ids: { ...a.ids }, intents: [...a.intents] };
  for (const m of muts) {
    switch (m.op) {
      case 'setid':
        out.ids[m.id] = m.fp;
        break;
      case 'delid':
        delete out.ids[m.id];
        break;
      case 'gen':
        out.generation = m.generation;
        break;
      case 'rej':
        out.rejected = { reason: m.reason, version: m.version, ...(m.ids ? { ids: m.ids } : {}) };
        break;
      case 'clearrej':
        out.rejected = undefined;
        break;
      case 'unsure':
        out.unsure = true;
        out.unsureFp = m.fp;
        break;
      case 'sure':
        out.unsure = false;
        out.unsureFp = undefined;
        break;
      case 'failinc':
        out.failures += 1;
        break;
      case 'failreset':
        out.failures = 0;
        break;
      case 'clearforeign':
        out.intents = out.intents.filter((i) => i.seq === ownSeq || i.since + horizonMs > now);
        break;
      case 'keepintent':
        break;
    }
  }
  return out;
}

export function encodeMutations(muts: Mutation[]): string[] {
  const out: string[] = [];
  for (const m of muts) {
    switch (m.op) {
      case 'setid':
        out.push('setid', m.id, m.fp);
        break;
      case 'delid':
        out.push('delid', m.id);
        break;
      case 'gen':
        out.push('gen', String(m.generation));
        break;
      case 'rej':
        out.push('rej', JSON.stringify({ reason: m.reason, version: m.version, ids: m.ids }));
        break;
      case 'unsure':
        out.push('unsure', m.fp);
        break;
      default:
        out.push(m.op);
    }
  }
  return out;
}

export function parseApplied(flat: string[]): { applied: AppliedState; version: number } {
  const applied = emptyApplied();
  let version = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const f = flat[i]!;
    const v = flat[i + 1]!;
    if (f.startsWith('id:')) applied.ids[f.slice(3)] = v;
    else if (f.startsWith('int:')) {
      const [op, since, fp] = v.split('|');
      applied.intents.push({
        seq: Number(f.slice(4)),
        op: (op ?? 'create') as Intent['op'],
        since: Number(since),
        fp: fp ?? '',
      });
    } else if (f === 'ver') version = Number(v);
    else if (f === 'gen') applied.generation = Number(v);
    else if (f === 'unsure') {
      applied.unsure = true;
      applied.unsureFp = v === '?' ? '' : v;
    } else if (f === 'fail') applied.failures = Number(v);
    else if (f === 'rej') {
      try {
        applied.rejected = JSON.parse(v) as AppliedState['rejected'];
      } catch {
        applied.rejected = { reason: v, version: -1 };
      }
    }
  }
  return { applied, version };
}

/**
 * The field set of an indicator as stored once in the field-sets hash: what indicators share, a JSON array by
 * position `[validUntil | null, [[kill_chain_name, phase_name], …], description]` (no key names: ~50 bytes less
 * per distinct set; equal field sets, equal text), and its ref (a hash of that text: equal field sets share one
 * entry, and one ref never names two different texts). `validFrom` is not in it: Sekoia's create takes it per
 * item (docs/sekoia-api.md, "POST /{id}/indicators"), feeds give each indicator its own, and a field set holding
 * it was nearly one per indicator (bench/README.md); the indicator's record holds it (`validFromElement`). The fingerprint is
 * not stored either: it is a function of the attributes, computed on read (`SyncState.readValues`).
 */
export function fieldSet(a: IocAttributes): { ref: string; json: string } {
  const json = JSON.stringify([
    a.validUntil ?? null,
    a.killChainPhases.map((p) => [p.kill_chain_name, p.phase_name]),
    a.description,
  ]);
  // 72 bits: a collision among even 10^6 distinct field sets has a chance of ~10^-10.
  return { ref: hash('sha256', json, 'base64url').slice(0, 12), json };
}

/**
 * The attributes of a field set with the indicator's `validFrom` (its record's element, `parseValidFrom`). A
 * field set of layout 2 before issue 17 item 5 (`[fingerprint, validFrom, validUntil | null, phases,
 * description]`, still referred to by records written then, until their indicator's next event or sweep) holds
 * its own validFrom and fingerprint: both are read from it, `fp` is returned only then.
 */
export function parseFieldSet(json: string, validFrom: string): { fp?: string; attributes: IocAttributes } {
  const parts = JSON.parse(json) as unknown[];
  const old = parts.length === 5;
  const [validUntil, phases, description] = (old ? parts.slice(2) : parts) as [
    string | null,
    [string, string][],
    string,
  ];
  const attributes: IocAttributes = {
    validFrom: old ? (parts[1] as string) : validFrom,
    ...(validUntil === null ? {} : { validUntil }),
    killChainPhases: phases.map(([kill_chain_name, phase_name]) => ({ kill_chain_name, phase_name })),
    description,
  };
  return old ? { fp: parts[0] as string, attributes } : { attributes };
}

/**
 * The JSON text of `validFrom` as the indicator's record holds it: the epoch milliseconds (a JSON number, ~13
 * bytes less per indicator than the ISO text) when they give the same text back, else the JSON string.
 */
export function validFromElement(validFrom: string): string {
  // A canonical text (most are) skips the parse-and-format check below: the same answer (model's rule).
  const fast = canonicalInstantMs(validFrom);
  if (fast !== undefined) return String(fast);
  const ms = Date.parse(validFrom);
  return Number.isSafeInteger(ms) && new Date(ms).toISOString() === validFrom
    ? String(ms)
    : JSON.stringify(validFrom);
}

/** The STIX id as the indicator's record holds it: an OpenCTI indicator's without its `indicator--` (11 bytes). */
export function stixElement(stixId: string): string {
  return stixId.startsWith(STIX_INDICATOR) ? stixId.slice(STIX_INDICATOR.length) : stixId;
}

/** The STIX id back from the record (records written before issue 17 item 5 hold it whole: it has a `--`). */
export function parseStixElement(element: string): string {
  return element === '' || element.includes('--') ? element : `${STIX_INDICATOR}${element}`;
}

const STIX_INDICATOR = 'indicator--';

/** `validFrom` back from the record's element (a number: epoch ms; absent in records older than it: ''). */
export function parseValidFrom(element: string | number | undefined): string {
  return typeof element === 'number' ? new Date(element).toISOString() : (element ?? '');
}

/** Short, stable fingerprint of attributes: a hash of the model's canonical attribute key. */
export function defaultFingerprint(a: IocAttributes): string {
  return hash('sha256', attributesFingerprint(a), 'base64url').slice(0, 22);
}
