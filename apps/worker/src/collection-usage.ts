import type { RedisClient } from '@octi-sekoia/queue';

/** What `<base>:collection-usage` holds (JSON). */
export interface CollectionUsage {
  count: number;
  max: number;
  /** ISO time of the reading. */
  at: string;
  /** count ≥ max: creates are stopped (edits and revokes go on). */
  full: boolean;
}

export interface UsageWatchOptions {
  redis: RedisClient;
  /** `<base>:collection-usage`. */
  key: string;
  /** GET …/count-total-iocs. */
  read: () => Promise<{ count: number; max: number }>;
  /** Period of the reading (e.g. every minute). */
  intervalMs: number;
  /** Shorter period while full, so creates resume soon after space is freed. */
  fullIntervalMs: number;
  /** Creates stop (true) or resume (false). */
  onFull: (full: boolean, usage: CollectionUsage) => void;
  onReading?: (usage: CollectionUsage) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export function quotaMessage(u: { count: number; max: number }): string {
  return `Sekoia.io IOC quota reached (${u.count} of ${u.max}): new values wait until space is freed (revoke IOCs or raise the quota); revokes and edits go on`;
}

/**
 * Watches the IOC quota: reads count-total-iocs periodically (and at once when a create was refused for
 * quota), publishes the reading, and stops/resumes creates on the transitions.
 */
export class UsageWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private last: CollectionUsage | undefined;
  private reading: Promise<void> | undefined;

  constructor(private readonly opts: UsageWatchOptions) {}

  get full(): boolean {
    return this.last?.full ?? false;
  }

  current(): CollectionUsage | undefined {
    return this.last ? { ...this.last } : undefined;
  }

  start(): void {
    void this.check();
  }

  /** Reads now (at most one reading at a time), then schedules the next one. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.reading ??= this.readOnce().finally(() => {
      this.reading = undefined;
      this.schedule();
    });
    return this.reading;
  }

  /** A create was refused for quota (the client already read count-total-iocs): record it without a request. */
  quotaFull(count: number, max: number): void {
    this.record({ count, max });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async readOnce(): Promise<void> {
    try {
      this.record(await this.opts.read());
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private record({ count, max }: { count: number; max: number }): void {
    const usage: CollectionUsage = {
      count,
      max,
      at: new Date((this.opts.now ?? Date.now)()).toISOString(),
      full: count >= max,
    };
    const was = this.full;
    this.last = usage;
    this.opts.onReading?.(usage);
    this.opts.redis.set(this.opts.key, JSON.stringify(usage)).catch((err) => this.opts.onError?.(err));
    if (usage.full !== was) this.opts.onFull(usage.full, usage);
    if (usage.full && !was) {
      // Read again soon: the next reading after space is freed resumes creates.
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.check();
      },
      this.full ? this.opts.fullIntervalMs : this.opts.intervalMs,
    );
    this.timer.unref();
  }
}
