import type { IocAttributes } from '@octi-sekoia/model';
import { type Budget, type ErrorPolicy, policyOf, type SekoiaPort } from './port.ts';
import type { Claim, SyncState } from './state.ts';

export type CreateOutcome =
  /** Sekoia answered with the id(s) created for the value. */
  | { kind: 'created'; ids: string[] }
  /**
   * Sekoia answered with revoked indicator(s) only: the value is not live, and the same create would get the
   * same answer (issue 13 case 3).
   */
  | { kind: 'revoked'; ids: string[] }
  /** Sekoia refuses this value (found by bisecting a rejected batch down to it). */
  | { kind: 'rejected'; reason: string }
  /**
   * The request may have been applied but its answer was lost (network error, timeout, 5xx, missing item).
   * `answered`: the origin answered, so the request is not in flight any more.
   */
  | { kind: 'unknown'; reason: string; answered: boolean }
  /** Certainly not applied (429, configuration problem, or a bisect that ran out of time). */
  | { kind: 'not-sent'; policy: ErrorPolicy; reason: string; retryAfterMs?: number }
  /** beginWrite refused: the lock was lost or another claim's write is in flight. Nothing was sent. */
  | { kind: 'refused' };

export interface CollectorOptions {
  /** How long the first create of a group waits for others sharing its default fields. Default 50 ms. */
  lingerMs?: number;
  /** At most this many values per POST (Sekoia: 100). */
  maxBatch?: number;
  /** Pause of the shared budget on a 429 without Retry-After. Default 30 s. */
  defaultRetryAfterMs?: number;
  /** Counts every HTTP request made (metrics). */
  onRequest?: (kind: 'create') => void;
}

interface Pending {
  value: string;
  attributes: IocAttributes;
  fp: string;
  claim: Claim;
  resolve: (o: CreateOutcome) => void;
}

interface Group {
  items: Pending[];
  timer?: NodeJS.Timeout;
}

/**
 * Per-process batcher of creates: values whose attributes have the same fingerprint share one POST of up to
 * `maxBatch` values, after at most `lingerMs`. Before each POST: one budget token, then the create-pending
 * intents (beginWrite), then the request. A batch Sekoia rejects is bisected down to single values.
 */
export class CreateCollector {
  private readonly groups = new Map<string, Group>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly defaultRetryAfterMs: number;

  constructor(
    private readonly state: SyncState,
    private readonly port: SekoiaPort,
    private readonly budget: Budget,
    private readonly opts: CollectorOptions = {},
  ) {
    this.lingerMs = opts.lingerMs ?? 50;
    this.maxBatch = Math.min(100, Math.max(1, opts.maxBatch ?? 100));
    this.defaultRetryAfterMs = opts.defaultRetryAfterMs ?? 30_000;
  }

  submit(value: string, attributes: IocAttributes, fp: string, claim: Claim): Promise<CreateOutcome> {
    return new Promise((resolve) => {
      let g = this.groups.get(fp);
      if (!g) {
        g = { items: [] };
        this.groups.set(fp, g);
      }
      g.items.push({ value, attributes, fp, claim, resolve });
      if (g.items.length >= this.maxBatch) this.flush(fp);
      else g.timer ??= setTimeout(() => this.flush(fp), this.lingerMs);
    });
  }

  /** Sends everything waiting now and resolves when every request made so far has ended. */
  async drain(): Promise<void> {
    for (const fp of [...this.groups.keys()]) this.flush(fp);
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private flush(fp: string): void {
    const g = this.groups.get(fp);
    if (!g) return;
    if (g.timer) clearTimeout(g.timer);
    this.groups.delete(fp);
    for (let i = 0; i < g.items.length; i += this.maxBatch) {
      const batch = g.items.slice(i, i + this.maxBatch);
      const p = this.send(fp, batch).catch((err: unknown) => {
        // Redis trouble before sending: nothing was sent.
        for (const it of batch) it.resolve({ kind: 'not-sent', policy: 'retryable', reason: String(err) });
      });
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  private async send(fp: string, batch: Pending[]): Promise<void> {
    await this.budget.take();
    const ok = await this.state.beginWrite(
      batch.map((it) => ({ value: it.value, claim: it.claim })),
      'create',
      fp,
    );
    const accepted: Pending[] = [];
    for (const it of batch) {
      if (ok.has(it.value)) accepted.push(it);
      else it.resolve({ kind: 'refused' });
    }
    if (accepted.length > 0) await this.post(accepted, this.state.now());
  }

  /** One POST (its budget token already taken); bisects on rejection. */
  private async post(items: Pending[], intentsAt: number): Promise<void> {
    let created: { id: string; value: string; revoked?: boolean }[];
    try {
      this.opts.onRequest?.('create');
      created = await this.port.createBatch(
        items[0]!.attributes,
        items.map((i) => i.value),
      );
    } catch (err) {
      const { policy, retryAfterMs, answered, message } = policyOf(err);
      if (policy === 'rejected') {
        if (items.length === 1) {
          items[0]!.resolve({ kind: 'rejected', reason: message });
          return;
        }
        // The rejected request changed nothing. Keep bisecting only while the intents are young enough that
        // nobody could take them for a crashed writer's.
        const mid = Math.ceil(items.length / 2);
        for (const half of [items.slice(0, mid), items.slice(mid)]) {
          if (this.state.now() - intentsAt > this.state.writeHorizonMs / 2) {
            for (const it of half)
              it.resolve({ kind: 'not-sent', policy: 'retryable', reason: 'bisect timed out' });
            continue;
          }
          await this.budget.take();
          await this.post(half, intentsAt);
        }
        return;
      }
      if (policy === 'rate-limited') {
        const ms = retryAfterMs ?? this.defaultRetryAfterMs;
        await this.budget.pause(ms);
        for (const it of items) it.resolve({ kind: 'not-sent', policy, reason: message, retryAfterMs: ms });
        return;
      }
      if (policy === 'configuration' || policy === 'not-found') {
        for (const it of items) it.resolve({ kind: 'not-sent', policy: 'configuration', reason: message });
        return;
      }
      for (const it of items) it.resolve({ kind: 'unknown', reason: message, answered });
      return;
    }
    const byValue = new Map<string, { id: string; revoked: boolean }[]>();
    for (const c of created) {
      const list = byValue.get(c.value) ?? [];
      list.push({ id: c.id, revoked: c.revoked === true });
      byValue.set(c.value, list);
    }
    const missing = items.filter((it) => !byValue.has(it.value));
    const unclaimed = created.filter((c) => !items.some((it) => it.value === c.value));
    // A lone value echoed back in another spelling is still unambiguous.
    if (missing.length === 1 && unclaimed.length === 1) {
      byValue.set(missing[0]!.value, [{ id: unclaimed[0]!.id, revoked: unclaimed[0]!.revoked === true }]);
    }
    for (const it of items) {
      const found = byValue.get(it.value);
      const live = found?.filter((f) => !f.revoked).map((f) => f.id) ?? [];
      if (live.length > 0) it.resolve({ kind: 'created', ids: live });
      else if (found) it.resolve({ kind: 'revoked', ids: found.map((f) => f.id) });
      else it.resolve({ kind: 'unknown', reason: 'value missing from the answer', answered: true });
    }
  }
}
