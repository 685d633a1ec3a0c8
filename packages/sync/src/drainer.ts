import type { ReconcileReport, Reconciler } from './reconciler.ts';

export interface DrainerOptions {
  /** Values per claim. */
  batch: number;
  /** Claims worked on at once (a parked claim, whose values only await their creates, is not counted). */
  concurrency: number;
  /**
   * Most creates awaiting their outcome in this process (its create batcher's open values) for the drainer to go
   * on claiming while its claims are parked (default batch × concurrency: as many values as the claims held before parking, but refilled as they are sent). Parked claims keep their values'
   * locks (renewed) and their values offered to the create batches, so this bounds both; it is also what keeps
   * the drainer's Redis scripts and CPU from crowding out the seal loop (claims flooding in right after a sweep
   * delayed the first seals by a second on a loaded machine with twice this bound).
   */
  maxOpenCreates?: number;
  /** Longest sleep when nothing is due. */
  idleMs: number;
  /**
   * During a burst (see `burst`), due values wait up to this long for more to come, unless a full claim is due:
   * claims are then large, so creates fill their batches of 100 and a value changed by several jobs of the burst
   * is written once.
   */
  settleMs: number;
  /** Whether jobs are arriving faster than they are applied (a backlog in the queue). */
  burst: () => boolean;
  /** After a configuration error, wait this long (the circuit stops the drainer meanwhile anyway). */
  configurationRetryMs: number;
  onError?: (err: unknown) => void;
}

/**
 * The background drainer of the dirty set (the engine's `reconcileDirty` in a loop; the worker runs one): it
 * reconciles what jobs did not (crashes, retries with backoff, bursts) and what sweeps dirtied, and lets values
 * settle during a burst, so bulk work is claimed in large claims.
 *
 * A claim whose remaining values all await the outcome of their creates is parked: its loop goes on claiming
 * (while fewer than `maxOpenCreates` creates wait), so the shared create batches of every field group keep being
 * fed while the budget sends them one token at a time. Without it, claims of values spread over many groups each
 * waited for their smallest group's batch, the drainer stopped claiming, and the groups' batches left partly
 * filled (issue 18: 212–218 creates where 208 suffice).
 */
export class Drainer {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  /** Parked claims still under way (stop() waits for them). */
  private readonly parked = new Set<Promise<unknown>>();
  /** A parked claim ended on a configuration error: no claim before this time. */
  private pausedUntil = 0;
  /** Claims of this drainer under way and not parked. */
  private deciding = 0;
  private readonly maxOpenCreates: number;

  constructor(
    private readonly reconciler: Reconciler,
    private readonly opts: DrainerOptions,
  ) {
    this.maxOpenCreates = opts.maxOpenCreates ?? Math.max(1, opts.batch) * Math.max(1, opts.concurrency);
  }

  /** Claims parked by this drainer and not ended yet. */
  get parkedClaims(): number {
    return this.parked.size;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: Math.max(1, this.opts.concurrency) }, () => this.loop());
  }

  /**
   * Stops claiming, hands back the creates not sealed yet (their claims end, their values stay dirty and unlocked),
   * and waits for the claims in progress and for the creates already sealed.
   */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    // Values offered and not sealed yet are handed back at once (not sent, no intent): under a held or shared
    // budget they might not leave within the shutdown grace, and an abandoned claim's values stay locked, can still
    // be sent under its token by another worker, and cost a search each after the write horizon.
    // A failed hand-back (Redis refusing the script) must not cut the stop short: the loops, parked claims and
    // creates are still waited for; what was not handed back follows the rules of an abandoned claim.
    const withdraw = () =>
      this.reconciler.withdrawCreates('stopping').catch((err: unknown) => this.opts.onError?.(err));
    await withdraw();
    await Promise.all(this.loops);
    this.loops = [];
    // Once more: a claim decided while the loops ended may have offered some.
    await withdraw();
    await Promise.all([Promise.allSettled([...this.parked]), this.reconciler.drainCreates()]);
  }

  private async loop(): Promise<void> {
    const engine = this.reconciler;
    while (this.running) {
      let sleepMs = 0;
      try {
        const now0 = engine.now();
        if (this.pausedUntil > now0) {
          await this.sleep(this.pausedUntil - now0);
          continue;
        }
        // Claims being decided count at their full size: right after a sweep, the first claims are those of
        // before parking, not twice as many (the drainer's scripts and CPU would delay the first seals).
        const open = engine.openCreates + this.deciding * this.opts.batch;
        if (this.parked.size > 0 && open >= this.maxOpenCreates) {
          // Enough creates wait for their batches: claim again once a parked claim ends (or after idleMs).
          await Promise.race([...this.parked, this.sleep(this.opts.idleMs)]);
          continue;
        }
        const [due, next] = await Promise.all([engine.dueCount(), engine.nextDueAt()]);
        const now = engine.now();
        if (due === 0) {
          sleepMs =
            next === undefined ? this.opts.idleMs : Math.min(this.opts.idleMs, Math.max(10, next - now));
        } else if (
          due < this.opts.batch &&
          next !== undefined &&
          now - next < this.opts.settleMs &&
          this.opts.burst()
        ) {
          sleepMs = Math.min(50, this.opts.settleMs - (now - next));
        } else {
          const report = await this.claim();
          if (report === undefined) continue; // parked: claim again
          if (report.configurationError) sleepMs = this.opts.configurationRetryMs;
          // A recovery runs: values wait for its sweep (README.md, "Reconcile").
          else if (report.held) sleepMs = this.opts.idleMs;
        }
      } catch (err) {
        this.opts.onError?.(err);
        sleepMs = this.opts.idleMs;
      }
      if (sleepMs > 0 && this.running) await this.sleep(sleepMs);
    }
  }

  /** One claim: its report, or undefined once it is parked (it then ends in the background, tracked). */
  private claim(): Promise<ReconcileReport | undefined> {
    this.deciding++;
    return new Promise<ReconcileReport | undefined>((resolve, reject) => {
      let parked = false;
      const run = this.reconciler.reconcileDirty({
        max: this.opts.batch,
        onParked: () => {
          parked = true;
          this.deciding--;
          const p = run.then(
            (report) => {
              if (report.configurationError)
                this.pausedUntil = this.reconciler.now() + this.opts.configurationRetryMs;
            },
            (err: unknown) => this.opts.onError?.(err),
          );
          this.parked.add(p);
          void p.finally(() => this.parked.delete(p));
          resolve(undefined);
        },
      });
      run.then(
        (report) => {
          if (parked) return;
          this.deciding--;
          resolve(report);
        },
        (err: unknown) => {
          if (parked) return;
          this.deciding--;
          reject(err);
        },
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
