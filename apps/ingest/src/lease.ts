import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from '@octi-sekoia/queue';

const renewScript = readFileSync(new URL('./lua/renew-lease.lua', import.meta.url), 'utf8');
const releaseScript = readFileSync(new URL('./lua/release-lease.lua', import.meta.url), 'utf8');

export type LeaseLoss = 'expired' | 'taken';

export interface LeaseEvents {
  onAcquired(): void;
  /**
   * The lease was lost: stop reading at once. `expired`: nobody holds it (Redis was unreachable, or this process
   * paused, for longer than the TTL); `taken`: another replica holds it.
   */
  onLost(why: LeaseLoss): void;
}

/**
 * One active reader per stream: a Redis key held with a token and a TTL, renewed every ttl/3. A standby
 * replica retries acquisition at the same period and takes over within one TTL after the leader dies.
 */
export class ReaderLease {
  readonly token = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  /** Acquisition or renewal rounds so far (observable by tests and metrics). */
  rounds = 0;
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly ttlMs: number,
    private readonly events: LeaseEvents,
  ) {}

  isHeld(): boolean {
    return this.held;
  }

  /**
   * A write fenced by the lease (a batch of jobs: add-standard-jobs.lua) was refused: Redis says the lease is not
   * ours. Lost now, as the next renewal would find (onLost, then acquisition is tried again at the usual period).
   */
  refused(): void {
    if (!this.held || this.stopped) return;
    this.held = false;
    void this.redis
      .get(this.key)
      .catch(() => undefined)
      .then((holder) => {
        // Taken again meanwhile (it had expired): the new leadership stands.
        if (this.held || this.stopped) return;
        this.events.onLost(holder === null ? 'expired' : 'taken');
      });
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops renewing and releases the lease so a standby can take over immediately. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.held) {
      this.held = false;
      await this.redis.eval(releaseScript, 1, this.key, this.token).catch(() => undefined);
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.rounds += 1;
    try {
      if (this.held) {
        const renewed = await this.redis.eval(renewScript, 1, this.key, this.token, String(this.ttlMs));
        if (renewed !== 1) {
          this.held = false;
          const holder = await this.redis.get(this.key).catch(() => undefined);
          this.events.onLost(holder === null ? 'expired' : 'taken');
        }
      } else {
        const ok = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
        if (ok === 'OK') {
          this.held = true;
          this.events.onAcquired();
        }
      }
    } catch {
      // Redis unreachable: we cannot prove we still hold it, and nobody else can take it before the TTL ends.
      // Keep reading until the TTL would have expired, then give up.
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.tick(), Math.max(50, Math.floor(this.ttlMs / 3)));
      this.timer.unref();
    }
  }
}
