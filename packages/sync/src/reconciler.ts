import type { IndicatorJob, IocAttributes } from '@octi-sekoia/model';
import { policyOf } from '@octi-sekoia/sekoia/errors';
import { withoutValidUntil } from '@octi-sekoia/sekoia/fields';
import { CreateCollector, type CreateOutcome } from './create-batcher.ts';
import { type Action, decide } from './decide.ts';
import { type Budget, type FoundIndicator, type SekoiaPort, unlimitedBudget } from './port.ts';
import { type CreateBatcher, SharedCreateBatch } from './shared-batch.ts';
import type { Claim, JobLock, PruneOptions, PruneRun, RecordDesiredResult, SyncState } from './state.ts';
import { sweepUnseen } from './sweep.ts';
import {
  type AppliedState,
  applyMutations,
  type DesiredValue,
  defaultFingerprint,
  type Mutation,
  type ValueState,
} from './value-state.ts';

export interface RejectedValue {
  value: string;
  reason: string;
  desiredVersion: number;
  action: Action['type'];
  /** The Sekoia id of a refused revoke or edit. */
  id?: string;
}

export interface ReconcilerOptions {
  /** Create batching (see CreateCollector). */
  lingerMs?: number;
  maxBatch?: number;
  /**
   * Create batches shared by every engine on the connector's Redis state (SharedCreateBatch: one open batch per
   * field group, not one per process). The worker sets it; off by default (one engine batches alone).
   */
  sharedBatches?: boolean;
  /** A value Sekoia rejected (the worker turns it into a dead letter of kind `value`). */
  onRejected?: (r: RejectedValue) => void | Promise<void>;
  /** 401/403/collection gone: the worker opens its circuit and fails /readyz. */
  onConfigurationError?: (message: string) => void;
  /** Errors reporting a rejected value (its dead letter could not be written: the value is retried). */
  onError?: (err: unknown) => void;
  /** Backoff of a value after retryable failures: base·2^n, capped, with jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Wait before searching for what a lost create answer made (lets Sekoia's search index catch up). */
  lostAnswerSearchDelayMs?: number;
  /** 429 without Retry-After. */
  defaultRetryAfterMs?: number;
  /** How long values wait after a configuration error. */
  configurationRetryMs?: number;
  /**
   * During a generation's recovery (before its sweep), a live value is never written while one of its holders is
   * not re-read yet. With `holdDuringRecovery`, no live value is written before the sweep at all: the recovery
   * may still bring a holder with later fields, so a value shared by several indicators is created once, with
   * its final fields (the worker sets it; off by default so that engine tests may write before any sweep).
   */
  holdDuringRecovery?: boolean;
  /** A value held back is looked at again after this long, or at once when the sweep comes (default 30 s). */
  settleRecheckMs?: number;
  /**
   * Longest a process holds writes back for one generation's recovery (default 10 min): a sweep that does not
   * come (ingest gone mid-recovery, a job failing for long before the marker) must not stop the sync.
   */
  settleMaxMs?: number;
}

export interface ReconcileReport {
  claimed: number;
  busy: number;
  /** Values that left the dirty set. */
  done: number;
  /** Values put back (version changed, lock lost, retry, …). */
  redirtied: number;
  /** Values whose lock was lost mid-claim (left dirty for whoever has them). */
  lost: number;
  creates: number;
  edits: number;
  revokes: number;
  /** Revoked indicators deleted for good so that their value can be created again (issue 13 case 3). */
  forceDeletes: number;
  searches: number;
  rejected: number;
  configurationError?: string;
  /** Nothing claimed: the current generation's recovery runs (holdDuringRecovery). */
  held?: boolean;
}

export interface ApplyJobResult extends RecordDesiredResult {
  report: ReconcileReport;
}

type Step =
  | { status: 'ok'; muts: Mutation[] }
  | { status: 'retry'; muts: Mutation[]; delayMs: number }
  | { status: 'stop'; muts: Mutation[]; message: string };

const emptyReport = (claim?: Claim): ReconcileReport => ({
  claimed: claim?.values.length ?? 0,
  busy: claim?.busy ?? 0,
  done: 0,
  redirtied: 0,
  lost: 0,
  creates: 0,
  edits: 0,
  revokes: 0,
  forceDeletes: 0,
  searches: 0,
  rejected: 0,
});

const MAX_ROUNDS = 5;
/**
 * Revoked indicators deleted for good per value and claim before giving up (issue 13 case 3): a value can hold
 * several revoked indicators (duplicates made by hand, older re-imports), each answered to a create in turn.
 */
const MAX_FORCE_DELETE_ROUNDS = 3;

/** What one value's reconcile already tried in this claim. */
interface Attempt {
  /** Revoked indicators answered to a create and deleted for good in this claim. */
  forceDeleted: Set<string>;
  /** Creates answered with revoked indicators in this claim (at most MAX_FORCE_DELETE_ROUNDS deletion rounds). */
  forceDeleteRounds: number;
}

/**
 * The reconcile loop: drains the dirty set (never re-derives work from a job), decides per value with the
 * pure `decide`, writes through the SekoiaPort under the request budget, and records outcomes with
 * record-applied. `applyJob` is what a BullMQ processor calls; `reconcileDirty` is what a drainer loops on (the
 * worker's Drainer).
 */
export class Reconciler {
  /** The create batcher (this package's tests watch its open batches; apps use the methods below). */
  readonly collector: CreateBatcher;
  private readonly totals = emptyReport();
  private readonly requests = { create: 0, edit: 0, revoke: 0, forceDelete: 0, search: 0 };
  private createsBlocked = false;

  constructor(
    readonly state: SyncState,
    private readonly port: SekoiaPort,
    private readonly budget: Budget = unlimitedBudget,
    private readonly opts: ReconcilerOptions = {},
  ) {
    const batching = {
      lingerMs: opts.lingerMs,
      maxBatch: opts.maxBatch,
      defaultRetryAfterMs: opts.defaultRetryAfterMs,
      onRequest: () => void this.requests.create++,
    };
    this.collector = opts.sharedBatches
      ? new SharedCreateBatch(state, port, budget, batching)
      : new CreateCollector(state, port, budget, batching);
  }

  /**
   * recordDesired, then a best-effort reconcile of the job's values (those still dirty and not busy). `lock`: the
   * BullMQ job's lock and the processor's token (SyncState.recordDesired): `lock-lost` writes and reconciles
   * nothing (another worker owns the job).
   */
  async applyJob(job: IndicatorJob, opts: { lock?: JobLock } = {}): Promise<ApplyJobResult> {
    const r = await this.state.recordDesired(job, opts);
    if (r.outcome === 'stale-generation' || r.outcome === 'lock-lost') return { ...r, report: emptyReport() };
    // A job of a generation still recovering: its values are held until the sweep (holdDuringRecovery), so the
    // reconcile would only claim them to put them back. They stay dirty for the drainer, which claims them in
    // bulk; the recovery's jobs are applied that much faster.
    if (this.opts.holdDuringRecovery && (await this.recovering(job.generation)))
      return { ...r, report: emptyReport() };
    // Not applied (a retry of a job whose first attempt crashed): its values may still be dirty.
    const values = r.applied ? r.dirtied : [...job.values, ...(job.previous ?? [])];
    return { ...r, report: await this.reconcileValues(values) };
  }

  /**
   * Collection full (the worker watches `count-total-iocs`): creates wait (values stay dirty), while edits and
   * revokes go on — revokes free space.
   */
  setCreatesBlocked(blocked: boolean): void {
    const was = this.createsBlocked;
    this.createsBlocked = blocked;
    // Creates already submitted and not sealed are not sent either: handed back (not sent), they wait as dirty.
    if (blocked && !was)
      void this.withdrawCreates('creates blocked: the IOC collection is full').catch(() => undefined);
  }

  /**
   * Sweep of generation G (see sweepUnseen, sweep.ts): call it once every job of G up to the sweep marker is
   * applied. The removed indicators' values are left to the drainer. `exempt`: see sweepUnseen.
   */
  async sweep(generation: number, opts: { exempt?: readonly string[] } = {}) {
    const r = await sweepUnseen(this.state, generation, opts);
    // The recovery is over: the values that waited for their holders to settle are due now.
    if (!r.skipped) {
      this.generations.swept = Math.max(this.generations.swept, generation);
      await this.state.wakeDirty(this.settleRecheckMs());
    }
    return r;
  }

  /** Current and highest swept generation as last read, and when. */
  private generations = { current: 0, swept: 0, readAt: Number.NEGATIVE_INFINITY };

  /**
   * Whether `generation` (default: the current one) is not swept yet (its recovery runs) and this process has not
   * held writes back for it for settleMaxMs. Reads the keys at most every 250 ms (a sweep seen late only delays
   * a wake-up by that much).
   */
  private async recovering(generation?: number): Promise<boolean> {
    const now = this.state.now();
    if (generation !== undefined && generation <= this.generations.swept) return false;
    if (now - this.generations.readAt >= 250) {
      this.generations = { ...(await this.state.generationAndSwept()), readAt: now };
    }
    // As read-values.lua: only while the current generation (ingest's counter) is not swept. Without a counter
    // (an engine fed jobs directly) nothing is held.
    const { current, swept } = this.generations;
    const g = generation ?? current;
    if (g <= swept || current <= swept) return false;
    let since = this.recoveringSince.get(g);
    if (since === undefined) {
      since = now;
      this.recoveringSince.set(g, now);
    }
    return now - since <= (this.opts.settleMaxMs ?? 600_000);
  }

  /** Per claim under way: its values awaiting a create outcome, and the check that calls its `onParked`. */
  private readonly parking = new Map<Claim, { awaiting: number; check: () => void }>();

  /** When this process first saw each generation still recovering (for settleMaxMs). */
  private readonly recoveringSince = new Map<number, number>();

  /**
   * The desired state with `settling` set when it must not be written yet (see holdDuringRecovery), unless this
   * process has held writes back for that generation for settleMaxMs already.
   */
  private boundSettling(desired: DesiredValue): DesiredValue {
    const g = desired.recovering;
    if (!g || !(desired.staleHolders || this.opts.holdDuringRecovery)) return desired;
    const now = this.state.now();
    let since = this.recoveringSince.get(g);
    if (since === undefined) {
      since = now;
      this.recoveringSince.set(g, now);
    }
    if (now - since > (this.opts.settleMaxMs ?? 600_000)) return desired;
    return { ...desired, settling: true };
  }

  private settleRecheckMs(): number {
    return this.opts.settleRecheckMs ?? 30_000;
  }

  /**
   * Claims due dirty values and reconciles them. With holdDuringRecovery, nothing is claimed while the current
   * generation's recovery runs (`held` in the report): its values wait for the sweep, which makes them due, and
   * the recovery's jobs are applied without the claims' load.
   */
  async reconcileDirty(opts: { max?: number; onParked?: () => void } = {}): Promise<ReconcileReport> {
    if (this.opts.holdDuringRecovery && (await this.recovering())) return { ...emptyReport(), held: true };
    return this.reconcileClaim(await this.state.claimDirty(opts.max ?? 100), opts.onParked);
  }

  /** Creates submitted to the create batcher and not answered yet (the drainer bounds its parked claims by it). */
  get openCreates(): number {
    return this.collector.openValues;
  }

  async reconcileValues(values: string[]): Promise<ReconcileReport> {
    return this.reconcileClaim(await this.state.claimValues(values));
  }

  /**
   * Drops the tombstones no event that may still come can be refused by (SyncState.pruneTombstones): one run, under
   * the connector's prune lease (`skipped` while another worker's run holds it), bounded in Redis time.
   */
  pruneTombstones(opts?: PruneOptions): Promise<PruneRun> {
    return this.state.pruneTombstones(opts);
  }

  /**
   * Only the compare-and-set of the job's desired state: its values stay dirty for the drainer (a burst). `lock`:
   * as applyJob.
   */
  recordDesired(job: IndicatorJob, opts: { lock?: JobLock } = {}): Promise<RecordDesiredResult> {
    return this.state.recordDesired(job, opts);
  }

  /**
   * Puts values into the dirty set (a dead letter of kind `value` replayed: `clearRejection` lets a value Sekoia
   * rejected be tried again at the same desired version).
   */
  markDirty(values: string[], opts: { clearRejection?: boolean } = {}): Promise<void> {
    return this.state.markDirty(values, opts);
  }

  /** Brings the sync state of an older layout to the current one (SyncState.migrate; at worker start). */
  migrate() {
    return this.state.migrate();
  }

  /**
   * Hands back the creates submitted and not sealed yet: answered not-sent (nothing sent, no intent), their claims
   * end and release the values' locks, the values stay dirty (shutdown; collection full). Sealed ones go on.
   */
  withdrawCreates(reason: string): Promise<void> {
    return this.collector.withdraw(reason);
  }

  /** Waits for the creates already submitted to the create batcher (shutdown, after the last claim). */
  drainCreates(): Promise<void> {
    return this.collector.drain();
  }

  dirtyCount(): Promise<number> {
    return this.state.dirtyCount();
  }

  /** Dirty values due now. */
  dueCount(): Promise<number> {
    return this.state.dueCount();
  }

  /** Time (ms) of the next dirty value, or undefined when the set is empty. */
  nextDueAt(): Promise<number | undefined> {
    return this.state.nextDueAt();
  }

  /** The engine's clock (ms). */
  now(): number {
    return this.state.now();
  }

  async stats() {
    const [dirty, due, counters] = await Promise.all([
      this.state.dirtyCount(),
      this.state.dueCount(),
      this.state.counters(),
    ]);
    return {
      dirty,
      due,
      recordDesired: counters,
      reconcile: { ...this.totals },
      requests: { ...this.requests },
    };
  }

  /**
   * Reconciles a claim: every value is worked on concurrently (creates meet in the collector). `onParked` is
   * called at most once, as soon as every value of the claim not finished yet awaits the outcome of its create in
   * the create batcher (what is left is the batches' seals and requests; never called when the claim ends without
   * that), so a drainer can claim more values meanwhile and the batches fill (README.md, "Reconcile").
   */
  async reconcileClaim(claim: Claim, onParked?: () => void): Promise<ReconcileReport> {
    const report = emptyReport(claim);
    if (claim.values.length === 0) return report;
    const open = new Set(claim.values);
    const parking = { awaiting: 0, check: () => {} };
    if (onParked) {
      let fired = false;
      parking.check = () => {
        if (fired || open.size === 0 || parking.awaiting < open.size) return;
        fired = true;
        onParked();
      };
    }
    this.parking.set(claim, parking);
    const renewEvery = Math.max(50, Math.floor(this.state.lockTtlMs / 3));
    const timer = setInterval(() => {
      if (open.size === 0) return;
      this.state.renew(claim, [...open]).catch(() => {
        // Redis unreachable: the scripts check the lock when it is back.
      });
    }, renewEvery);
    try {
      const states = await this.state.readValues(claim.values);
      // allSettled: one value's error must not end the claim (and its lock renewal) while the others still write.
      const outcomes = await Promise.allSettled(
        states.map(async (st) => {
          try {
            await this.reconcileOne(claim, st, report);
          } finally {
            open.delete(st.value);
            parking.check();
          }
        }),
      );
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      clearInterval(timer);
      this.parking.delete(claim);
      this.add(report);
    }
    if (report.configurationError) this.opts.onConfigurationError?.(report.configurationError);
    return report;
  }

  private async reconcileOne(claim: Claim, st: ValueState, report: ReconcileReport): Promise<void> {
    const { value } = st;
    const desired = this.boundSettling(st.desired);
    let applied = st.applied;
    let searched = false;
    const attempt: Attempt = { forceDeleted: new Set(), forceDeleteRounds: 0 };
    const muts: Mutation[] = [];
    let lockLost = false;
    const finish = async (mode: 'done' | 'retry', delayMs = 0) => {
      const r = await this.state.recordApplied(claim, value, desired.version, mode, muts, delayMs);
      if (r.outcome === 'done') report.done++;
      else report.redirtied++;
      if (r.reason === 'lock') {
        report.lost++;
        lockLost = true;
      }
    };

    for (let round = 0; round < MAX_ROUNDS; round++) {
      const now = this.state.now();
      const d = decide(desired, applied, {
        seq: claim.seq,
        now,
        writeHorizonMs: this.state.writeHorizonMs,
        searched,
      });
      if (d.kind === 'wait') return finish('retry', d.untilMs - now);
      // Its holders' re-reads (or the sweep) dirty it again at once; the delay only bounds a missed wake-up.
      if (d.kind === 'settle') {
        await finish('retry', this.settleRecheckMs());
        // The sweep sets `swept`, then wakes the held values: one that woke them between this claim's read and
        // its retry above missed this value; it is woken here (it would otherwise wait the whole recheck).
        const g = desired.recovering;
        if (!lockLost && g !== undefined && (await this.state.generationAndSwept()).swept >= g)
          await this.state.markDirty([value]);
        return;
      }
      if (d.kind === 'noop') {
        if (d.reason !== 'rejected') muts.push(...completion(desired, applied));
        return finish('done');
      }
      if (d.kind === 'search') {
        let found: FoundIndicator[];
        try {
          await this.budget.take();
          this.requests.search++;
          report.searches++;
          found = await this.port.searchExact(value);
        } catch (err) {
          const step = await this.failure(err, applied, 'search');
          muts.push(...step.muts);
          if (step.status === 'stop') report.configurationError = step.message;
          return finish('retry', step.status === 'retry' ? step.delayMs : this.configurationRetryMs());
        }
        const obs = observation(value, applied, found, claim.seq, this.state.fingerprint);
        const r = await this.state.recordApplied(claim, value, desired.version, 'observe', obs);
        if (r.outcome === 'lost') {
          // Someone else has the value now (or will, once our expired lock is seen): it is still dirty.
          report.lost++;
          return;
        }
        applied = applyMutations(applied, obs, claim.seq, now, this.state.writeHorizonMs);
        searched = true;
        continue;
      }
      for (const action of d.actions) {
        const step = await this.execute(claim, desired, applied, action, report, attempt);
        muts.push(...step.muts);
        applied = applyMutations(applied, step.muts, claim.seq, this.state.now(), this.state.writeHorizonMs);
        if (step.status === 'stop') {
          report.configurationError = step.message;
          return finish('retry', this.configurationRetryMs());
        }
        if (step.status === 'retry') return finish('retry', step.delayMs);
      }
      // Decide again: normally nothing is left (→ done); an edit of a vanished id now becomes a create.
    }
    // Still not settled after MAX_ROUNDS: never straight back into the dirty set (that would be a hot loop).
    muts.push({ op: 'failinc' });
    return finish('retry', this.backoff(applied.failures));
  }

  private async execute(
    claim: Claim,
    desired: DesiredValue,
    applied: AppliedState,
    action: Action,
    report: ReconcileReport,
    attempt: Attempt,
  ): Promise<Step> {
    const value = desired.value;
    if (action.type === 'create') {
      if (this.createsBlocked) return { status: 'retry', muts: [], delayMs: this.configurationRetryMs() };
      report.creates++;
      const parking = this.parking.get(claim);
      let o: CreateOutcome;
      if (parking) parking.awaiting++;
      try {
        const p = this.collector.submit(value, action.attributes, action.fp, claim, desired.version);
        parking?.check();
        o = await p;
      } finally {
        if (parking) parking.awaiting--;
      }
      switch (o.kind) {
        case 'created':
          // Created now: confirmed in this generation (no verify search needed).
          return {
            status: 'ok',
            muts: [
              ...o.ids.map((id) => ({ op: 'setid' as const, id, fp: action.fp })),
              { op: 'gen', generation: Math.max(desired.generation, applied.generation) },
            ],
          };
        case 'revoked':
          return this.revokedAnswer(desired, applied, action, o.ids, report, attempt);
        case 'rejected':
          return this.rejected(desired, action, o.reason, report, applied);
        case 'unknown': {
          // The create may have happened: search for it before creating again. If the request may still be in
          // flight, its intent stays until the write horizon, and the search waits for that.
          const muts: Mutation[] = [{ op: 'unsure', fp: action.fp }, { op: 'failinc' }];
          if (!o.answered) muts.push({ op: 'keepintent' });
          const delayMs = o.answered
            ? Math.max(this.opts.lostAnswerSearchDelayMs ?? 5_000, this.backoff(applied.failures))
            : this.state.writeHorizonMs;
          return { status: 'retry', muts, delayMs };
        }
        case 'not-sent':
          if (o.policy === 'configuration') return { status: 'stop', muts: [], message: o.reason };
          if (o.policy === 'rate-limited') return { status: 'retry', muts: [], delayMs: o.retryAfterMs ?? 0 };
          return { status: 'retry', muts: [], delayMs: 0 };
        case 'refused':
          return { status: 'retry', muts: [], delayMs: 0 };
      }
    }

    try {
      await this.budget.take();
    } catch {
      // Nothing was sent (Redis trouble, shutdown).
      return { status: 'retry', muts: [], delayMs: this.backoff(applied.failures) };
    }
    const fp = action.type === 'edit' ? action.fp : '';
    // Refused when the lock is lost, another write is in flight, or the desired state changed while this claim
    // waited for its token (the value is then claimed again with the new version at once).
    const ok = await this.state.beginWrite([{ value, claim, version: desired.version, fp }], action.type);
    if (!ok.has(value)) return { status: 'retry', muts: [], delayMs: 0 };
    try {
      if (action.type === 'edit') {
        report.edits++;
        this.requests.edit++;
        await this.port.edit(action.id, action.attributes, value);
        return { status: 'ok', muts: [{ op: 'setid', id: action.id, fp: action.fp }] };
      }
      report.revokes++;
      this.requests.revoke++;
      // 'revoked' or 'not-found': either way that id is no longer live.
      await this.port.revoke(action.id, desired.live ? undefined : value);
      return { status: 'ok', muts: [{ op: 'delid', id: action.id }] };
    } catch (err) {
      const { policy, message } = policyOf(err);
      if (policy === 'not-found') return { status: 'ok', muts: [{ op: 'delid', id: action.id }] };
      if (policy === 'rejected' && action.type === 'revoke')
        return this.refusedRevoke(desired, applied, action, message, report);
      if (policy === 'rejected') return this.rejected(desired, action, message, report, applied);
      const step = await this.failure(err, applied, action.type);
      // An edit that may have landed leaves the id's attributes unknown: the next pass edits again.
      if (action.type === 'edit' && step.status === 'retry' && step.muts.some((m) => m.op === 'failinc'))
        step.muts.push({ op: 'setid', id: action.id, fp: '' });
      return step;
    }
  }

  /**
   * Sekoia refused a revoke (issue 13 case 2). Some Sekoia may refuse the DELETE of an indicator already revoked
   * (by hand, or by a request whose answer was lost): one exact search tells. Revoked or gone → done. Still live
   * → terminal for that id at this desired version: one dead letter with Sekoia's reason.
   */
  private async refusedRevoke(
    desired: DesiredValue,
    applied: AppliedState,
    action: Extract<Action, { type: 'revoke' }>,
    reason: string,
    report: ReconcileReport,
  ): Promise<Step> {
    let found: FoundIndicator[];
    try {
      await this.budget.take();
      this.requests.search++;
      report.searches++;
      found = await this.port.searchExact(desired.value);
    } catch (err) {
      return this.failure(err, applied, 'search');
    }
    if (!found.some((f) => f.id === action.id && !f.revoked)) {
      return { status: 'ok', muts: [{ op: 'delid', id: action.id }] };
    }
    return this.rejected(desired, action, reason, report, applied);
  }

  /**
   * Sekoia answered a create with its revoked indicator(s) (issue 13 case 3). A revocation cannot be undone and
   * an edit (PUT) has no `revoked` field (packages/sekoia/README.md, "Making a revoked value live again"), so the
   * one documented way to make the value live again is to delete the revoked indicator for good — allowed 24 h
   * after its revocation — and create again. A value may hold several revoked indicators (hand-made duplicates,
   * older re-imports), answered in turn: each is deleted, at most MAX_FORCE_DELETE_ROUNDS rounds per claim. When
   * a deletion is refused, a create answers an indicator already deleted, or the rounds run out, the value is
   * rejected at this desired version: one dead letter saying why, and nothing is sent for it until its desired
   * state changes (or the dead letter is replayed).
   */
  private async revokedAnswer(
    desired: DesiredValue,
    applied: AppliedState,
    action: Action,
    ids: string[],
    report: ReconcileReport,
    attempt: Attempt,
  ): Promise<Step> {
    const why =
      `Sekoia.io answered the create with its revoked indicator ${ids.join(', ')}: it ignores the re-import of a ` +
      'revoked value, and a revocation cannot be undone (no edit makes it live)';
    // Answered again with an indicator already deleted for good, or too many revoked ones: the API does not let
    // this value live again now.
    if (ids.some((id) => attempt.forceDeleted.has(id))) {
      const reason = `${why}; it did so again after the revoked indicator was deleted for good`;
      return this.rejected(desired, action, reason, report, applied, ids[0]);
    }
    if (attempt.forceDeleteRounds >= MAX_FORCE_DELETE_ROUNDS) {
      const reason = `${why}; it did so again after ${attempt.forceDeleted.size} revoked indicators were deleted for good`;
      return this.rejected(desired, action, reason, report, applied, ids[0]);
    }
    attempt.forceDeleteRounds++;
    for (const id of ids) {
      attempt.forceDeleted.add(id);
      try {
        await this.budget.take();
      } catch {
        return { status: 'retry', muts: [], delayMs: this.backoff(applied.failures) };
      }
      try {
        report.forceDeletes++;
        this.requests.forceDelete++;
        await this.port.forceDelete(id); // 'deleted' or 'not-found': either way it no longer answers creates.
      } catch (err) {
        const { policy, message } = policyOf(err);
        // Assumption (undocumented status): an early deletion for good is refused with a 400-like answer the
        // client maps to 'rejected'; a retryable answer is retried with backoff like any other request.
        if (policy === 'rejected') {
          const reason =
            `${why}. Deleting it for good was refused (${message}); Sekoia allows that 24 h after the ` +
            'revocation: replay this dead letter then, or delete the revoked indicator in Sekoia.io';
          return this.rejected(desired, action, reason, report, applied, id);
        }
        if (policy !== 'not-found') return this.failure(err, applied, 'search');
      }
    }
    // Gone for good: decide again (→ create).
    return { status: 'ok', muts: [] };
  }

  private async rejected(
    desired: DesiredValue,
    action: Action,
    reason: string,
    report: ReconcileReport,
    applied: AppliedState,
    sekoiaId?: string,
  ): Promise<Step> {
    report.rejected++;
    const id = sekoiaId ?? (action.type === 'create' ? undefined : action.id);
    try {
      await this.opts.onRejected?.({
        value: desired.value,
        reason,
        desiredVersion: desired.version,
        action: action.type,
        ...(id ? { id } : {}),
      });
    } catch (err) {
      // The rejection is recorded only once it is reported (dead letter), or it would be invisible: retry.
      this.opts.onError?.(err);
      return { status: 'retry', muts: [{ op: 'failinc' }], delayMs: this.backoff(applied.failures) };
    }
    if (action.type !== 'revoke')
      return { status: 'ok', muts: [{ op: 'rej', reason, version: desired.version }] };
    // A refused revoke: that id is not revoked again at this desired version (the others still are).
    const before = applied.rejected?.version === desired.version ? (applied.rejected.ids ?? []) : [];
    const ids = [...new Set([...before, action.id])].sort();
    return { status: 'ok', muts: [{ op: 'rej', reason, version: desired.version, ids }] };
  }

  /**
   * Retryable, rate-limited or configuration failure of one request (rate-limited and configuration
   * requests were not applied). A retryable edit or revoke may have been applied, and may still be in flight:
   * - its intent is kept until the write horizon unless the origin answered, so no later write can land
   *   before it;
   * - a revoke may have happened (irreversibly): the value is searched before the id is trusted as live.
   */
  private async failure(err: unknown, applied: AppliedState, what: Action['type'] | 'search'): Promise<Step> {
    const { policy, retryAfterMs, answered, message } = policyOf(err);
    if (policy === 'rate-limited') {
      const ms = retryAfterMs ?? this.opts.defaultRetryAfterMs ?? 30_000;
      await this.budget.pause(ms);
      return { status: 'retry', muts: [], delayMs: ms };
    }
    if (policy === 'configuration') return { status: 'stop', muts: [], message };
    const muts: Mutation[] = [{ op: 'failinc' }];
    let delayMs = this.backoff(applied.failures);
    if (what === 'revoke') muts.push({ op: 'unsure', fp: '' });
    if (what !== 'search' && !answered) {
      muts.push({ op: 'keepintent' });
      delayMs = Math.max(delayMs, this.state.writeHorizonMs);
    }
    return { status: 'retry', muts, delayMs };
  }

  private backoff(failures: number): number {
    const base = this.opts.backoffBaseMs ?? 1000;
    const max = this.opts.backoffMaxMs ?? 300_000;
    const ms = Math.min(max, base * 2 ** Math.min(failures, 30));
    return Math.round(ms * (0.5 + Math.random() / 2));
  }

  private configurationRetryMs(): number {
    return this.opts.configurationRetryMs ?? 30_000;
  }

  private add(r: ReconcileReport): void {
    for (const k of Object.keys(this.totals) as (keyof ReconcileReport)[]) {
      if (k === 'configurationError' || k === 'held') continue;
      (this.totals[k] as number) += r[k] as number;
    }
  }
}

/** After a write round that left nothing to do: confirmed in this generation, failures and stale rejection gone. */
function completion(desired: DesiredValue, applied: AppliedState): Mutation[] {
  const m: Mutation[] = [];
  if (desired.generation > applied.generation) m.push({ op: 'gen', generation: desired.generation });
  if (applied.failures > 0) m.push({ op: 'failreset' });
  if (applied.rejected && applied.rejected.version !== desired.version) m.push({ op: 'clearrej' });
  return m;
}

/**
 * What an exact search says about the value, as mutations: every live exact match is a known id, every known id
 * not found live is gone. An id's fingerprint: the one we last wrote (or the one a lost create sent) when the
 * attributes the search lists agree with it — Sekoia's default `valid_until` where we sent none is no
 * difference, as in record-observed.lua — else the listed attributes' own (an edit by hand in Sekoia, a crashed
 * edit that landed: the next decision edits when they are not the desired ones). Without listed attributes:
 * the one we last wrote, unknown after a crashed edit.
 */
export function observation(
  value: string,
  applied: AppliedState,
  found: FoundIndicator[],
  seq: number,
  fingerprint: (a: IocAttributes) => string = defaultFingerprint,
): Mutation[] {
  const liveFound = found.filter((f) => f.value === value && !f.revoked);
  const live = new Set(liveFound.map((f) => f.id));
  const listed = new Map(liveFound.map((f) => [f.id, f.attributes]));
  const foreign = applied.intents.filter((i) => i.seq !== seq);
  const createFp = foreign.find((i) => i.op === 'create')?.fp ?? applied.unsureFp ?? '';
  // A crashed writer's edit may have landed on any id: what they carry is unknown.
  const editLost = foreign.some((i) => i.op === 'edit');
  const muts: Mutation[] = [];
  for (const id of [...live].sort()) {
    const known = editLost ? '' : (applied.ids[id] ?? createFp);
    const attributes = listed.get(id);
    if (!attributes) {
      muts.push({ op: 'setid', id, fp: known });
      continue;
    }
    const same =
      known !== '' &&
      (known === fingerprint(attributes) || known === fingerprint(withoutValidUntil(attributes)));
    muts.push({ op: 'setid', id, fp: same ? known : fingerprint(attributes) });
  }
  for (const id of Object.keys(applied.ids)) if (!live.has(id)) muts.push({ op: 'delid', id });
  muts.push({ op: 'sure' }, { op: 'clearforeign' });
  return muts;
}
