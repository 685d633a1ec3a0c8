import type { IocAttributes } from '@octi-sekoia/model';
import type { AppliedState, DesiredValue } from './value-state.ts';

export type Action =
  | { type: 'create'; attributes: IocAttributes; fp: string }
  | { type: 'edit'; id: string; attributes: IocAttributes; fp: string }
  | { type: 'revoke'; id: string };

export type Decision =
  /** Writes that bring Sekoia to the desired state. */
  | { kind: 'write'; actions: Action[] }
  /** Sekoia may differ from what is recorded: search the value (exactly) first, then decide again. */
  | { kind: 'search'; reason: 'unsure' | 'expired-intent' | 'verify-generation' }
  /** Another claim's write is in flight: come back when its intent expires. */
  | { kind: 'wait'; untilMs: number }
  /**
   * The value's holders are not settled (a generation's recovery is re-reading them): writing now could go out
   * with a holder's fields that a later re-read replaces — come back once they are (the re-read or the sweep
   * dirties the value again).
   */
  | { kind: 'settle' }
  | { kind: 'noop'; reason: 'in-sync' | 'rejected' | 'absent' };

export interface DecideContext {
  /** This claim's sequence number (its own intents are not foreign). */
  seq: number;
  now: number;
  writeHorizonMs: number;
  /** A search was already made in this claim: its result is in `applied`, do not ask again. */
  searched: boolean;
}

/**
 * The pure reconcile decision for one value. Desired: live or not, with the winning attributes. Applied: the
 * Sekoia ids known for the value and what was last written to each.
 * - another claim's unexpired write intent → wait; an expired one, or a lost answer (unsure) → search;
 * - live: a rejection at this same desired version → nothing (not re-sent until desired changes); no id →
 *   create; ids confirmed in an older generation → search once (verify); else keep one id (preferably one that
 *   already carries the attributes), edit it if its attributes differ, revoke the others (duplicates);
 * - not live: revoke every known id, except those whose revoke Sekoia refused at this same desired version;
 *   none left → nothing;
 * - a live value whose holders are still settling (`DesiredValue.settling`, during a generation's recovery) is
 *   written only once they are: a re-sync of an unchanged collection then writes nothing, and a shared value is
 *   created once with its final fields.
 */
export function decide(desired: DesiredValue, applied: AppliedState, ctx: DecideContext): Decision {
  const foreign = applied.intents.filter((i) => i.seq !== ctx.seq);
  const inFlight = foreign.filter((i) => i.since + ctx.writeHorizonMs > ctx.now);
  if (inFlight.length > 0) {
    return { kind: 'wait', untilMs: Math.max(...inFlight.map((i) => i.since + ctx.writeHorizonMs)) };
  }
  if (!ctx.searched) {
    if (foreign.length > 0) return { kind: 'search', reason: 'expired-intent' };
    if (applied.unsure) return { kind: 'search', reason: 'unsure' };
  }

  const ids = Object.keys(applied.ids).sort();
  if (!desired.live || !desired.attributes || desired.fp === undefined) {
    if (ids.length === 0) return { kind: 'noop', reason: 'absent' };
    // A revoke Sekoia refused is terminal for that id until the desired state changes (issue 13 case 2).
    const refused = applied.rejected?.version === desired.version ? (applied.rejected.ids ?? []) : [];
    const revoke = ids.filter((id) => !refused.includes(id));
    if (revoke.length === 0) return { kind: 'noop', reason: 'rejected' };
    return { kind: 'write', actions: revoke.map((id) => ({ type: 'revoke', id })) };
  }

  if (applied.rejected && applied.rejected.version === desired.version)
    return { kind: 'noop', reason: 'rejected' };
  const { attributes, fp } = desired;
  const settling = desired.settling === true;
  if (ids.length === 0)
    return settling ? { kind: 'settle' } : { kind: 'write', actions: [{ type: 'create', attributes, fp }] };
  if (!ctx.searched && applied.generation < desired.generation)
    return settling ? { kind: 'settle' } : { kind: 'search', reason: 'verify-generation' };

  const keep = ids.find((id) => applied.ids[id] === fp) ?? ids[0]!;
  const actions: Action[] = [];
  if (applied.ids[keep] !== fp) actions.push({ type: 'edit', id: keep, attributes, fp });
  for (const id of ids) if (id !== keep) actions.push({ type: 'revoke', id });
  if (actions.length === 0) return { kind: 'noop', reason: 'in-sync' };
  return settling ? { kind: 'settle' } : { kind: 'write', actions };
}
