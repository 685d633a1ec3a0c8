import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Job as JobData } from '@octi-sekoia/model';
import { Job, type Queue } from 'bullmq';
import { addStandardJob } from 'bullmq/dist/esm/scripts/addStandardJob-9.js';
import { Packr } from 'msgpackr';

/**
 * BullMQ's `addBulk` runs its `addStandardJob` Lua script once per job, each an ioredis command of its own (9 key
 * names, its encoding, promise and reply): about half of the ingest's CPU per job (bench/README.md, "Ingest
 * throughput"). Here BullMQ still builds every job (its `Job`, options, data and the script's arguments, through
 * `addJobToTransaction` on a recording client — the method BullMQ keeps public for flow producers that batch
 * inserts), and its own script runs once per job, but inside one call per batch of at most JOBS_PER_CALL (add-standard-jobs.lua): the jobs
 * in Redis are those addBulk writes (test/add-jobs.test.ts compares them). Unlike addBulk, each call is fenced by the
 * reader lease: it writes nothing unless the lease holds the caller's token (issue 17).
 * Building a BullMQ `Job` per job was then the largest part of ingest's CPU (a `Job` object, its JSON, options
 * validation, an async call, two msgpack encodings): BullMQ builds the first job of each call, and the others
 * reuse its script arguments with their own id, name and data (jobTemplate; checked against BullMQ's on every call).
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
export type ScriptArgs = Array<string | Buffer | number | null>;

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
  const first = await bullmqArgs(queue, jobs[0]!);
  const template = jobTemplate(first, jobs[0]!);
  const recorded: ScriptArgs[] = [first];
  const fromBullmq: Array<Promise<void>> = [];
  for (let i = 1; i < jobs.length; i++) {
    const j = jobs[i]!;
    if (template && Object.keys(j.opts).length === 1) recorded.push(template(j));
    else {
      recorded.push([]);
      fromBullmq.push(
        bullmqArgs(queue, j).then((args) => {
          recorded[i] = args;
        }),
      );
    }
  }
  await Promise.all(fromBullmq);
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

/** The script arguments BullMQ's `addBulk` sends for one job (keys, packed arguments, data, packed options). */
export async function bullmqArgs(
  queue: Queue<JobData>,
  j: { name: string; data: JobData; opts: { jobId: string } },
): Promise<ScriptArgs> {
  let recorded: ScriptArgs | undefined;
  const recorder: Recorder = {
    runCommand(name, args) {
      // Only standard jobs (no delay, priority or parent): any other script would be another layout.
      if (!name.startsWith('addStandardJob:')) throw new Error(`addJobs: unexpected BullMQ script ${name}`);
      recorded = args;
      return 0;
    },
  };
  // As Queue.addBulk and Job.createBulk do: the queue's default options under the job's, then the job's JSON.
  const opts = { ...queue.jobsOpts, ...j.opts, jobId: j.opts.jobId };
  const job = new Job<JobData>(queue, j.name, j.data, opts, j.opts.jobId);
  const json = job.asJSON();
  (job as unknown as { validateOptions(json: unknown): void }).validateOptions(json);
  await (queue.backend as unknown as Backend).addJobToTransaction(recorder, json, job.id, {
    parentDependenciesKey: '',
  });
  if (!recorded) throw new Error('addJobs: BullMQ recorded no script call');
  return recorded;
}

/** BullMQ's own msgpack settings (its redis-queue-backend.js `packer`); jobTemplate checks the bytes are the same. */
const packer = new Packr({ useRecords: false, encodeUndefinedAsNil: true });

/**
 * The script arguments of further jobs of a call, from those BullMQ recorded for `first`: in BullMQ 6.7's
 * `addStandardJob` layout they differ from job to job only by the job id (in the packed arguments and the packed
 * options), the name, the creation time and the data's JSON. The creation time taken for all is the first job's:
 * addBulk's own differ by the time it takes to build the call's jobs (milliseconds), and an earlier time is the
 * safe side for the worker's sweep blocker (apps/worker sweep.ts: a job of the generation enqueued no later than
 * the marker holds the sweep back; a time moved earlier, never later, can only add such jobs) and its transient
 * retry window (a few milliseconds less of it). Only for jobs whose own options are their id alone. Returns undefined — every job is then built by BullMQ, as before — unless the recorded arguments
 * have that layout and re-encoding `first` through the template gives BullMQ's bytes exactly. The options BullMQ
 * validates (`validateOptions`) are the queue's defaults, validated with the first job, and the job id, whose two
 * rules are applied here with BullMQ's messages. BullMQ's telemetry (a Queue option, unused here) would add
 * per-call metadata to addBulk's jobs that this template does not reproduce: give the queue telemetry only with
 * this template revisited.
 */
export function jobTemplate(
  first: ScriptArgs,
  job: { name: string; data: JobData; opts: { jobId: string } },
): ((j: { name: string; data: JobData; opts: { jobId: string } }) => ScriptArgs) | undefined {
  const n = addStandardJob.keys;
  const [packedArgs, data, packedOpts] = [first[n], first[n + 1], first[n + 2]];
  if (first.length !== n + 3 || !Buffer.isBuffer(packedArgs) || !Buffer.isBuffer(packedOpts))
    return undefined;
  if (Object.keys(job.opts).length !== 1 || data !== JSON.stringify(job.data)) return undefined;
  let args: unknown;
  let opts: unknown;
  try {
    args = packer.unpack(packedArgs);
    opts = packer.unpack(packedOpts);
  } catch {
    return undefined;
  }
  if (!Array.isArray(args) || args[1] !== job.opts.jobId || args[2] !== job.name) return undefined;
  if (typeof opts !== 'object' || opts === null || (opts as { jobId?: unknown }).jobId !== job.opts.jobId) {
    return undefined;
  }
  // Options whose check or effect depends on the job (size limit, priority, delay, parent, deduplication…) are
  // BullMQ's to handle: only the ones the connector's queues set are taken.
  for (const key of Object.keys(opts)) {
    if (!['attempts', 'backoff', 'removeOnComplete', 'removeOnFail', 'jobId'].includes(key)) return undefined;
  }
  // The packed arguments are [queue key, job id, name, creation time, null × 6] and the packed options end with
  // the job id (their last key): the bytes around the id and the name are the same for every job of the call.
  const firstId = packer.pack(job.opts.jobId);
  const firstName = packer.pack(job.name);
  const at = 1 + packer.pack(args[0]).length; // a fixarray's one-byte header, then the queue key
  const end = at + firstId.length + firstName.length;
  if (
    packedArgs[0] !== 0x9a ||
    !packedArgs.subarray(at, end).equals(Buffer.concat([firstId, firstName])) ||
    !packedOpts.subarray(packedOpts.length - firstId.length).equals(firstId)
  ) {
    return undefined;
  }
  const argsHead = Buffer.from(packedArgs.subarray(0, at));
  const argsTail = Buffer.from(packedArgs.subarray(end));
  const optsHead = Buffer.from(packedOpts.subarray(0, packedOpts.length - firstId.length));
  const names = new Map<string, Buffer>();
  const keys = first.slice(0, n);
  const build = (j: { name: string; data: JobData; opts: { jobId: string } }): ScriptArgs => {
    const id = j.opts.jobId;
    if (`${Number.parseInt(id, 10)}` === id) throw new Error('Custom Id cannot be integers');
    if (id.includes(':') && id.split(':').length !== 3) throw new Error('Custom Id cannot contain :');
    let name = names.get(j.name);
    if (!name) {
      name = Buffer.from(packer.pack(j.name));
      names.set(j.name, name);
    }
    const packedId = packer.pack(id);
    return keys.concat(
      Buffer.concat([argsHead, packedId, name, argsTail]),
      JSON.stringify(j.data),
      Buffer.concat([optsHead, packedId]),
    );
  };
  // The same job through the template gives BullMQ's bytes, and a job of another id and name decodes as BullMQ
  // would have encoded it.
  const again = build(job);
  if (!packedArgs.equals(again[n] as Buffer) || !packedOpts.equals(again[n + 2] as Buffer)) return undefined;
  const probe = build({
    name: `${job.name}-probe`,
    data: job.data,
    opts: { jobId: `${job.opts.jobId}-probe` },
  });
  const probeArgs = packer.unpack(probe[n] as Buffer) as unknown[];
  const probeOpts = packer.unpack(probe[n + 2] as Buffer) as Record<string, unknown>;
  const wantArgs = args.slice();
  wantArgs[1] = `${job.opts.jobId}-probe`;
  wantArgs[2] = `${job.name}-probe`;
  if (
    JSON.stringify(probeArgs) !== JSON.stringify(wantArgs) ||
    JSON.stringify(probeOpts) !== JSON.stringify({ ...opts, jobId: `${job.opts.jobId}-probe` })
  ) {
    return undefined;
  }
  return build;
}
