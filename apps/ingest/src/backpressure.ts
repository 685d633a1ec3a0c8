import type { IngestMetrics } from './metrics.ts';
import type { IngestSettings } from './settings.ts';

export interface BackpressureDeps {
  settings: Pick<IngestSettings, 'highWatermark' | 'lowWatermark'>;
  metrics: Pick<IngestMetrics, 'backlog' | 'paused'>;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
  /** Jobs waiting for a worker (see BatchWriter.backlog). */
  backlog(): Promise<number>;
  /** The stream is being read (not paused, not abandoned). */
  isReading(): boolean;
  /** Stop reading: what was read after the batch that crossed the mark is dropped, read again on resume. */
  pause(message: string): void;
  /** Read again from the checkpoint. */
  resume(): void;
}

/**
 * Reading stops while the queue's backlog is above the high-water mark and resumes once it is back at the
 * low-water mark, so a slow or stopped worker fleet bounds Redis memory (backlog ≤ high-water mark + one batch).
 */
export class Backpressure {
  private paused = false;

  constructor(private readonly deps: BackpressureDeps) {}

  get isPaused(): boolean {
    return this.paused;
  }

  /** Runs inside the flush chain, right after a batch landed. */
  async afterBatch(): Promise<void> {
    if (this.paused || !this.deps.isReading()) return;
    const waiting = await this.deps.backlog();
    this.deps.metrics.backlog.set(waiting);
    const high = this.deps.settings.highWatermark;
    if (waiting < high || this.paused || !this.deps.isReading()) return;
    this.paused = true;
    this.deps.metrics.paused.set(1);
    this.deps.pause(`backlog ${waiting} above the high-water mark ${high}`);
    this.deps.log.warn(
      { backlog: waiting, highWatermark: high },
      'backlog above the high-water mark: stream paused until workers catch up',
    );
  }

  /** Periodic: the backlog gauge, and the resume once the workers caught up. */
  async poll(): Promise<void> {
    // Every poll, not only while paused: the gauge must come back down as workers finish the work.
    const waiting = await this.deps.backlog();
    this.deps.metrics.backlog.set(waiting);
    if (this.paused && waiting <= this.deps.settings.lowWatermark) {
      this.paused = false;
      this.deps.metrics.paused.set(0);
      this.deps.log.info({ backlog: waiting }, 'backlog below the low-water mark: resuming the stream');
      this.deps.resume();
    }
  }

  /** Leadership lost: the next reader starts unpaused. */
  reset(): void {
    this.paused = false;
    this.deps.metrics.paused.set(0);
  }
}
