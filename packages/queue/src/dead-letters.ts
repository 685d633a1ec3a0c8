import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Job, jobId } from '@octi-sekoia/model';
import { UnrecoverableError, Worker } from 'bullmq';
import type {
  DeadEventPayload,
  DeadLetter,
  DeadLetterKind,
  DeadLetterPayload,
  DeadValuePayload,
} from './dead-letter.ts';
import { LuaScript } from './lua-script.ts';
import type { ConnectorQueues } from './queues.ts';
import type { RedisClient } from './redis-client.ts';

export type { DeadEventPayload, DeadLetter, DeadLetterKind, DeadLetterPayload, DeadValuePayload };

const reserveBytesLua = new LuaScript(
  'reserve-dead-letter-bytes',
  readFileSync(new URL('./lua/reserve-dead-letter-bytes.lua', import.meta.url), 'utf8'),
);
const releaseBytesLua = new LuaScript(
  'release-dead-letter-bytes',
  readFileSync(new URL('./lua/release-dead-letter-bytes.lua', import.meta.url), 'utf8'),
);

/**
 * The part of an event's data a dead letter keeps: an oversize event (a 10 MB report) must not be copied whole
 * into a Redis that may not evict, nor sent whole to a browser. Its size and SHA-256 identify it in OpenCTI.
 */
export const EVENT_EXCERPT_BYTES = 4096;

const updateDeadLetterLua = new LuaScript(
  'update-dead-letter',
  readFileSync(new URL('./lua/update-dead-letter.lua', import.meta.url), 'utf8'),
);

/** An event payload as a dead letter keeps it: whole up to EVENT_EXCERPT_BYTES, else an excerpt + size + hash. */
export function boundedEventPayload(p: DeadEventPayload): DeadEventPayload {
  const whole = Buffer.from(p.data, 'utf8');
  if (p.truncated || whole.length <= EVENT_EXCERPT_BYTES) return p;
  return {
    id: p.id,
    event: p.event,
    // A multi-byte character cut in two decodes as U+FFFD: the excerpt is for reading, the hash identifies.
    data: whole.subarray(0, EVENT_EXCERPT_BYTES).toString('utf8'),
    truncated: { bytes: whole.length, sha256: createHash('sha256').update(whole).digest('hex') },
  };
}

export interface DeadLetterEntry extends DeadLetter {
  id: string;
  /** BullMQ state: `waiting` until the parker fails it, then `failed`. */
  state: string;
}

export interface AddDeadLetterInput<K extends DeadLetterKind = DeadLetterKind> {
  kind: K;
  payload: DeadLetterPayload<K>;
  error: string | Error;
  /** Defaults: job → jobId(payload), value → the value, event → the event id. */
  subject?: string;
  /** How many failed attempts this sighting stands for (default 1). */
  attempts?: number;
}

export interface DeadLetterOptions {
  /** Removes secrets from the error text (the logger's redactor). Applied before anything is stored. */
  redact?: (text: string) => string;
  now?: () => Date;
  /**
   * Cap on the total bytes of the connector's dead letters (0 or absent: none). A dead letter that would go
   * past it is not stored: addDeadLetter returns undefined, counts it (`refused:<kind>` in the meta hash) and
   * calls `onRefused` so the caller logs it. Nothing waits for room: the stream and the workers go on.
   */
  maxTotalBytes?: number;
  onRefused?: (refused: { kind: DeadLetterKind; subject: string; bytes: number; error: string }) => void;
}

/** Deterministic id per (kind, subject): re-adding updates the same entry. No `:` (BullMQ forbids it). */
export function deadLetterId(kind: DeadLetterKind, subject: string): string {
  return `${kind}-${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
}

function defaultSubject(input: AddDeadLetterInput): string {
  if (input.subject !== undefined) return input.subject;
  switch (input.kind) {
    case 'job':
      return jobId(input.payload as Job);
    case 'value':
      return (input.payload as DeadValuePayload).value;
    case 'event':
      return (input.payload as DeadEventPayload).id;
  }
  throw new Error(`unknown dead letter kind ${String(input.kind)}`);
}

function jobKey(q: ConnectorQueues, id: string): string {
  return `${q.keys.bullPrefix}:${q.keys.queues.deadLetters}:${id}`;
}

/**
 * Adds a dead letter, or updates the one already kept for that subject (attempts, lastSeen, latest error and
 * payload). Safe under concurrency: the sighting count is an atomic counter and the stored data is the one of
 * the highest count. An event's data is kept bounded (boundedEventPayload). Returns the dead letter id, or
 * undefined when the cap on the total bytes of dead letters refused it (see DeadLetterOptions.maxTotalBytes).
 */
export async function addDeadLetter(
  q: ConnectorQueues,
  input: AddDeadLetterInput,
  opts?: Omit<DeadLetterOptions, 'maxTotalBytes'>,
): Promise<string>;
export async function addDeadLetter(
  q: ConnectorQueues,
  input: AddDeadLetterInput,
  opts: DeadLetterOptions,
): Promise<string | undefined>;
export async function addDeadLetter(
  q: ConnectorQueues,
  input: AddDeadLetterInput,
  opts: DeadLetterOptions = {},
): Promise<string | undefined> {
  const subject = defaultSubject(input);
  const id = deadLetterId(input.kind, subject);
  const now = (opts.now?.() ?? new Date()).toISOString();
  const raw = input.error instanceof Error ? input.error.message : String(input.error);
  const error = opts.redact ? opts.redact(raw) : raw;
  const meta = q.keys.deadLetterMeta;
  const payload =
    input.kind === 'event' ? boundedEventPayload(input.payload as DeadEventPayload) : input.payload;
  // What the entry weighs (its data without the few bytes of counters and dates).
  const bytes =
    Buffer.byteLength(JSON.stringify(payload)) + Buffer.byteLength(error) + Buffer.byteLength(subject);
  const reserved = await reserveBytesLua.run(
    q.redis,
    [meta],
    [id, bytes, opts.maxTotalBytes ?? 0, input.kind],
  );
  if (reserved !== 1) {
    opts.onRefused?.({ kind: input.kind, subject, bytes, error });
    return undefined;
  }
  const [[, n], , [, first]] = (await q.redis
    .multi()
    .hincrby(meta, `${id}:n`, input.attempts ?? 1)
    .hsetnx(meta, `${id}:first`, now)
    .hget(meta, `${id}:first`)
    .exec()) as [[null, number], [null, number], [null, string]];
  const data: DeadLetter = {
    kind: input.kind,
    subject,
    payload,
    error,
    attempts: n,
    firstSeen: first,
    lastSeen: now,
  };
  const json = JSON.stringify(data);
  if ((await updateDeadLetterLua.run(q.redis, [jobKey(q, id)], [n, json])) === 1) return id;
  // Not there yet: add it (ignored if a concurrent writer just did), then apply ours over it by count.
  await q.deadLetters.add(input.kind, data, { jobId: id });
  await updateDeadLetterLua.run(q.redis, [jobKey(q, id)], [n, json]);
  return id;
}

export async function getDeadLetter(q: ConnectorQueues, id: string): Promise<DeadLetterEntry | undefined> {
  const job = await q.deadLetters.getJob(id);
  if (!job?.id) return undefined;
  return { id: job.id, state: await job.getState(), ...(job.data as DeadLetter) };
}

/** Paged over the states (waiting, failed, …), newest first within a state. `kind` filters after paging. */
export async function listDeadLetters(
  q: ConnectorQueues,
  opts: { offset?: number; limit?: number; kind?: DeadLetterKind } = {},
): Promise<DeadLetterEntry[]> {
  const offset = opts.offset ?? 0;
  const limit = opts.limit ?? 100;
  const jobs = await q.deadLetters.getJobs(
    ['waiting', 'failed', 'delayed', 'prioritized', 'active'],
    offset,
    offset + limit - 1,
    false,
  );
  const out: DeadLetterEntry[] = [];
  for (const job of jobs) {
    if (!job?.id) continue;
    const data = job.data as DeadLetter;
    if (opts.kind && data.kind !== opts.kind) continue;
    out.push({ id: job.id, state: await job.getState(), ...data });
  }
  return out;
}

export interface ReplayHandlers {
  /** Kind `value`: put the value back into the sync dirty set (the sync package's markDirty). */
  markValueDirty(value: string): Promise<void>;
}

export type ReplayOutcome =
  | { kind: 'job'; newJobId: string }
  | { kind: 'value'; value: string }
  | { kind: 'event'; list: string };

/**
 * Sends the payload back, without removing the entry:
 * - job: re-enqueued under a new id (`<jobId>-replay-<ms>`); fencing makes an outdated job harmless;
 * - value: marked dirty, so reconcile looks at it again (a rejected value is retried even at the same version);
 * - event: RPUSHed as JSON onto `<base>:replayed-events`; ingest pops it and runs it through its normalizer.
 */
export async function sendBack(
  q: ConnectorQueues,
  letter: DeadLetter,
  handlers: ReplayHandlers,
  now: () => number = Date.now,
): Promise<ReplayOutcome> {
  switch (letter.kind) {
    case 'job': {
      const job = letter.payload as Job;
      const newJobId = `${jobId(job)}-replay-${now()}`;
      await q.indicators.add(job.kind, job, { jobId: newJobId });
      return { kind: 'job', newJobId };
    }
    case 'value': {
      const { value } = letter.payload as DeadValuePayload;
      await handlers.markValueDirty(value);
      return { kind: 'value', value };
    }
    case 'event': {
      await q.redis.rpush(q.keys.replayedEvents, JSON.stringify(letter.payload));
      return { kind: 'event', list: q.keys.replayedEvents };
    }
  }
  throw new Error(`unknown dead letter kind ${String((letter as DeadLetter).kind)}`);
}

/**
 * Replays a dead letter (see sendBack) and removes it. A crash between the two replays it twice, which is
 * harmless: fencing for jobs, an idempotent dirty mark for values, ingest's job ids for events.
 */
export async function replayDeadLetter(
  q: ConnectorQueues,
  id: string,
  handlers: ReplayHandlers,
): Promise<ReplayOutcome | undefined> {
  const job = await q.deadLetters.getJob(id);
  if (!job) return undefined;
  const outcome = await sendBack(q, job.data as DeadLetter, handlers);
  await removeDeadLetter(q, id);
  return outcome;
}

export async function removeDeadLetter(q: ConnectorQueues, id: string): Promise<boolean> {
  const job = await q.deadLetters.getJob(id);
  await releaseBytesLua.run(q.redis, [q.keys.deadLetterMeta], [id]);
  if (!job) return false;
  await job.remove();
  return true;
}

/** Dead letters an operator discarded, by kind (`<base>:dead-letters-discarded`). */
export interface DiscardCounts {
  total: number;
  event: number;
  job: number;
  value: number;
}

/**
 * Removes a dead letter for good, on an operator's explicit decision (`pnpm cli dead-letters discard`), and
 * counts it by kind. The only way to drop one: the dashboard refuses every route that would. Returns the entry
 * as it was (for the operator's record), or undefined when there is no such entry.
 */
export async function discardDeadLetter(
  q: ConnectorQueues,
  id: string,
): Promise<DeadLetterEntry | undefined> {
  const entry = await getDeadLetter(q, id);
  if (!entry) return undefined;
  if (!(await removeDeadLetter(q, id))) return undefined;
  await q.redis
    .multi()
    .hincrby(q.keys.deadLettersDiscarded, 'total', 1)
    .hincrby(q.keys.deadLettersDiscarded, entry.kind, 1)
    .exec();
  return entry;
}

export async function discardCounts(q: Pick<ConnectorQueues, 'redis' | 'keys'>): Promise<DiscardCounts> {
  const h = await q.redis.hgetall(q.keys.deadLettersDiscarded);
  const n = (field: string) => Number.parseInt(h[field] ?? '0', 10) || 0;
  return { total: n('total'), event: n('event'), job: n('job'), value: n('value') };
}

/**
 * Optional: a worker on the dead-letters queue that parks every new entry in `failed` (so Bull Board lists it
 * with its reason and a Retry button) and replays an entry when it comes back (Retry = replay). Needs its own
 * connection (`maxRetriesPerRequest: null`).
 */
export function startDeadLetterParker(
  q: ConnectorQueues,
  connection: RedisClient,
  handlers: ReplayHandlers,
): Worker<DeadLetter> {
  return new Worker<DeadLetter>(
    q.keys.queues.deadLetters,
    async (job) => {
      if (job.attemptsMade === 0) {
        throw new UnrecoverableError(`${job.data.kind} ${job.data.subject}: ${job.data.error}`);
      }
      await sendBack(q, job.data, handlers);
      if (job.id) await releaseBytesLua.run(q.redis, [q.keys.deadLetterMeta], [job.id]);
    },
    { connection, prefix: q.keys.bullPrefix, concurrency: 1 },
  );
}
