import { createGroupKey, type IocAttributes } from '@octi-sekoia/model';
import { type ErrorPolicy, policyOf } from '@octi-sekoia/sekoia/errors';
import type { Budget, SekoiaPort } from './port.ts';
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
  /**
   * beginWrite refused: the lock was lost, another claim's write is in flight, or the desired version changed
   * since the claim decided to create. Nothing was sent.
   */
  | { kind: 'refused' };

export interface CollectorOptions {
  /**
   * How long a batch stays open for others sharing its fields at least, from its first value (default 50 ms).
   * It stays open longer while it waits for its budget token.
   */
  lingerMs?: number;
  /** At most this many values per POST (Sekoia: 100). */
  maxBatch?: number;
  /** Pause of the shared budget on a 429 without Retry-After. Default 30 s. */
  defaultRetryAfterMs?: number;
  /** Counts every HTTP request made (metrics). */
  onRequest?: (kind: 'create') => void;
}

export interface Pending {
  value: string;
  attributes: IocAttributes;
  /** Attribute fingerprint (the intent's, and what the applied state records for the id). */
  fp: string;
  claim: Claim;
  /** Desired version the create was decided on (beginWrite refuses it once the version changed). */
  version: number;
  resolve: (o: CreateOutcome) => void;
}

/** One create request being assembled: open to values of its group until it is sealed. */
interface Batch {
  key: string;
  items: Pending[];
  /** Its budget token is taken (the request may go). */
  token: boolean;
  /** Its linger time has passed (or a drain asked for it). */
  lingered: boolean;
  /** Handed back before it was sealed (withdraw): its values are answered not-sent, its token goes unused. */
  withdrawn?: boolean;
  timer?: NodeJS.Timeout;
  /** Its budget take (tracked in flight until the batch is withdrawn: drain() does not wait for a token it will not use). */
  take?: Promise<void>;
}

/**
 * Per-process batcher of creates: values whose attributes other than `valid_from` are equal (the model's
 * `createGroupKey`; `valid_from` is sent per item) share one POST of up to `maxBatch` values. A batch takes its
 * budget token as soon as it opens and keeps taking values while it waits for it: it is sealed when it is full
 * and has its token, or when it has its token and its linger time has passed — so under a busy budget every
 * request leaves as full as the waiting allowed, and under an idle one a value waits at most `lingerMs`. Then
 * the create-pending intents (beginWrite), then the request. A batch Sekoia rejects is bisected down to single
 * values.
 */
export class CreateCollector {
  /** The open batch of each group (at most one; a full one is sealed and leaves this map). */
  private readonly open = new Map<string, Batch>();
  /** Batches not sealed yet: open ones and full ones waiting for their token. */
  private readonly unsealed = new Set<Batch>();
  /** Values submitted and not answered yet (in a batch, waiting for its token, or sealed and in flight). */
  private unanswered = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly defaultRetryAfterMs: number;
  private draining = false;

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

  submit(
    value: string,
    attributes: IocAttributes,
    fp: string,
    claim: Claim,
    version: number,
  ): Promise<CreateOutcome> {
    return new Promise((done) => {
      this.unanswered++;
      let answered = false;
      const resolve = (o: CreateOutcome) => {
        if (answered) return;
        answered = true;
        this.unanswered--;
        done(o);
      };
      const key = createGroupKey(attributes);
      let b = this.open.get(key);
      if (!b) b = this.openBatch(key);
      b.items.push({ value, attributes, fp, claim, version, resolve });
      if (b.items.length >= this.maxBatch) {
        // Full: no more values; it leaves as soon as it has its token.
        this.open.delete(key);
        b.lingered = true;
        this.trySeal(b);
      }
    });
  }

  /**
   * Creates submitted and not answered yet: in an open batch, in a full one waiting for its token, or sealed and
   * in flight (the drainer bounds its parked claims by it; counting only the open batches let it park claims
   * until the whole dirty set was locked while the budget held the full batches back).
   */
  get openValues(): number {
    return this.unanswered;
  }

  /**
   * Hands back every value in a batch not sealed yet (open, or full and waiting for its token): answered not-sent
   * (nothing was sent, no intent recorded), so their claims end and release their locks. Sealed batches go on.
   */
  async withdraw(reason: string): Promise<void> {
    for (const b of [...this.unsealed]) {
      b.withdrawn = true;
      if (b.take) this.inFlight.delete(b.take);
      this.close(b);
      for (const it of b.items) it.resolve({ kind: 'not-sent', policy: 'retryable', reason });
    }
  }

  /** Sends everything waiting now (each batch once it has its token) and resolves when every request ended. */
  async drain(): Promise<void> {
    this.draining = true;
    try {
      for (const b of [...this.open.values()]) {
        b.lingered = true;
        this.trySeal(b);
      }
      while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    } finally {
      this.draining = false;
    }
  }

  private openBatch(key: string): Batch {
    const b: Batch = { key, items: [], token: false, lingered: this.draining };
    this.open.set(key, b);
    this.unsealed.add(b);
    b.timer = setTimeout(() => {
      b.lingered = true;
      this.trySeal(b);
    }, this.lingerMs);
    // The token is asked for now, not when the batch is sealed: the wait for it is time to fill the batch.
    const p = this.budget.take().then(
      () => {
        b.token = true;
        this.trySeal(b);
      },
      (err: unknown) => {
        // Redis trouble or shutdown before sending: nothing was sent.
        this.close(b);
        for (const it of b.items) it.resolve({ kind: 'not-sent', policy: 'retryable', reason: String(err) });
      },
    );
    b.take = p;
    this.track(p);
    return b;
  }

  /** Sends the batch once it has its token and is full or has lingered. */
  private trySeal(b: Batch): void {
    if (!b.token || !b.lingered || b.withdrawn) return;
    this.close(b);
    const batch = b.items;
    const p = this.sendSealed(batch).catch((err: unknown) => {
      // Redis trouble before sending: nothing was sent.
      for (const it of batch) it.resolve({ kind: 'not-sent', policy: 'retryable', reason: String(err) });
    });
    this.track(p);
  }

  private close(b: Batch): void {
    if (b.timer) clearTimeout(b.timer);
    this.unsealed.delete(b);
    if (this.open.get(b.key) === b) this.open.delete(b.key);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** A sealed batch, its token taken: intents, then the request (also the shared batch's sender). */
  async sendSealed(batch: Pending[]): Promise<void> {
    const accepted = await this.begin(batch);
    if (accepted.length > 0) await this.post(accepted);
  }

  /**
   * Records (or refreshes) the create-pending intents of `items` right before a POST, its token taken; the
   * refused ones resolve `refused`. Returns those that may be sent.
   */
  private async begin(items: Pending[]): Promise<Pending[]> {
    const ok = await this.state.beginWrite(
      items.map((it) => ({ value: it.value, claim: it.claim, version: it.version, fp: it.fp })),
      'create',
    );
    const accepted: Pending[] = [];
    for (const it of items) {
      if (ok.has(it.value)) accepted.push(it);
      else it.resolve({ kind: 'refused' });
    }
    return accepted;
  }

  /** One POST (its budget token taken, its intents recorded); bisects on rejection. */
  private async post(items: Pending[]): Promise<void> {
    let created: { id: string; value: string; revoked?: boolean }[];
    try {
      this.opts.onRequest?.('create');
      // Every item shares the first one's fields but valid_from (same createGroupKey), sent per item.
      const { validFrom: _perItem, ...fields } = items[0]!.attributes;
      created = await this.port.createBatch(
        fields,
        items.map((i) => ({ value: i.value, validFrom: i.attributes.validFrom })),
      );
    } catch (err) {
      const { policy, retryAfterMs, answered, message } = policyOf(err);
      if (policy === 'rejected') {
        if (items.length === 1) {
          items[0]!.resolve({ kind: 'rejected', reason: message });
          return;
        }
        // The rejected request changed nothing. Each half waits for its own token (for as long as the budget
        // says), then refreshes its intents: a half is sent only under an intent recorded after its token, by a
        // claim that still holds the lock, at the desired version it was decided on — never on an intent that
        // another worker may by now have taken for a crashed writer's.
        const mid = Math.ceil(items.length / 2);
        for (const half of [items.slice(0, mid), items.slice(mid)]) {
          await this.budget.take();
          const accepted = await this.begin(half);
          if (accepted.length > 0) await this.post(accepted);
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
