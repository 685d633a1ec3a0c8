import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createGroupKey, type IocAttributes } from '@octi-sekoia/model';
import { LuaScript } from '@octi-sekoia/queue';
import {
  type CollectorOptions,
  CreateCollector,
  type CreateOutcome,
  type Pending,
} from './create-batcher.ts';
import type { Budget, SekoiaPort } from './port.ts';
import type { Claim, SyncState } from './state.ts';

const offerLua = new LuaScript(
  'offer-create',
  readFileSync(new URL('./lua/offer-create.lua', import.meta.url), 'utf8'),
);
const sealLua = new LuaScript(
  'seal-create-batch',
  readFileSync(new URL('./lua/seal-create-batch.lua', import.meta.url), 'utf8'),
);
const withdrawLua = new LuaScript(
  'withdraw-create',
  readFileSync(new URL('./lua/withdraw-create.lua', import.meta.url), 'utf8'),
);

/** What the reconciler needs of a create batcher: the per-process CreateCollector or the SharedCreateBatch. */
export interface CreateBatcher {
  submit(
    value: string,
    attributes: IocAttributes,
    fp: string,
    claim: Claim,
    version: number,
  ): Promise<CreateOutcome>;
  /** Creates submitted and not answered yet. */
  readonly openValues: number;
  /** Sends what waits now and resolves once every submitted create is answered. */
  drain(): Promise<void>;
  /**
   * Hands back the values submitted and not sealed yet: answered not-sent (nothing sent, no intent recorded);
   * values already sealed keep waiting for their sender's answer.
   */
  withdraw(reason: string): Promise<void>;
}

export interface SharedBatchOptions extends CollectorOptions {
  /** How often a process with values offered reads the answers other sealers left for it (default 20 ms). */
  pollMs?: number;
  /** How often it checks that its values still wait in their group, i.e. were not sealed (default 1 s). */
  checkMs?: number;
  /**
   * A group whose oldest value this process offered has waited this long is sealed before the fullest group
   * (default 3 s): the fullest-first rule alone, with parked claims refilling the large groups, left a small
   * group waiting for the whole backlog of the large ones, its values' locks held all that time.
   */
  starveMs?: number;
}

/**
 * The group a seal loop holding a token seals: the group of the oldest value this process offered and still sees
 * waiting, once that value has waited `starveMs` (so no group waits for the backlog of the others); else the
 * fullest group (so requests leave as full as possible).
 */
export function pickGroup(
  fullest: string | undefined,
  oldestOwn: { group: string; at: number } | undefined,
  now: number,
  starveMs: number,
): string | undefined {
  if (oldestOwn !== undefined && now - oldestOwn.at >= starveMs) return oldestOwn.group;
  return fullest;
}

/** One value this process offered, until its outcome is known. */
interface Offered {
  value: string;
  claim: Claim;
  group: string;
  resolve: (o: CreateOutcome) => void;
  /** When it was submitted. */
  at: number;
  /** When this process first saw it gone from its group (sealed by some sender, or replaced by a later claim). */
  goneSince?: number;
  checkedAt: number;
}

/** Item stored per offered value: [claim token, claim seq, desired version, fp, inbox, attributes]. */
type Item = [string, number, number, string, string, IocAttributes];

/** Group id of a set of create fields: a short hash of the model's createGroupKey (it names Redis keys). */
export function createGroupId(attributes: IocAttributes): string {
  return createHash('sha256').update(createGroupKey(attributes)).digest('hex').slice(0, 16);
}

/**
 * Create batches shared by every worker of a connector (issue 18): a value whose create is decided is offered to
 * its field group in Redis (`offer-create.lua`), and the worker holding the next budget token seals the fullest
 * group's oldest ≤ maxBatch values in one atomic step (`seal-create-batch.lua`), becoming their one sender. So
 * with W workers and G field groups the collection gets one open batch per group, not W × G.
 *
 * The write-intent rules stay those of the per-process collector: the claim that decided the create keeps the
 * value's lock (renewing it) and awaits the outcome; the sealer records the intent under that claim
 * (`beginWrite` with its token and seq: refused if the lock was lost or the desired version changed), sends, and
 * answers the claim's process (directly, or through its inbox list). A sealer that dies after sealing leaves no
 * answer: the claim sees its value gone from the group and, a write horizon later, takes the create's outcome for
 * unknown and not answered — its intent is kept until the horizon, and the value is searched before any retry
 * (packages/sync/README.md, "Reconcile").
 */
export class SharedCreateBatch implements CreateBatcher {
  private readonly sender: CreateCollector;
  /** This process's inbox (answers from sealers in other processes). */
  private readonly inbox = randomBytes(8).toString('hex');
  private readonly offered = new Map<string, Offered>();
  private readonly toOffer = new Map<string, { offered: Offered; item: string }[]>();
  private flushScheduled = false;
  private readonly outbox = new Map<string, string[]>();
  private outboxScheduled = false;
  private readonly sends = new Set<Promise<void>>();
  private sealing = false;
  private polling = false;
  private draining = 0;
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly pollMs: number;
  private readonly checkMs: number;
  private readonly starveMs: number;

  constructor(
    private readonly state: SyncState,
    port: SekoiaPort,
    private readonly budget: Budget,
    opts: SharedBatchOptions = {},
  ) {
    this.sender = new CreateCollector(state, port, budget, opts);
    this.lingerMs = opts.lingerMs ?? 50;
    this.maxBatch = Math.min(100, Math.max(1, opts.maxBatch ?? 100));
    this.pollMs = opts.pollMs ?? 20;
    this.checkMs = opts.checkMs ?? 1000;
    this.starveMs = opts.starveMs ?? 3000;
  }

  submit(
    value: string,
    attributes: IocAttributes,
    fp: string,
    claim: Claim,
    version: number,
  ): Promise<CreateOutcome> {
    return new Promise((resolve) => {
      const group = createGroupId(attributes);
      const now = this.state.now();
      const offered: Offered = { value, claim, group, resolve, at: now, checkedAt: now };
      this.offered.set(offerKey(claim.seq, value), offered);
      const item: Item = [claim.token, claim.seq, version, fp, this.inbox, attributes];
      const list = this.toOffer.get(group) ?? [];
      list.push({ offered, item: JSON.stringify(item) });
      this.toOffer.set(group, list);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // The values of one claim are decided in the same turn: one offer per group for all of them.
        setImmediate(() => void this.flushOffers());
      }
    });
  }

  get openValues(): number {
    return this.offered.size;
  }

  async drain(): Promise<void> {
    this.draining++;
    try {
      this.startLoops();
      // Until every create this process submitted is answered, and every answer it owes another process is sent.
      while (this.offered.size > 0 || this.sends.size > 0 || this.flushScheduled || this.outboxScheduled) {
        await sleep(this.pollMs);
        this.startLoops();
      }
    } finally {
      this.draining--;
    }
  }

  private async flushOffers(): Promise<void> {
    this.flushScheduled = false;
    const groups = [...this.toOffer];
    this.toOffer.clear();
    const k = this.state.keys.sync;
    await Promise.all(
      groups.map(async ([group, list]) => {
        try {
          await offerLua.run(
            this.state.redis,
            [k.createGroups, k.createReady(group), k.createItems(group)],
            [group, this.state.now(), ...list.flatMap((o) => [o.offered.value, o.item])],
          );
        } catch (err) {
          // Nothing was offered: nothing can be sent for these values.
          for (const { offered } of list) this.settle(offered, notSent(err));
        }
      }),
    );
    this.startLoops();
  }

  /** Each loop clears its flag itself as it ends (synchronously), so an offer made after its last look restarts it. */
  private startLoops(): void {
    if (!this.sealing && this.offered.size > 0) {
      this.sealing = true;
      void this.sealLoop();
    }
    if (!this.polling && this.offered.size > 0) {
      this.polling = true;
      void this.pollLoop();
    }
  }

  /**
   * While this process has values offered and some group has values ready: take a budget token (the wait is time
   * for the groups to fill), then seal the fullest group — waiting out its linger time if it is not full.
   */
  private async sealLoop(): Promise<void> {
    try {
      await this.sealWhileOffered();
    } finally {
      this.sealing = false;
    }
  }

  private async sealWhileOffered(): Promise<void> {
    const k = this.state.keys.sync;
    // Only while a value of this process still waits in its group: one whose values were all sealed (by any sender)
    // or handed back takes no token, so a stopping process seals nothing for the others (its grace could end with
    // their values in its requests: a search each after the write horizon).
    while (this.oldestWaiting(new Set()) !== undefined) {
      try {
        if ((await this.fullestGroup()) === undefined) return;
        try {
          await this.budget.take();
        } catch (err) {
          // Shutdown or Redis trouble before anything was sealed: what this process still has waiting is taken
          // back (not sent); what a sender already sealed is answered by it.
          await this.withdrawAll(err);
          return;
        }
        // A group the oldest pick found empty or holding only values younger than starveMs (its value sealed by
        // another worker, not seen gone yet) is not picked again for this token.
        const skipped = new Set<string>();
        for (;;) {
          // Nothing of this process waits any more (handed back, or sealed by others while it waited for the token):
          // it seals nothing for the others (the token goes unused).
          if (this.oldestWaiting(new Set()) === undefined) break;
          const oldest = this.oldestWaiting(skipped);
          const fullest = await this.fullestGroup();
          const group = pickGroup(fullest, oldest, this.state.now(), this.starveMs);
          if (group === undefined) break; // another worker sealed everything meanwhile: the token goes unused
          if (group !== fullest && !(await this.waitedInGroup(group))) {
            // Its oldest value was sealed by another worker (not seen gone yet) and the group holds only younger
            // ones: no reason to seal it part-full before the fullest.
            skipped.add(group);
            continue;
          }
          const linger = this.draining > 0 ? 0 : this.lingerMs;
          const r = (await sealLua.run(
            this.state.redis,
            [k.createGroups, k.createReady(group), k.createItems(group)],
            [group, this.maxBatch, this.state.now(), linger],
          )) as string[];
          if (r.length === 0) {
            if (group === oldest?.group) skipped.add(group);
            continue;
          }
          if (r[0] === 'wait') {
            await sleep(Number(r[1]));
            continue;
          }
          this.send(r.slice(1));
          break;
        }
      } catch {
        // Redis trouble: the values stay offered (or sealed); try again shortly.
        await sleep(Math.max(this.pollMs, 100));
      }
    }
  }

  /** The oldest value this process offered and has not seen leave its group (offers are kept in order). */
  private oldestWaiting(skip: Set<string>): Offered | undefined {
    for (const o of this.offered.values()) if (o.goneSince === undefined && !skip.has(o.group)) return o;
    return undefined;
  }

  /** Whether the group's oldest value (in Redis, whoever offered it) has waited `starveMs`. */
  private async waitedInGroup(group: string): Promise<boolean> {
    const [, score] = await this.state.redis.zrange(
      this.state.keys.sync.createReady(group),
      '0',
      '0',
      'WITHSCORES',
    );
    return score !== undefined && this.state.now() - Number(score) >= this.starveMs;
  }

  private async fullestGroup(): Promise<string | undefined> {
    const [group] = await this.state.redis.zrevrange(this.state.keys.sync.createGroups, 0, 0);
    return group;
  }

  /** Sends a sealed batch ([value, item JSON, …]) as the claims' writer: their intents, then the request. */
  private send(flat: string[]): void {
    const items: (Pending & { inbox: string })[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const value = flat[i]!;
      const [token, seq, version, fp, inbox, attributes] = JSON.parse(flat[i + 1]!) as Item;
      items.push({
        value,
        attributes,
        fp,
        version,
        inbox,
        claim: { token, seq, values: [], busy: 0 },
        resolve: (o) => this.answer(inbox, seq, value, o),
      });
    }
    const p = this.sender.sendSealed(items).catch((err: unknown) => {
      // Redis trouble before sending (beginWrite): nothing was sent.
      for (const it of items) this.answer(it.inbox, it.claim.seq, it.value, notSent(err));
    });
    this.track(p);
  }

  /** Requests and answers under way (drain waits for them). */
  private track(p: Promise<void>): void {
    this.sends.add(p);
    void p.finally(() => this.sends.delete(p));
  }

  /** The outcome of a value this process sent, to the process that offered it. */
  private answer(inbox: string, seq: number, value: string, o: CreateOutcome): void {
    if (inbox === this.inbox) {
      const offered = this.offered.get(offerKey(seq, value));
      if (offered) this.settle(offered, o);
      return;
    }
    const list = this.outbox.get(inbox) ?? [];
    list.push(JSON.stringify([value, seq, o]));
    this.outbox.set(inbox, list);
    if (!this.outboxScheduled) {
      this.outboxScheduled = true;
      setImmediate(() => this.track(this.flushOutbox()));
    }
  }

  private async flushOutbox(): Promise<void> {
    this.outboxScheduled = false;
    const all = [...this.outbox];
    this.outbox.clear();
    const k = this.state.keys.sync;
    // Lost (Redis trouble, or the offering process is gone): its claim takes the outcome for unknown after the
    // write horizon and searches (see the class comment). Kept twice the horizon: longer nobody waits for it.
    await Promise.all(
      all.map(([inbox, answers]) =>
        this.state.redis
          .multi()
          .rpush(k.createInbox(inbox), ...answers)
          .pexpire(k.createInbox(inbox), 2 * this.state.writeHorizonMs)
          .exec()
          .catch(() => undefined),
      ),
    );
  }

  /**
   * While this process has values offered: reads the answers left in its inbox, and every checkMs checks that the
   * values not answered yet still wait in their group. One gone (sealed by a sender, or replaced by a later claim
   * of the value) and still unanswered a write horizon later: the outcome is unknown, not answered.
   */
  private async pollLoop(): Promise<void> {
    try {
      await this.pollWhileOffered();
    } finally {
      this.polling = false;
    }
  }

  private async pollWhileOffered(): Promise<void> {
    const k = this.state.keys.sync;
    while (this.offered.size > 0) {
      // Insurance: a value offered while the seal loop was ending is never left without a loop.
      this.startLoops();
      try {
        const answers = (await this.state.redis.lpop(k.createInbox(this.inbox), 1000)) ?? [];
        for (const a of answers) {
          const [value, seq, o] = JSON.parse(a) as [string, number, CreateOutcome];
          const offered = this.offered.get(offerKey(seq, value));
          if (offered) this.settle(offered, o);
        }
        await this.check();
      } catch {
        // Redis trouble: read again at the next turn.
      }
      await sleep(this.pollMs);
    }
  }

  private async check(): Promise<void> {
    const now = this.state.now();
    const horizon = this.state.writeHorizonMs;
    const due = [...this.offered.values()].filter(
      (o) => o.goneSince === undefined && now - o.checkedAt >= this.checkMs,
    );
    for (const o of this.offered.values()) {
      if (o.goneSince !== undefined && now - o.goneSince > horizon)
        this.settle(o, {
          kind: 'unknown',
          reason: 'no answer from the sender of its shared create batch',
          answered: false,
        });
    }
    if (due.length === 0) return;
    const byGroup = new Map<string, Offered[]>();
    for (const o of due) byGroup.set(o.group, [...(byGroup.get(o.group) ?? []), o]);
    for (const [group, list] of byGroup) {
      const items = await this.state.redis.hmget(
        this.state.keys.sync.createItems(group),
        ...list.map((o) => o.value),
      );
      list.forEach((o, i) => {
        o.checkedAt = now;
        const item = items[i];
        if (!item || (JSON.parse(item) as Item)[0] !== o.claim.token) o.goneSince = now;
      });
    }
  }

  async withdraw(reason: string): Promise<void> {
    // Not offered yet (the offer is scheduled for the next turn): answered here, never offered.
    for (const list of this.toOffer.values())
      for (const { offered } of list) this.settle(offered, notSent(reason));
    this.toOffer.clear();
    await this.withdrawAll(reason);
  }

  /**
   * After a failed budget take, on shutdown, or when creates are blocked: this process's values still waiting in
   * their groups are taken back (by claim token: one a sender sealed meanwhile is not) and answered not sent.
   */
  private async withdrawAll(err: unknown): Promise<void> {
    const byGroup = new Map<string, Offered[]>();
    for (const o of this.offered.values()) {
      if (o.goneSince === undefined) byGroup.set(o.group, [...(byGroup.get(o.group) ?? []), o]);
    }
    const k = this.state.keys.sync;
    for (const [group, list] of byGroup) {
      const byToken = new Map<string, Offered[]>();
      for (const o of list) byToken.set(o.claim.token, [...(byToken.get(o.claim.token) ?? []), o]);
      for (const [token, mine] of byToken) {
        const back = new Set(
          (await withdrawLua.run(
            this.state.redis,
            [k.createGroups, k.createReady(group), k.createItems(group)],
            [group, token, ...mine.map((o) => o.value)],
          )) as string[],
        );
        // Not handed back: sealed by a sender (or replaced by a later claim) — gone from its group, as the
        // periodic check would find it; its answer comes from that sender.
        for (const o of mine) {
          if (back.has(o.value)) this.settle(o, notSent(err));
          else o.goneSince ??= this.state.now();
        }
      }
    }
  }

  private settle(offered: Offered, o: CreateOutcome): void {
    const key = offerKey(offered.claim.seq, offered.value);
    if (this.offered.get(key) !== offered) return;
    this.offered.delete(key);
    offered.resolve(o);
  }
}

function offerKey(seq: number, value: string): string {
  return `${seq} ${value}`;
}

function notSent(err: unknown): CreateOutcome {
  return { kind: 'not-sent', policy: 'retryable', reason: String(err) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
