// In-memory SekoiaPort: a test double for the engine's own tests only (the end-to-end tests use the Sekoia
// simulator over HTTP). Faults are injected per call with `fault`.
import type { CreateFields, IocAttributes } from '@octi-sekoia/model';
import type { ErrorPolicy, PolicyError } from '@octi-sekoia/sekoia/errors';
import type { FoundIndicator, SekoiaPort } from '../src/index.ts';
import type { CreateItem } from '../src/port.ts';

/** An error carrying a failure policy, as the Sekoia client's errors do. */
export class SekoiaPolicyError extends Error implements PolicyError {
  constructor(
    message: string,
    readonly policy: ErrorPolicy,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SekoiaPolicyError';
  }
}

export interface StoredIndicator {
  id: string;
  value: string;
  revoked: boolean;
  attributes: IocAttributes;
}

export type Call =
  /** `attributes`: the request's shared fields with the first item's valid_from; `validFrom`: per item. */
  | { kind: 'create'; values: string[]; attributes: IocAttributes; validFrom: string[] }
  | { kind: 'edit'; id: string; attributes: IocAttributes }
  | { kind: 'revoke'; id: string }
  | { kind: 'forceDelete'; id: string }
  | { kind: 'search'; value: string };

/**
 * What a fault does: throw before applying (`policy`), apply and then lose the answer (`lose`), or wait on a
 * promise before applying (`gate`).
 */
export type Fault =
  | { policy: ErrorPolicy; retryAfterMs?: number; message?: string }
  | { lose: true }
  | { gate: Promise<void> }
  | undefined;

export class FakeSekoia implements SekoiaPort {
  readonly indicators = new Map<string, StoredIndicator>();
  readonly calls: Call[] = [];
  /** Values Sekoia refuses: a batch containing one is rejected whole. */
  readonly refuse = new Set<string>();
  fault: (call: Call) => Fault = () => undefined;
  /** Re-import of a value Sekoia only holds revoked: a new indicator, or the revoked one answered. */
  reimportRevoked: 'new' | 'ignore' = 'new';
  /** Whether deleting a revoked indicator for good is allowed (Sekoia: 24 h after its revocation). */
  forceDeleteAllowed = true;
  /** Values whose revoke Sekoia refuses (400). */
  readonly refuseRevoke = new Set<string>();
  private n = 0;

  private async enter(call: Call): Promise<'lose' | undefined> {
    this.calls.push(call);
    const f = this.fault(call);
    if (!f) return undefined;
    if ('gate' in f) {
      await f.gate;
      return undefined;
    }
    if ('lose' in f) return 'lose';
    throw new SekoiaPolicyError(f.message ?? `injected ${f.policy}`, f.policy, f.retryAfterMs);
  }

  /** A create of `values` all carrying `attributes` (tests filling the collection by hand). */
  createWith(attributes: IocAttributes, values: string[]) {
    const { validFrom, ...fields } = attributes;
    return this.createBatch(
      fields,
      values.map((value) => ({ value, validFrom })),
    );
  }

  /** Like Sekoia: `fields` shared, `valid_from` per item (docs/sekoia-api.md, "POST /{id}/indicators"). */
  async createBatch(fields: CreateFields, created: CreateItem[]) {
    const values = created.map((c) => c.value);
    const lose = await this.enter({
      kind: 'create',
      values,
      attributes: { ...fields, validFrom: created[0]?.validFrom ?? '' },
      validFrom: created.map((c) => c.validFrom),
    });
    if (values.length < 1 || values.length > 100) throw new SekoiaPolicyError('batch size', 'rejected');
    const bad = values.find((v) => this.refuse.has(v));
    if (bad !== undefined) throw new SekoiaPolicyError(`invalid value ${bad}`, 'rejected');
    const items = created.map(({ value, validFrom }) => {
      const held = [...this.indicators.values()].filter((i) => i.value === value);
      const revoked = held.at(-1);
      if (this.reimportRevoked === 'ignore' && revoked && held.every((i) => i.revoked)) {
        return { id: revoked.id, value, revoked: true };
      }
      const id = `indicator--${String(++this.n).padStart(8, '0')}`;
      this.indicators.set(id, {
        id,
        value,
        revoked: false,
        attributes: { ...structuredClone(fields), validFrom },
      });
      return { id, value };
    });
    if (lose) throw new SekoiaPolicyError('socket hang up (answer lost)', 'retryable');
    return items;
  }

  async edit(id: string, fields: IocAttributes) {
    const lose = await this.enter({ kind: 'edit', id, attributes: fields });
    const ind = this.indicators.get(id);
    if (!ind) throw new SekoiaPolicyError(`unknown indicator ${id}`, 'not-found');
    ind.attributes = structuredClone(fields);
    if (lose) throw new SekoiaPolicyError('timeout', 'retryable');
  }

  async revoke(id: string) {
    const lose = await this.enter({ kind: 'revoke', id });
    const ind = this.indicators.get(id);
    if (!ind) return 'not-found' as const;
    if (this.refuseRevoke.has(ind.value)) throw new SekoiaPolicyError(`cannot revoke ${id}`, 'rejected');
    ind.revoked = true;
    if (lose) throw new SekoiaPolicyError('timeout', 'retryable');
    return 'revoked' as const;
  }

  /** Deletes a revoked indicator for good (this double has no 24 h rule). */
  async forceDelete(id: string) {
    await this.enter({ kind: 'forceDelete', id });
    const ind = this.indicators.get(id);
    if (!this.forceDeleteAllowed) throw new SekoiaPolicyError('deletion too early', 'rejected');
    if (!ind) return 'not-found' as const;
    if (!ind.revoked) throw new SekoiaPolicyError(`indicator ${id} is not revoked`, 'rejected');
    this.indicators.delete(id);
    return 'deleted' as const;
  }

  async searchExact(value: string): Promise<FoundIndicator[]> {
    await this.enter({ kind: 'search', value });
    return [...this.indicators.values()]
      .filter((i) => i.value === value)
      .map((i) => ({
        id: i.id,
        value: i.value,
        revoked: i.revoked,
        attributes: structuredClone(i.attributes),
      }));
  }

  /** Live values → attributes of each live indicator. */
  live(): Map<string, IocAttributes[]> {
    const out = new Map<string, IocAttributes[]>();
    for (const i of this.indicators.values()) {
      if (i.revoked) continue;
      const list = out.get(i.value) ?? [];
      list.push(i.attributes);
      out.set(i.value, list);
    }
    return out;
  }

  count(kind: Call['kind']): number {
    return this.calls.filter((c) => c.kind === kind).length;
  }
}
