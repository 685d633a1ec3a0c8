import type { RedisClient } from '@octi-sekoia/queue';

export interface WriteMarkOptions {
  redis: RedisClient;
  /** The counter every worker INCRs (`keys().sync.writeMark` of @octi-sekoia/queue). */
  key: string;
  /** Where a re-sync is requested (`keys().resyncRequested`: ingest GETDELs it and starts a new generation). */
  resyncKey: string;
  /** Redis lost writes: `requested` is true for the one worker whose SET NX asked for the re-sync. */
  onLost: (d: { before: number; after: number; requested: boolean }) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * The worker's write mark, as ingest has its own (docs/redis.md, "What a failover can cost"): before every write
 * request to Sekoia (its write intent recorded), the worker INCRs one counter shared by every worker. The counter
 * only grows, and every key of the connector is in one slot, so a promoted replica holds a prefix of the
 * connector's history: an INCR answering no more than this process got before means Redis lost writes it had
 * acknowledged — write intents and applied records of values already written to Sekoia. What those can leave (a
 * value written but not recorded, a duplicate IOC) a collection read finds, so the worker requests a re-sync, as
 * `pnpm cli resync` would, and no operator is needed. Best effort: an error is reported, never thrown (the write
 * goes on).
 */
export class WriteMark {
  private last = 0;

  constructor(private readonly opts: WriteMarkOptions) {}

  async note(): Promise<void> {
    try {
      const n = await this.opts.redis.incr(this.opts.key);
      const before = this.last;
      this.last = n;
      if (n > before) return;
      const at = new Date((this.opts.now ?? Date.now)()).toISOString();
      const requested = (await this.opts.redis.set(this.opts.resyncKey, at, 'NX')) === 'OK';
      this.opts.onLost({ before, after: n, requested });
    } catch (err) {
      this.opts.onError?.(err);
    }
  }
}
