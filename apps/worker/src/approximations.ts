import type { RedisClient } from '@octi-sekoia/queue';
import type { ApproximationMode } from '@octi-sekoia/sekoia';

export interface ApproximationsOptions {
  redis: RedisClient;
  /** The hash of a mode: `keys().approximated` of @octi-sekoia/queue. */
  keyOf: (mode: ApproximationMode) => string;
  /** The first time a value is written so under a mode (any worker, any restart): the worker logs it. */
  onFirst: (mode: ApproximationMode, value: string, detail: string) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * Values written as close as Sekoia allows, recorded once per value and mode in Redis (shared by every worker,
 * kept across restarts): the operator is told once per value — a log line, and a count in `pnpm cli status` —
 * however often the value is written again (every re-sync edits it the same way), never in a loop.
 */
export class Approximations {
  constructor(private readonly opts: ApproximationsOptions) {}

  /** Records that `values` were written under `mode`; reports the ones seen for the first time. */
  async record(mode: ApproximationMode, values: readonly string[], detail: string): Promise<void> {
    const key = this.opts.keyOf(mode);
    const at = new Date((this.opts.now ?? Date.now)()).toISOString();
    const m = this.opts.redis.multi();
    for (const v of values) m.hsetnx(key, v, JSON.stringify({ detail, at }));
    const replies = (await m.exec()) ?? [];
    values.forEach((v, i) => {
      const [err, added] = replies[i] ?? [null, 0];
      if (!err && Number(added) === 1) this.opts.onFirst(mode, v, detail);
    });
  }

  /**
   * A write of `values` held what `mode` approximates exactly: their records under it go, so `pnpm cli status`
   * counts the values approximated now, not ever (and a later approximation is reported again).
   */
  async clear(mode: ApproximationMode, values: readonly string[]): Promise<void> {
    if (values.length > 0) await this.opts.redis.hdel(this.opts.keyOf(mode), ...values);
  }

  /** `clear` without waiting; a Redis error is only logged. */
  forget(mode: ApproximationMode, values: readonly string[]): void {
    this.clear(mode, values).catch((err) => this.opts.onError?.(err));
  }

  /** `record` without waiting; a Redis error is only logged (the write itself went through). */
  report(mode: ApproximationMode, values: readonly string[], detail: string): void {
    this.record(mode, values, detail).catch((err) => this.opts.onError?.(err));
  }
}
