import type { Job } from '@octi-sekoia/model';
import { addDeadLetter, type ConnectorQueues } from '@octi-sekoia/queue';
import type { RejectedValue } from '@octi-sekoia/sync';

export interface DeadLetterDeps {
  queues: ConnectorQueues;
  /** Removes secrets from error text before it reaches Redis. */
  redact: (text: string) => string;
  onDeadLetter?: (kind: 'job' | 'value', subject: string, error: string) => void;
}

/**
 * A value Sekoia rejected (the sync engine records it applied "rejected", not re-sent until its indicator
 * changes): a dead letter of kind `value` with the reason. Throws if Redis refuses: the engine then retries the
 * value instead of recording an invisible rejection.
 */
export async function deadLetterRejectedValue(deps: DeadLetterDeps, r: RejectedValue): Promise<void> {
  await addDeadLetter(
    deps.queues,
    {
      kind: 'value',
      payload: {
        value: r.value,
        reason: deps.redact(r.reason),
        desiredVersion: r.desiredVersion,
        ...(r.id ? { id: r.id } : {}),
      },
      error: `Sekoia.io rejected the ${r.action} of ${JSON.stringify(r.value)}${r.id ? ` (${r.id})` : ''}: ${r.reason}`,
    },
    { redact: deps.redact },
  );
  deps.onDeadLetter?.('value', r.value, r.reason);
}

/** A JSON value with every secret cut out of its strings (the redactor works on text; JSON keeps it valid). */
function redactJson<T>(redact: (text: string) => string, value: T): T {
  const text = JSON.stringify(value);
  if (text === undefined) return value;
  const out = redact(text);
  if (out === text) return value;
  try {
    return JSON.parse(out) as T;
  } catch {
    return out as T; // still readable, still without the secret
  }
}

/**
 * Moves every failed indicator job to the dead letters (kind `job`, redacted reason) and removes it from the
 * queue. Crash-safe and idempotent: the dead letter id is derived from the job, and a crash between the two
 * steps only repeats the first. Returns how many were moved.
 */
export async function moveFailedJobs(deps: DeadLetterDeps, batch = 100): Promise<number> {
  let moved = 0;
  for (;;) {
    const failed = await deps.queues.indicators.getFailed(0, batch - 1);
    const jobs = failed.filter((j) => j?.id);
    if (jobs.length === 0) return moved;
    for (const job of jobs) {
      const error = deps.redact(job.failedReason || 'failed');
      await addDeadLetter(
        deps.queues,
        {
          kind: 'job',
          payload: redactJson(deps.redact, job.data) as Job,
          subject: job.id,
          error,
          attempts: Math.max(1, job.attemptsMade),
        },
        { redact: deps.redact },
      );
      await job.remove();
      moved += 1;
      deps.onDeadLetter?.('job', job.id ?? '', error);
    }
    if (failed.length < batch) return moved;
  }
}
