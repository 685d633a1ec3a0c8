import {
  type Job,
  jobId,
  type NormalizeConfig,
  type NormalizeResult,
  normalizeMessage,
  type SweepMarkerJob,
} from '@octi-sekoia/model';
import { addDeadLetter, type ConnectorQueues, type DeadLetterOptions } from '@octi-sekoia/queue';
import { addJobs } from './add-jobs.ts';
import type { IngestMetrics } from './metrics.ts';
import type { StreamMessage } from './ports.ts';
import type { IngestSettings } from './settings.ts';

/** One thing to write: a job, or an event kept whole as a dead letter of kind `event`. */
export type Pending = { job: Job } | { deadEvent: StreamMessage & { id: string }; reason: string };

export interface BatchWriterDeps {
  queues: ConnectorQueues;
  /** The reader lease's token (ReaderLease.token): every batch of jobs is fenced by it (add-standard-jobs.lua). */
  leaseToken: string;
  settings: Pick<IngestSettings, 'normalize' | 'deadLettersMaxBytes'>;
  metrics: Pick<IngestMetrics, 'jobs' | 'batchSize' | 'skipped' | 'findings' | 'deadLettersRefused'>;
  redact: (text: string) => string;
  log: {
    debug?(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
}

/**
 * Stream messages → jobs (normalized with the reading's generation) → Redis: one BullMQ `addBulk` per batch, and
 * dead letters of kind `event` for what cannot be normalized. Used by the stream reading and by the operator
 * inbox (dead-lettered events sent back), so both apply the same rules.
 */
export class BatchWriter {
  private normalizeCache: NormalizeConfig | undefined;

  constructor(private readonly deps: BatchWriterDeps) {}

  /** A message with an id → what to write; skipped and malformed messages and findings are counted and logged. */
  normalize(
    msg: StreamMessage & { id: string },
    generation: number,
  ): { result: NormalizeResult; pending: Pending[] } {
    const result = normalizeMessage(msg, this.normalizeConfig(generation));
    const m = this.deps.metrics;
    if (result.outcome === 'skipped') {
      this.noteSkipped(msg, result);
      return { result, pending: [] };
    }
    if (result.outcome === 'malformed') {
      m.skipped.inc({ reason: 'malformed' });
      this.deps.log.warn({ eventId: msg.id, reason: result.reason }, 'malformed event kept as a dead letter');
      return { result, pending: [{ deadEvent: msg, reason: result.reason }] };
    }
    for (const f of result.findings) {
      m.findings.inc({ kind: f.kind });
      this.deps.log.debug?.(
        { eventId: msg.id, indicatorId: f.indicatorId, kind: f.kind, note: f.message },
        'indicator note',
      );
    }
    return { result, pending: result.jobs.map((job) => ({ job })) };
  }

  /** A message without an id (a control frame): only counted when the normalizer skips it. */
  noteControl(msg: StreamMessage, generation: number): void {
    this.noteSkipped(msg, normalizeMessage(msg, this.normalizeConfig(generation)));
  }

  /**
   * Writes the dead letters, then the jobs in one `addBulk` (job ids make a second write of the same event a
   * no-op; `jobIdSuffix` marks the re-sent ones), only while the reader lease is ours. Rejects when Redis does:
   * the caller reads the batch again; with LeaseRefusedError (add-jobs.ts) when the lease is not ours: the caller
   * stops reading as when it loses the lease.
   */
  async write(batch: Pending[], opts: { jobIdSuffix?: string } = {}): Promise<number> {
    const jobs: Job[] = [];
    const dead: Array<Exclude<Pending, { job: Job }>> = [];
    for (const p of batch) {
      if ('job' in p) jobs.push(p.job);
      else dead.push(p);
    }
    for (const d of dead) {
      await addDeadLetter(
        this.deps.queues,
        { kind: 'event', payload: d.deadEvent, error: d.reason },
        this.deadLetterOptions(),
      );
    }
    if (jobs.length > 0) {
      const suffix = opts.jobIdSuffix ?? '';
      // queues.indicators.addBulk(…), in one Redis call per 1,000 jobs (add-jobs.ts).
      await addJobs(
        this.deps.queues.indicators,
        this.deps.queues.redis,
        jobs.map((job) => ({
          name: job.kind === 'indicator' ? job.op : 'sweep',
          data: job,
          opts: { jobId: `${jobId(job)}${suffix}` },
        })),
        { key: this.deps.queues.keys.lease, token: this.deps.leaseToken },
      );
      // Counted once per batch and operation, not per job (one label lookup per job before: issue 18).
      const byOp = new Map<string, number>();
      for (const job of jobs) {
        const op = job.kind === 'indicator' ? job.op : 'sweep';
        byOp.set(op, (byOp.get(op) ?? 0) + 1);
      }
      for (const [op, n] of byOp) this.deps.metrics.jobs.inc({ op }, n);
      this.deps.metrics.batchSize.observe(jobs.length);
    }
    return jobs.length;
  }

  /**
   * The sweep marker of a generation, after every job of its recovery. Not fenced by the lease: a late marker (a
   * replica that lost the lease, its call resent after a reconnect) is harmless. It is sent only once every job
   * of the recovery is in Redis (Generations.maybeEndRecovery: readingFlushed), so it comes after them whenever it
   * lands; its job id is the generation's own, and the worker skips the sweep of a generation already swept or
   * older than the counter (packages/sync sweep.ts): a marker landing after its sweep changes nothing.
   */
  async writeSweepMarker(marker: SweepMarkerJob): Promise<void> {
    await this.deps.queues.indicators.add('sweep', marker, { jobId: jobId(marker) });
    this.deps.metrics.jobs.inc({ op: 'sweep' });
  }

  /** The queue's backlog: jobs not yet taken by a worker. */
  async backlog(): Promise<number> {
    const c = await this.deps.queues.indicators.getJobCounts('waiting', 'prioritized', 'delayed');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  private normalizeConfig(generation: number): NormalizeConfig {
    if (this.normalizeCache?.generation !== generation) {
      this.normalizeCache = { ...this.deps.settings.normalize, generation };
    }
    return this.normalizeCache;
  }

  /** A skipped message: counted by reason and one debug line (unknown event types, non-indicators…). */
  private noteSkipped(msg: StreamMessage, result: NormalizeResult): void {
    if (result.outcome !== 'skipped') return;
    this.deps.metrics.skipped.inc({ reason: result.reason });
    this.deps.log.debug?.(
      { eventId: msg.id ?? null, event: msg.event, reason: result.reason, detail: result.detail ?? null },
      'message skipped',
    );
  }

  /** Dead letters: secrets redacted; at the cap on their total size, counted and logged instead of stored. */
  private deadLetterOptions(): DeadLetterOptions {
    const max = this.deps.settings.deadLettersMaxBytes;
    return {
      redact: this.deps.redact,
      ...(max !== undefined ? { maxTotalBytes: max } : {}),
      onRefused: ({ kind, subject, bytes, error }) => {
        this.deps.metrics.deadLettersRefused.inc({ kind });
        this.deps.log.warn(
          { kind, subject, bytes, error, maxTotalBytes: max },
          'dead letters at their cap (REDIS_DEAD_LETTERS_MAX_BYTES): this one is counted and logged, not stored',
        );
      },
    };
  }
}
