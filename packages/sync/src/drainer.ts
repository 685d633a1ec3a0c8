import type { Reconciler } from './reconciler.ts';

export interface DrainerOptions {
  /** Values per claim. */
  batch: number;
  /** Claims worked on at once. */
  concurrency: number;
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
 */
export class Drainer {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly reconciler: Reconciler,
    private readonly opts: DrainerOptions,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: Math.max(1, this.opts.concurrency) }, () => this.loop());
  }

  /** Stops claiming, waits for the claims in progress and for the creates they submitted. */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
    this.loops = [];
    await this.reconciler.drainCreates();
  }

  private async loop(): Promise<void> {
    const engine = this.reconciler;
    while (this.running) {
      let sleepMs = 0;
      try {
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
          const report = await this.reconciler.reconcileDirty({ max: this.opts.batch });
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
