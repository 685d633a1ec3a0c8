// A job's desired state is recorded only while the processor holds the job's BullMQ lock (issue 17): a worker cut
// off while its record-desired call was in flight (ioredis resends it when the link heals, however late) has lost
// the job to another worker by stall recovery meanwhile; its call must write nothing, or a delete applied since,
// whose tombstone may be pruned already, is undone. The job is then left to the other worker: neither completed
// nor failed here, counted as `lock-lost`.
import { jobId } from '@octi-sekoia/model';
import { createQueues, keys } from '@octi-sekoia/queue';
import { type JobLock, Reconciler, type SekoiaPort, SyncState } from '@octi-sekoia/sync';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createProcessor } from '../src/process-job.ts';
import { CONNECTOR_ID, upsert } from './harness.ts';

let r: TestRedis;
beforeEach(async () => {
  r = await testRedis('job-lock');
});
afterEach(async () => {
  await r.cleanup();
});

it('a job whose lock went to another worker while its record was in flight writes nothing and is left to it', async () => {
  const queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
  const k = keys(r.prefix, CONNECTOR_ID);
  const state = new SyncState(r.client, { keyPrefix: r.prefix, connectorId: CONNECTOR_ID });
  // recordDesired only (inlineMaxActive 0): the Sekoia port is never used.
  const real = new Reconciler(state, {} as SekoiaPort);
  // The call held back as a command stuck on a cut link, until the lock has changed hands.
  let release: () => void = () => undefined;
  const link = new Promise<void>((resolve) => {
    release = resolve;
  });
  let sent = 0;
  const reconciler = {
    recordDesired: async (job: never, opts: { lock?: JobLock }) => {
      sent++;
      await link;
      return real.recordDesired(job, opts);
    },
  } as unknown as Reconciler;
  const outcomes: string[] = [];
  const warnings: string[] = [];
  const processor = createProcessor({
    reconciler,
    keys: k,
    redis: r.client,
    settings: {
      retryAttempts: 3,
      backoffMs: 100,
      backoffMaxMs: 1_000,
      transientRetryWindowMs: 1_000,
      sweepRecheckMs: 1_000,
      inlineMaxActive: 0,
    },
    redact: (t) => t,
    onOutcome: (kind, outcome) => outcomes.push(`${kind}:${outcome}`),
    log: { debug: () => undefined, info: () => undefined, warn: (_o, msg) => warnings.push(msg) },
  });
  const job = upsert('a', '100-0', ['a.example']);
  const id = jobId(job);
  await queues.indicators.add('upsert', job, { jobId: id });
  const worker = new Worker(k.queues.indicators, processor, {
    connection: r.connect(),
    prefix: k.bullPrefix,
    lockDuration: 60_000,
  });
  worker.on('error', () => undefined);
  try {
    await waitFor(() => sent === 1, { timeoutMs: 20_000, what: 'the record call to be sent' });
    const lockKey = k.jobLock(k.queues.indicators, id);
    expect(await r.client.get(lockKey)).not.toBeNull();
    // Stall recovery gave the job to another worker (its token in the lock).
    await r.client.set(lockKey, 'another-worker', 'PX', 60_000);
    release();
    await waitFor(() => outcomes.length === 1, { timeoutMs: 20_000, what: 'the outcome' });

    expect(outcomes).toEqual(['indicator:lock-lost']);
    expect(warnings.some((m) => m.startsWith('job lock lost'))).toBe(true);
    // Nothing written.
    expect(await r.client.get(k.sync.indicator('a'))).toBeNull();
    expect(await r.client.zcard(k.sync.dirty)).toBe(0);
    // Left to the other worker: still active under its lock, neither completed nor failed.
    const bull = await queues.indicators.getJob(id);
    expect(await bull?.getState()).toBe('active');
    expect(bull?.finishedOn).toBeUndefined();
    expect(bull?.failedReason ?? '').toBe('');
    expect(await r.client.get(lockKey)).toBe('another-worker');
  } finally {
    release();
    await worker.close(true);
    await queues.close();
  }
}, 60_000);
