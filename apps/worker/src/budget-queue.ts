import type { Budget } from '@octi-sekoia/sync';

/**
 * A local FIFO in front of the shared Redis budget: at most `maxTakers` callers of this process poll Redis for a
 * token at once, the others wait their turn here. Without it, a claim of hundreds of values waiting for tokens
 * would poll Redis hundreds of times per token granted, and tokens would go to callers in random order.
 */
export class BudgetQueue implements Budget {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private waitingCount = 0;

  constructor(
    private readonly budget: Budget,
    private readonly maxTakers = 4,
  ) {}

  /** Callers waiting for their turn (not yet polling Redis). */
  get queued(): number {
    return this.waitingCount;
  }

  async take(signal?: AbortSignal): Promise<void> {
    await this.acquire(signal);
    try {
      await this.budget.take(signal);
    } finally {
      this.release();
    }
  }

  pause(ms: number): Promise<void> {
    return this.budget.pause(ms);
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.maxTakers) {
      this.active += 1;
      return Promise.resolve();
    }
    this.waitingCount += 1;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const grant = () => {
        if (done) return false;
        done = true;
        this.waitingCount -= 1;
        signal?.removeEventListener('abort', onAbort);
        resolve();
        return true;
      };
      const onAbort = () => {
        if (done) return;
        done = true;
        this.waitingCount -= 1;
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(() => {
        if (!grant()) this.release();
      });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next)
      next(); // the slot passes on (or, if that waiter was aborted, is released again)
    else this.active -= 1;
  }
}
