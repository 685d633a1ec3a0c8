import type { IndicatorJob, IocAttributes } from '@octi-sekoia/model';
import { compareEventIds } from '@octi-sekoia/opencti/vocabulary';
import type { ObservedItem } from './collection-reads.ts';
import { defaultFingerprint } from './value-state.ts';

/** A value OpenCTI says is live, with the attributes of the live indicator whose latest event came last. */
export interface DesiredIoc {
  value: string;
  attributes: IocAttributes;
  fp: string;
  indicatorId: string;
}

interface IndicatorState {
  eventId: string;
  live: boolean;
  values: string[];
  attributes: IocAttributes;
}

/**
 * OpenCTI's truth from jobs (a recovery read normalized with the model), folded the way the sync engine records
 * it: the last event per indicator wins (ids compared as numbers; repeats ignored), a value is live iff a live
 * indicator exports it, with the attributes of the one whose event is last (ties: greater indicator id).
 */
export class DesiredCollection {
  private readonly indicators = new Map<string, IndicatorState>();

  add(job: IndicatorJob): void {
    const cur = this.indicators.get(job.indicatorId);
    if (cur && compareEventIds(job.eventId, cur.eventId) <= 0) return;
    this.indicators.set(job.indicatorId, {
      eventId: job.eventId,
      live: job.op === 'upsert',
      values: job.op === 'upsert' ? [...new Set(job.values)] : [],
      attributes: job.attributes,
    });
  }

  get indicatorCount(): number {
    let n = 0;
    for (const s of this.indicators.values()) if (s.live) n++;
    return n;
  }

  values(fingerprint: (a: IocAttributes) => string = defaultFingerprint): Map<string, DesiredIoc> {
    const best = new Map<string, { id: string; s: IndicatorState }>();
    for (const [id, s] of this.indicators) {
      if (!s.live) continue;
      for (const v of s.values) {
        const b = best.get(v);
        const c = b ? compareEventIds(s.eventId, b.s.eventId) : 1;
        if (!b || c > 0 || (c === 0 && id > b.id)) best.set(v, { id, s });
      }
    }
    const out = new Map<string, DesiredIoc>();
    for (const [value, { id, s }] of best) {
      out.set(value, { value, attributes: s.attributes, fp: fingerprint(s.attributes), indicatorId: id });
    }
    return out;
  }
}

export interface PlannedCreate {
  value: string;
  attributes: IocAttributes;
}

export interface PlannedRevoke {
  value: string;
  id: string;
  /** `not-live`: no live OpenCTI indicator exports the value; `duplicate`: another id keeps it. */
  reason: 'not-live' | 'duplicate';
}

export interface PlannedEdit {
  value: string;
  id: string;
  attributes: IocAttributes;
  /** What Sekoia holds now (absent when it gave no valid_from). */
  current?: IocAttributes;
}

export interface CollectionPlan {
  /** Distinct live values in the collection. */
  checked: number;
  /** Live indicators in the collection. */
  indicators: number;
  create: PlannedCreate[];
  revoke: PlannedRevoke[];
  edit: PlannedEdit[];
  /** Values already right (one id with the desired attributes). */
  unchanged: number;
}

export interface PlanProgress {
  checked: number;
  toRevoke: number;
  toEdit: number;
}

interface ValueDecision {
  revoke: PlannedRevoke[];
  edit?: PlannedEdit;
}

/**
 * What an adoption will do to the collection, without writing: fed the collection page by page (ObservedItem),
 * it decides per value exactly as the engine's `decide` does once adoption has recorded the listed ids — keep one
 * id (preferring one that carries the desired attributes), edit it if its attributes differ, revoke the other
 * ids, revoke every id of a value no live indicator exports — and, at the end, creates what is missing.
 */
export class CollectionPlanner {
  private readonly seen = new Map<string, Map<string, ObservedItem>>();
  private readonly decisions = new Map<string, ValueDecision>();
  private liveIndicators = 0;
  private toRevoke = 0;
  private toEdit = 0;

  constructor(private readonly desired: Map<string, DesiredIoc>) {}

  addPage(items: readonly ObservedItem[]): PlanProgress {
    const touched = new Set<string>();
    for (const it of items) {
      if (it.revoked) continue;
      let ids = this.seen.get(it.value);
      if (!ids) {
        ids = new Map();
        this.seen.set(it.value, ids);
      }
      if (!ids.has(it.id)) this.liveIndicators += 1;
      ids.set(it.id, it);
      touched.add(it.value);
    }
    for (const v of touched) {
      const old = this.decisions.get(v);
      if (old) {
        this.toRevoke -= old.revoke.length;
        if (old.edit) this.toEdit -= 1;
      }
      const d = this.decide(v);
      this.decisions.set(v, d);
      this.toRevoke += d.revoke.length;
      if (d.edit) this.toEdit += 1;
    }
    return this.progress();
  }

  progress(): PlanProgress {
    return { checked: this.seen.size, toRevoke: this.toRevoke, toEdit: this.toEdit };
  }

  finish(): CollectionPlan {
    const plan: CollectionPlan = {
      checked: this.seen.size,
      indicators: this.liveIndicators,
      create: [],
      revoke: [],
      edit: [],
      unchanged: 0,
    };
    for (const [v, d] of [...this.decisions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      plan.revoke.push(...d.revoke);
      if (d.edit) plan.edit.push(d.edit);
      if (d.revoke.length === 0 && !d.edit && this.desired.has(v)) plan.unchanged += 1;
    }
    for (const [v, want] of [...this.desired].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!this.seen.has(v)) plan.create.push({ value: v, attributes: want.attributes });
    }
    return plan;
  }

  private decide(value: string): ValueDecision {
    const ids = this.seen.get(value)!;
    const sorted = [...ids.keys()].sort();
    const want = this.desired.get(value);
    if (!want) return { revoke: sorted.map((id) => ({ value, id, reason: 'not-live' })) };
    const keep = sorted.find((id) => ids.get(id)!.fp === want.fp) ?? sorted[0]!;
    const kept = ids.get(keep)!;
    const d: ValueDecision = {
      revoke: sorted.filter((id) => id !== keep).map((id) => ({ value, id, reason: 'duplicate' })),
    };
    if (kept.fp !== want.fp) {
      d.edit = { value, id: keep, attributes: want.attributes };
      if (kept.attributes) d.edit.current = kept.attributes;
    }
    return d;
  }
}
