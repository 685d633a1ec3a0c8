import { type IndicatorJob, type Job, type SweepMarkerJob, validateJob } from '@octi-sekoia/model';
import type { ConnectorKeys, RedisClient } from '@octi-sekoia/queue';
import type { ApplyJobResult, JobLock, Reconciler, RecordDesiredResult } from '@octi-sekoia/sync';
import { type Job as BullJob, DelayedError, type Processor, UnrecoverableError, WaitingError } from 'bullmq';
import { findSweepBlocker, type SweepExemption } from './sweep.ts';

export interface ProcessJobDeps {
  reconciler: Reconciler;
  /** The connector's keys (the sweep looks at what is still in the indicators queue) and its connection. */
  keys: ConnectorKeys;
  redis: RedisClient;
  settings: {
    /** Attempts before a failing job becomes a dead letter (WORKER_RETRY_ATTEMPTS). */
    retryAttempts: number;
    /** Exponential backoff between attempts, with jitter (WORKER_BACKOFF_MS, WORKER_BACKOFF_MAX_MS). */
    backoffMs: number;
    backoffMaxMs: number;
    /** Transient errors never dead-letter a job within this time of its enqueueing. */
    transientRetryWindowMs: number;
    sweepRecheckMs: number;
    /**
     * A job reconciles its own values at once (low latency) while at most this many jobs run in this process;
     * under a burst it only records the desired state and the drainer reconciles in large batches.
     */
    inlineMaxActive: number;
  };
  /**
   * Jobs waiting in the queue (a cached reading): with a backlog, jobs only record their desired state, however
   * few run at once (fetching can be what limits them), so the drainer batches the creates.
   */
  backlog?: () => number;
  /** A backlog above this is a burst. */
  burstBacklog?: number;
  redact: (text: string) => string;
  /**
   * Whether a collection read of generation G runs now (CollectionReads.readRunning): G's sweep waits for it, so
   * the values held during the recovery are reconciled against the read's confirmations, not searched.
   */
  collectionReadRunning?: (generation: number) => Promise<boolean>;
  /** Indicators the sweep must keep: those unresolved dead letters name (see sweepExemptions). */
  sweepExemptions?: () => Promise<SweepExemption[]>;
  /** A sweep ran: how many indicators not seen in its generation were kept because of dead letters. */
  onSweep?: (generation: number, kept: number) => void;
  onOutcome?: (kind: Job['kind'] | 'invalid', outcome: string) => void;
  log: {
    debug(obj: object, msg: string): void;
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
  now?: () => number;
}

/** Redis trouble (connection, failover, loading, full memory): worth retrying for as long as the window. */
export function isTransient(err: unknown): boolean {
  const e = err as { policy?: unknown; message?: unknown; code?: unknown; name?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.policy === 'retryable' || e.policy === 'rate-limited') return true;
  const text = `${String(e.name ?? '')} ${String(e.code ?? '')} ${String(e.message ?? '')}`;
  return /ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|LOADING|BUSY|OOM|READONLY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|NOREPLICAS|socket/i.test(
    text,
  );
}

class Aborted extends Error {}

/** How often a sweep marker held back only by running jobs looks again (in the processor, see applySweep). */
export const SWEEP_POLL_MS = 25;

/**
 * The BullMQ processor. An indicator job records its desired state (fenced, values into the dirty set) and,
 * when traffic is low, reconciles its values at once; under a burst the background drainer reconciles them in
 * large batches (Sekoia failures never fail a job: they leave values dirty, retried with backoff). A sweep marker of
 * generation G sweeps once every job of G enqueued before it is applied, else it waits (delayed). A job that
 * throws (Redis trouble, a bug) is retried with backoff and becomes a dead letter only after the last attempt,
 * and — for transient errors — never inside the retry window. On shutdown (abort) the job is handed back.
 */
export function createProcessor(deps: ProcessJobDeps): JobProcessor {
  const now = deps.now ?? Date.now;
  const s = deps.settings;
  const handBack = new HandBack();

  /**
   * A job refused because a newer generation started: expected for the jobs queued before a re-sync, a freeze
   * when ingest keeps stamping an old generation (issue 13 case 1). Counted per job (worker_jobs_total
   * {outcome="stale-generation"}); logged at warn once per (job generation, current generation) pair.
   */
  const staleLogged = new Set<string>();
  const staleGeneration = (job: IndicatorJob, current: number | undefined) => {
    const pair = `${job.generation}/${current}`;
    if (staleLogged.has(pair)) return;
    if (staleLogged.size >= 1000) staleLogged.clear();
    staleLogged.add(pair);
    deps.log.warn(
      {
        jobGeneration: job.generation,
        currentGeneration: current,
        indicatorId: job.indicatorId,
        eventId: job.eventId,
      },
      'job of an older generation refused (stale-generation): further ones of this generation are only counted',
    );
  };

  let active = 0;
  /**
   * `lock`: the job's BullMQ lock and this processor's token. record-desired.lua writes nothing when the lock is
   * not that token any more (`lock-lost`: this process lost the job while its call was in flight, e.g. cut off
   * from Redis past the lock duration, and stall recovery gave it to another worker). Then the job is another
   * worker's: neither completed nor failed here. Thrown as BullMQ's WaitingError, which makes the worker leave the
   * job alone (no moveToFinished). A plain error would do no harm either: BullMQ's moveToFailed (as
   * moveToCompleted) checks the lock in its script and refuses (-6 lock not ours, -2 lock missing; BullMQ 6.7.0
   * moveToFinished `removeLock`), which the worker only reports as an 'error' event.
   */
  const applyIndicator = async (job: IndicatorJob, lock: JobLock | undefined) => {
    active += 1;
    let r: ApplyJobResult | RecordDesiredResult;
    const opts = lock ? { lock } : {};
    try {
      r =
        active <= s.inlineMaxActive && (deps.backlog?.() ?? 0) <= (deps.burstBacklog ?? 20)
          ? await deps.reconciler.applyJob(job, opts)
          : await deps.reconciler.recordDesired(job, opts);
    } finally {
      active -= 1;
    }
    deps.onOutcome?.('indicator', r.outcome);
    if (r.outcome === 'lock-lost') {
      deps.log.warn(
        { indicatorId: job.indicatorId, eventId: job.eventId },
        'job lock lost while its desired state was being recorded (another worker owns the job now): nothing written, the job left to it',
      );
      throw new WaitingError();
    }
    if (r.outcome === 'stale-generation') staleGeneration(job, r.currentGeneration);
    deps.log.debug(
      {
        indicatorId: job.indicatorId,
        eventId: job.eventId,
        outcome: r.outcome,
        ...('report' in r ? { report: r.report } : {}),
      },
      'job applied',
    );
    return { outcome: r.outcome as string, dirtied: r.dirtied.length };
  };

  /** What holds G's sweep back now: G's collection read, or a job of G enqueued before the marker. */
  const sweepBlocker = async (bull: BullJob<Job>, marker: SweepMarkerJob) => {
    if (await deps.collectionReadRunning?.(marker.generation))
      return { what: `the collection read of generation ${marker.generation}`, running: false };
    const b = await findSweepBlocker(deps.redis, deps.keys, {
      id: bull.id ?? '',
      timestamp: bull.timestamp,
      generation: marker.generation,
    });
    return b && { what: `${b.id} (${b.state})`, running: b.state === 'active' };
  };

  const applySweep = async (bull: BullJob<Job>, marker: SweepMarkerJob, token: string | undefined) => {
    let blocker = await sweepBlocker(bull, marker);
    // The marker comes after the recovery's last job, so when a worker takes it the jobs still holding it are
    // mostly running ones, done within moments: look again every SWEEP_POLL_MS for up to sweepRecheckMs here,
    // rather than after sweepRecheckMs in the delayed set. The values held for the sweep (holdDuringRecovery)
    // and the whole request budget wait for it (issue 18). Anything else (a retry's backoff, a failed job before
    // its move to the dead letters, a collection read) waits in the delayed set as before.
    // Bounded by time, not by a count of polls (each poll's round trips take longer on a loaded machine).
    const pollUntil = now() + s.sweepRecheckMs;
    while (blocker?.running && now() < pollUntil) {
      // Shutdown: the job is handed back by the caller (abortable); nothing more to do here.
      if (handBack.requested) throw new Aborted();
      await new Promise((r) => setTimeout(r, SWEEP_POLL_MS));
      blocker = await sweepBlocker(bull, marker);
    }
    // Handed back while polling: another worker owns the marker now (neither delay it nor sweep here).
    if (handBack.requested) throw new Aborted();
    if (blocker) {
      deps.onOutcome?.('sweep', 'sweep-deferred');
      deps.log.debug(
        { generation: marker.generation, blocker: blocker.what },
        'sweep waits for older jobs of its generation',
      );
      await bull.moveToDelayed(now() + s.sweepRecheckMs, token);
      throw new DelayedError();
    }
    const sweepStart = now();
    const exemptions = (await deps.sweepExemptions?.()) ?? [];
    const r = await deps.reconciler.sweep(marker.generation, {
      exempt: exemptions.map((e) => e.indicator),
    });
    // How long the sweep itself took (its scan of every indicator record): the budget waits for it too.
    const sweepMs = now() - sweepStart;
    deps.onOutcome?.('sweep', r.skipped ? 'skipped' : 'swept');
    const { kept, ...counts } = r;
    deps.log.info(
      { generation: marker.generation, ...counts, kept: kept.length, sweepMs },
      'generation swept: indicators not seen in it removed',
    );
    if (!r.skipped) deps.onSweep?.(marker.generation, kept.length);
    if (kept.length > 0) {
      const named = new Set(kept);
      deps.log.warn(
        {
          generation: marker.generation,
          kept: kept.length,
          indicators: kept.slice(0, 20),
          deadLetters: [...new Set(exemptions.filter((e) => named.has(e.indicator)).map((e) => e.deadLetter))]
            .sort()
            .slice(0, 20),
        },
        'sweep kept indicators not seen in this generation because a dead letter names them (their last event ' +
          'could not be applied): replay or discard those dead letters (pnpm cli dead-letters list)',
      );
    }
    return { outcome: r.skipped ? 'skipped' : 'swept', dirtied: r.dirtied };
  };

  // Two parameters, not BullMQ's third (an AbortSignal): BullMQ then makes no AbortController per job (its
  // `processor.length >= 3` test). Shutdown hands the running jobs back through `handBack()` instead.
  const processor = async (bull: BullJob<Job>, token?: string) => {
    let data: Job;
    try {
      data = validateJob(bull.data);
    } catch (err) {
      deps.onOutcome?.('invalid', 'failed');
      throw new UnrecoverableError(deps.redact((err as Error).message));
    }
    try {
      const lock = bull.id && token ? { key: deps.keys.jobLock(bull.queueName, bull.id), token } : undefined;
      const work = data.kind === 'sweep' ? applySweep(bull, data, token) : applyIndicator(data, lock);
      return await handBack.abortable(work);
    } catch (err) {
      if (err instanceof DelayedError || err instanceof WaitingError) throw err;
      if (err instanceof Aborted) {
        // Shutdown: hand the job back (no attempt used); it runs again elsewhere, harmlessly.
        await bull.moveToWait(token);
        deps.onOutcome?.(data.kind, 'handed-back');
        throw new WaitingError();
      }
      const message = deps.redact(err instanceof Error ? err.message : String(err));
      // The job's log holds one line per failed attempt: its length counts them (sweep deferrals and stall
      // recoveries do not). If Redis refuses even that, BullMQ's start count stands in.
      const tries = await bull
        .log(`attempt failed: ${message}`)
        .catch(() => Math.max(1, bull.attemptsStarted));
      const transient = isTransient(err);
      const inWindow = now() - bull.timestamp < s.transientRetryWindowMs;
      if (tries >= s.retryAttempts && !(transient && inWindow)) {
        deps.onOutcome?.(data.kind, 'failed');
        deps.log.warn({ jobId: bull.id, tries, err: message }, 'job failed for good: dead letter');
        throw new UnrecoverableError(`${message} (after ${tries} attempts)`);
      }
      const delay = Math.round(
        Math.min(s.backoffMaxMs, s.backoffMs * 2 ** Math.min(tries - 1, 30)) * (0.5 + Math.random() / 2),
      );
      deps.onOutcome?.(data.kind, 'retry');
      deps.log.warn({ jobId: bull.id, tries, delayMs: delay, err: message }, 'job failed: retrying');
      await bull.moveToDelayed(now() + delay, token);
      throw new DelayedError();
    }
  };
  return Object.assign(processor, { handBack: () => handBack.request() });
}

/** The processor, and `handBack()`: shutdown's hand-back of the jobs it runs (see HandBack). */
export type JobProcessor = Processor<Job> & { handBack(): void };

/**
 * Shutdown's hand-back of running jobs: once requested, every job running (and any started after) stops waiting
 * for its work (which goes on, ignored) and is handed back to the queue. One registry for the processor instead of
 * BullMQ's AbortController per job (an AbortSignal and its listener per job, worker CPU: bench/README.md).
 */
class HandBack {
  requested = false;
  private readonly running = new Set<() => void>();

  request(): void {
    this.requested = true;
    const cancels = [...this.running];
    this.running.clear();
    for (const cancel of cancels) cancel();
  }

  /** Resolves like `work`, or rejects with Aborted when the hand-back comes first. */
  abortable<T>(work: Promise<T>): Promise<T> {
    if (this.requested) {
      work.catch(() => undefined);
      return Promise.reject(new Aborted());
    }
    return new Promise<T>((resolve, reject) => {
      const cancel = () => {
        work.catch(() => undefined);
        reject(new Aborted());
      };
      this.running.add(cancel);
      work.then(
        (v) => {
          this.running.delete(cancel);
          resolve(v);
        },
        (e) => {
          this.running.delete(cancel);
          reject(e);
        },
      );
    });
  }
}
