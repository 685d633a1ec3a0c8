import type { RedisClient } from '@octi-sekoia/queue';
import { ConfigurationError } from '@octi-sekoia/sekoia';

export type CircuitState = 'closed' | 'open';

/** What `<base>:circuit` holds (JSON) and /readyz reports. */
export interface CircuitStatus {
  state: CircuitState;
  /** unauthorized | forbidden | collection-not-found | unexpected-response | configuration; '' when closed. */
  reason: string;
  /** A plain operator message ('' when closed). */
  message: string;
  /** ISO time of the last state change. */
  since: string;
}

export interface CircuitOptions {
  redis: RedisClient;
  /** Redis key the status is published to (`<base>:circuit`). */
  key: string;
  /**
   * One cheap request that succeeds only when the configuration is right, given the circuit's status: GET the
   * collection, or, while open for a refused write ('forbidden'), a write that changes nothing — a read
   * succeeding proves nothing about a missing "Manage" permission.
   */
  probe: (status: CircuitStatus) => Promise<unknown>;
  /** Period of the self-probe while open. */
  probeIntervalMs: number;
  /** Called when the circuit opens: stop taking work. */
  onOpen: (status: CircuitStatus) => void | Promise<void>;
  /** Called when the probe succeeded: take work again. */
  onClose: (status: CircuitStatus) => void | Promise<void>;
  /** Publishing or probing failed for another reason (Redis down, Sekoia unreachable). */
  onError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * The configuration circuit breaker: 401, 403, a gone collection or a URL that is not the IOC API stop the
 * worker (no job taken, nothing dead-lettered) until a self-probe succeeds. Transient failures never open it.
 */
export class Circuit {
  private status: CircuitStatus;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  /** Serialises open/close callbacks, so a quick open → close → open runs them in order. */
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly opts: CircuitOptions) {
    this.status = { state: 'closed', reason: '', message: '', since: this.iso() };
  }

  get isOpen(): boolean {
    return this.status.state === 'open';
  }

  current(): CircuitStatus {
    return { ...this.status };
  }

  /** Opens the circuit for a configuration error (other errors are ignored). Idempotent while open. */
  trip(err: unknown): void {
    if (this.stopped) return;
    const cause = configurationCause(err);
    if (!cause) return;
    if (this.isOpen) {
      // Keep the most recent precise cause (e.g. the key was fixed but the collection is now gone); a generic
      // one (the sync engine reports only a message) never replaces a precise one.
      if (cause.reason === 'configuration') return;
      if (cause.reason !== this.status.reason || cause.message !== this.status.message) {
        this.status = { ...this.status, ...cause };
        this.publish();
      }
      return;
    }
    this.status = { state: 'open', ...cause, since: this.iso() };
    this.publish();
    const status = this.current();
    this.transition(() => this.opts.onOpen(status));
    this.schedule();
  }

  /** Probes once now (start-up check); opens or closes the circuit on the outcome. */
  async probeNow(): Promise<void> {
    if (this.probing || this.stopped) return;
    this.probing = true;
    try {
      await this.opts.probe(this.current());
      if (this.isOpen) this.close();
    } catch (err) {
      if (configurationCause(err)) this.trip(err);
      else this.opts.onError?.(err);
    } finally {
      this.probing = false;
    }
  }

  /** Publishes the current state (at start-up, so a stale "open" from a previous run is overwritten). */
  publish(): void {
    this.opts.redis.set(this.opts.key, JSON.stringify(this.status)).catch((err) => this.opts.onError?.(err));
  }

  /** Waits for pending open/close callbacks. */
  settled(): Promise<void> {
    return this.transitions;
  }

  /** Stops probing (pending callbacks are not waited for: see settled()). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private close(): void {
    this.status = { state: 'closed', reason: '', message: '', since: this.iso() };
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.publish();
    const status = this.current();
    this.transition(() => this.opts.onClose(status));
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(async () => {
      this.timer = undefined;
      await this.probeNow();
      if (this.isOpen) this.schedule();
    }, this.opts.probeIntervalMs);
  }

  private transition(fn: () => void | Promise<void>): void {
    this.transitions = this.transitions.then(fn).catch((err) => this.opts.onError?.(err));
  }

  private iso(): string {
    return new Date((this.opts.now ?? Date.now)()).toISOString();
  }
}

/** The reason and plain message of a configuration error, or undefined for any other error. */
export function configurationCause(err: unknown): { reason: string; message: string } | undefined {
  if (err instanceof ConfigurationError) return { reason: err.reason, message: err.message };
  const e = err as { policy?: unknown; message?: unknown } | null;
  if (e && typeof e === 'object' && e.policy === 'configuration') {
    return { reason: 'configuration', message: String(e.message ?? 'Sekoia.io configuration problem') };
  }
  return undefined;
}
