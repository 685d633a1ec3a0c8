import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Job as JobData } from '@octi-sekoia/model';
import { Job, type Queue } from 'bullmq';
import { addStandardJob } from 'bullmq/dist/esm/scripts/addStandardJob-9.js';

/**
 * BullMQ's `addBulk` runs its `addStandardJob` Lua script once per job, each an ioredis command of its own (9 key
 * names, its encoding, promise and reply): about half of the ingest's CPU per job (bench/README.md, "Ingest
 * throughput"). Here BullMQ still builds every job (its `Job`, options, data and the script's arguments, through
 * `addJobToTransaction` on a recording client — the method BullMQ keeps public for flow producers that batch
 * inserts), and its own script runs once per job, but inside one call per batch of at most JOBS_PER_CALL (add-standard-jobs.lua): the jobs
 * in Redis are those addBulk writes (test/add-jobs.test.ts compares them). Unlike addBulk, each call is fenced by the
 * reader lease: it writes nothing unless the lease holds the caller's token (issue 17).
 * Depends on BullMQ's script text and argument layout: a BullMQ upgrade re-runs that test.
 */
const SOURCE = readFileSync(new URL('./lua/add-standard-jobs.lua', import.meta.url), 'utf8').replace(
  '-- @bullmq addStandardJob',
  () => addStandardJob.content,
);
const SHA = createHash('sha1').update(SOURCE).digest('hex');

/**
 * The reader lease was not the caller's when its call reached Redis: nothing of that call was written. The caller
 * behaves as when it loses the lease (nothing committed past the batch, the reading stops).
 */
export class LeaseRefusedError extends Error {
  constructor() {
    super('addJobs: the reader lease is not ours: jobs not written');
    this.name = 'LeaseRefusedError';
  }
}

/** Most jobs in one Redis call (see addJobs). */
export const JOBS_PER_CALL = 1000;

/** What BullMQ's recording client receives for one job: the nine keys, then three arguments. */
type ScriptArgs = Array<string | Buffer | number | null>;

interface Recorder {
  runCommand(name: string, args: ScriptArgs): number;
}

interface Backend {
  addJobToTransaction(
    client: Recorder,
    job: unknown,
    jobId: string | undefined,
    parentKeyOpts: { parentKey?: string; parentDependenciesKey?: string },
  ): Promise<string>;
}

interface RedisLike {
  evalsha(sha: string, numKeys: number, ...args: Array<string | Buffer | number | null>): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Array<string | Buffer | number | null>): Promise<unknown>;
}

/**
 * Adds the jobs as `queue.addBulk(jobs)` does (same job hashes, lists, events and duplicate-id answers), in one
 * Redis call per JOBS_PER_CALL jobs, each only while `lease.key` holds `lease.token`. Rejects when Redis does, a
 * job is refused (BullMQ's negative codes), or with LeaseRefusedError when the lease is not the caller's: the
 * calls before it landed (their jobs were written while the lease was ours), none after it is sent.
 */
export async function addJobs(
  queue: Queue<JobData>,
  /** The connection the queue was created with (ConnectorQueues.redis). */
  connection: unknown,
  jobs: ReadonlyArray<{ name: string; data: JobData; opts: { jobId: string } }>,
  /** The reader lease (ConnectorKeys.lease) and this reader's token (ReaderLease.token). */
  lease: { key: string; token: string },
): Promise<void> {
  if (jobs.length === 0) return;
  // As addBulk, which waits for the queue's connection before its first command.
  await queue.waitUntilReady();
  const recorded: ScriptArgs[] = [];
  const recorder: Recorder = {
    runCommand(name, args) {
      // Only standard jobs (no delay, priority or parent): any other script would be another layout.
      if (!name.startsWith('addStandardJob:')) throw new Error(`addJobs: unexpected BullMQ script ${name}`);
      recorded.push(args);
      return 0;
    },
  };
  const backend = queue.backend as unknown as Backend;
  const adds: Array<Promise<string>> = [];
  for (const j of jobs) {
    // As Queue.addBulk and Job.createBulk do: the queue's default options under the job's, then the job's JSON.
    const opts = { ...queue.jobsOpts, ...j.opts, jobId: j.opts.jobId };
    const job = new Job<JobData>(queue, j.name, j.data, opts, j.opts.jobId);
    const json = job.asJSON();
    (job as unknown as { validateOptions(json: unknown): void }).validateOptions(json);
    adds.push(backend.addJobToTransaction(recorder, json, job.id, { parentDependenciesKey: '' }));
  }
  await Promise.all(adds);
  const keys = [...recorded[0]!.slice(0, addStandardJob.keys), lease.key];
  const redis = connection as RedisLike;
  const results: unknown[] = [];
  // At most JOBS_PER_CALL jobs per call: the arguments are spread into one call (Node throws RangeError past
  // ~100k of them: INGEST_BATCH_SIZE has no upper bound), and one call blocks Redis while it runs (~50 ms for
  // 500 jobs on 2 loaded cores, ~0.9 s for 20,000).
  for (let from = 0; from < recorded.length; from += JOBS_PER_CALL) {
    const argv: ScriptArgs = [lease.token];
    for (const args of recorded.slice(from, from + JOBS_PER_CALL)) {
      if (args.length !== addStandardJob.keys + 3)
        throw new Error(`addJobs: ${args.length} script arguments`);
      argv.push(args[addStandardJob.keys]!, args[addStandardJob.keys + 1]!, args[addStandardJob.keys + 2]!);
    }
    let answer: unknown;
    try {
      answer = await redis.evalsha(SHA, keys.length, ...keys, ...argv);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      answer = await redis.eval(SOURCE, keys.length, ...keys, ...argv);
    }
    if (!Array.isArray(answer)) throw new LeaseRefusedError();
    results.push(...answer);
  }
  const list = results;
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    if (typeof r === 'number' && r < 0) {
      throw new Error(`addJobs: BullMQ refused job ${jobs[i]?.opts.jobId} (code ${r})`);
    }
  }
}
