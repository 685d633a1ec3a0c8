import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type IndicatorJob, type IocAttributes, validateJob } from '@octi-sekoia/model';
import {
  type ConnectorKeys,
  keys as connectorKeys,
  LuaScript,
  luaSource,
  QUEUE_DEAD_LETTERS,
  QUEUE_INDICATORS,
  type RedisClient,
  scanKeys,
} from '@octi-sekoia/queue';
import {
  type DesiredValue,
  defaultFingerprint,
  encodeMutations,
  fieldSet,
  type Intent,
  type Mutation,
  parseApplied,
  parseFieldSet,
  parseStixElement,
  parseValidFrom,
  type RecordAppliedResult,
  type RecordMode,
  stixElement,
  type ValueState,
  validFromElement,
} from './value-state.ts';

const lua = (name: string, source: string) => new LuaScript(name, source);
const recordDesiredLua = lua(
  'record-desired',
  luaSource(new URL('./lua/record-desired.lua', import.meta.url)),
);
const readValuesLua = lua('read-values', luaSource(new URL('./lua/read-values.lua', import.meta.url)));
const claimValuesLua = lua(
  'claim-values',
  readFileSync(new URL('./lua/claim-values.lua', import.meta.url), 'utf8'),
);
const renewClaimLua = lua(
  'renew-claim',
  readFileSync(new URL('./lua/renew-claim.lua', import.meta.url), 'utf8'),
);
const beginWriteLua = lua(
  'begin-write',
  readFileSync(new URL('./lua/begin-write.lua', import.meta.url), 'utf8'),
);
const recordAppliedLua = lua(
  'record-applied',
  readFileSync(new URL('./lua/record-applied.lua', import.meta.url), 'utf8'),
);
const pruneTombstonesLua = lua(
  'prune-tombstones',
  luaSource(new URL('./lua/prune-tombstones.lua', import.meta.url)),
);
const pruneLeaseLua = lua(
  'prune-lease',
  readFileSync(new URL('./lua/prune-lease.lua', import.meta.url), 'utf8'),
);
const migrateLegacyLua = lua(
  'migrate-legacy',
  luaSource(new URL('./lua/migrate-legacy.lua', import.meta.url)),
);

/**
 * An indicator's record (`ind:<id>`, a string written by record-desired.lua and sweep-unseen.lua): generation,
 * event id (the fence), live 1 or 0 (a tombstone), values, field set ref ('' for a tombstone), STIX id
 * (`stixElement`), and
 * validFrom (`validFromElement`; absent from a tombstone and from records written before issue 17 item 5).
 */
type IndicatorRecord = [string, string, 0 | 1, string[], string, string, (string | number)?];

/**
 * A place in the tombstone index (score: the millisecond of the tombstone's event id, then the indicator id): a
 * prune step resumes after it (prune-tombstones.lua).
 */
export interface TombstoneCursor {
  score: string;
  id: string;
}

/** Options of `pruneTombstones` (every one has a default; tests narrow them). */
export interface PruneOptions {
  /** Most index entries one step looks at (default 10,000; `indexPerPending` usually stops it first). */
  batch?: number;
  /** Above this many pending jobs and dead letters a step does nothing (`busy`; default 10,000). */
  maxPending?: number;
  /**
   * Redis time one run may take, ms (default 500), as the sum of its steps' round trips measured by the client (an
   * upper bound of their Redis time): the run stops after the step that reaches it (so at most that plus one step)
   * and the next run, on any worker, resumes there. 0: one step per run.
   */
  maxRunMs?: number;
  /** Least index entries a step looks at (default 1,000, ≈ 10–15 ms of Redis time), if so many are left. */
  minIndex?: number;
  /**
   * Index entries a step looks at per pending job and dead letter it passed over (default 0.25: a pending job costs
   * the pass ≈ 3 µs, an index entry ≈ 10–15 µs, so the walk takes about as long as the pass), within
   * [`minIndex`, `batch`].
   */
  indexPerPending?: number;
  /** TTL of the prune lease, ms (default 30 s), renewed by every step: a crashed worker holds it that long at most. */
  leaseTtlMs?: number;
  /** Called after each step of a run, while the run holds the lease (metrics, tests). */
  onStep?: (step: PruneStep) => void | Promise<void>;
}

/** One atomic step of the prune (`pruneTombstonesStep`). */
export interface PruneStep {
  pruned: number;
  state: 'ok' | 'busy' | 'no-generation' | 'lease-lost';
  bound?: string;
  /** Where the following step resumes; absent once the index below the bound is done. */
  next?: TombstoneCursor;
  /**
   * The step's round trip, µs, measured by the client: an upper bound of its Redis time (the script does not time
   * itself: since Redis 7.2 TIME inside a script returns the script's start time).
   */
  redisUs: number;
  /** ok, busy: pending jobs and dead letters the step passed over (busy: counted, not passed over). */
  pending?: number;
  /** ok: index entries looked at. */
  looked?: number;
}

/** One run of `pruneTombstones`. */
export interface PruneRun {
  pruned: number;
  /** `skipped`: another run (another worker) holds the lease; `lease-lost`: this run's lease went to another. */
  state: 'ok' | 'busy' | 'no-generation' | 'skipped' | 'lease-lost';
  bound?: string;
  /** The run stopped at its Redis time budget with index entries left below the bound: the next run resumes. */
  more: boolean;
  steps: number;
  /** Redis time of the run's steps, ms: the sum of their round trips measured by the client (an upper bound). */
  redisMs: number;
}

/** The prune's resume cursor as prune-tombstones.lua records it (JSON `[score, id]`); anything else: from the start. */
function parseCursor(raw: string | undefined): TombstoneCursor | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string')
      return { score: v[0], id: v[1] };
  } catch {
    // From the start.
  }
  return undefined;
}

/** Layout version of the sync state this code reads and writes (packages/sync/README.md "Redis keys"). */
export const STATE_FORMAT = 2;

const DAY_MS = 24 * 3600 * 1000;
export interface SyncStateOptions {
  keyPrefix: string;
  connectorId: string;
  /**
   * How long a deleted indicator keeps its fence at most (the backstop: `pruneTombstones` drops it as soon as no
   * older event can still come). Default 7 days.
   */
  tombstoneTtlMs?: number;
  /**
   * The least age of a tombstone `pruneTombstones` drops (default 10 min): a backstop. Late writes are fenced where
   * they are written (ingest's batches by the reader lease, recordDesired by the job's lock: docs/redis.md "Key
   * families").
   */
  tombstoneMinAgeMs?: number;
  /** Per-value lock TTL; renewed every third of it while a claim is worked on. Default 60 s. */
  lockTtlMs?: number;
  /**
   * How long a write intent is trusted to be in flight. After it, a crashed writer's request is assumed to
   * have ended (landed or not) and the value is searched. Must exceed the Sekoia client's request timeout
   * plus the longest pause of a process between beginWrite and sending. Default 120 s.
   */
  writeHorizonMs?: number;
  /** How long the record of a revoked, undesired value is kept. Default 7 days. */
  revokedRetentionMs?: number;
  /** Attribute fingerprint (default: model's attributesFingerprint, hashed). */
  fingerprint?: (a: IocAttributes) => string;
  now?: () => number;
}

export type RecordDesiredOutcome = 'applied' | 'stale' | 'duplicate' | 'stale-generation' | 'lock-lost';

/**
 * The BullMQ lock of the job being applied (`keys.jobLock(queue, jobId)`) and the processor's token: recordDesired
 * writes nothing (`lock-lost`) unless the lock still holds that token.
 */
export interface JobLock {
  key: string;
  token: string;
}

export interface RecordDesiredResult {
  applied: boolean;
  outcome: RecordDesiredOutcome;
  /** Desired version given to the dirtied values (when applied). */
  version?: number;
  /** Values put into the dirty set (old ∪ new ∪ previous hint), when applied. */
  dirtied: string[];
  /** stale-generation: the current generation (the counter) that refused the job's. */
  currentGeneration?: number;
}

export interface Claim {
  token: string;
  /** Claim sequence number: names this claim's write intents. 0 when nothing was claimed. */
  seq: number;
  /** Claimed values, sorted. */
  values: string[];
  /** Due values skipped because another claim holds them (they stay dirty). */
  busy: number;
}

/**
 * The sync state in Redis (desired per indicator, index per value, applied per value, dirty set, locks,
 * intents). Every step that must be atomic is one Lua script; see README.md for the key layout.
 */
export class SyncState {
  readonly keys: ConnectorKeys;
  readonly lockTtlMs: number;
  readonly writeHorizonMs: number;
  readonly tombstoneTtlMs: number;
  readonly tombstoneMinAgeMs: number;
  readonly revokedRetentionMs: number;
  readonly fingerprint: (a: IocAttributes) => string;
  readonly now: () => number;

  constructor(
    readonly redis: RedisClient,
    opts: SyncStateOptions,
  ) {
    this.keys = connectorKeys(opts.keyPrefix, opts.connectorId);
    this.lockTtlMs = opts.lockTtlMs ?? 60_000;
    this.writeHorizonMs = opts.writeHorizonMs ?? 120_000;
    this.tombstoneTtlMs = opts.tombstoneTtlMs ?? 7 * DAY_MS;
    this.tombstoneMinAgeMs = opts.tombstoneMinAgeMs ?? 10 * 60_000;
    this.revokedRetentionMs = opts.revokedRetentionMs ?? 7 * DAY_MS;
    this.fingerprint = opts.fingerprint ?? defaultFingerprint;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Compare-and-set of the indicator's desired state on (generation, eventId); older and duplicate events
   * change nothing. Applied: the value index follows and every value whose membership or winning attributes
   * may have changed is put into the dirty set, in the same atomic step.
   * With `lock` (a worker applying a BullMQ job), fenced by the job's lock too: when the lock is not the caller's
   * token any more (lapsed, the job given to another worker by stall recovery), nothing is written and the
   * outcome is `lock-lost` (record-desired.lua says why: a late write after a delete whose tombstone is pruned).
   * Without it (tests, `cli adopt`…), not fenced by a lock.
   */
  async recordDesired(job: IndicatorJob, opts: { lock?: JobLock } = {}): Promise<RecordDesiredResult> {
    validateJob(job);
    const values = job.op === 'upsert' ? uniqueValues(job.values) : [];
    const previous = job.previous ? uniqueValues(job.previous) : undefined;
    const s = this.keys.sync;
    const fields = job.op === 'upsert' ? fieldSet(job.attributes) : undefined;
    const reply = (await recordDesiredLua.run(
      this.redis,
      [
        s.indicator(job.indicatorId),
        s.dirty,
        s.liveCount,
        this.keys.generation,
        s.versionSeq,
        s.stats,
        s.fieldSets,
        s.tombstones,
        ...(opts.lock ? [opts.lock.key] : []),
        ...values.map(s.value),
        ...(previous ?? []).map(s.value),
      ],
      [
        job.indicatorId,
        String(job.generation),
        job.eventId,
        job.op,
        JSON.stringify(values),
        fields?.json ?? '',
        fields?.ref ?? '',
        stixElement(job.stixId ?? ''),
        this.tombstoneTtlMs,
        this.now(),
        previous ? JSON.stringify(previous) : '',
        s.valuePrefix,
        job.op === 'upsert' ? validFromElement(job.attributes.validFrom) : '',
        opts.lock?.token ?? '',
      ],
    )) as [number, RecordDesiredOutcome, (number | string)?, string[]?];
    const [applied, outcome, version, dirtied] = reply;
    if (applied === 1) return { applied: true, outcome, version: Number(version), dirtied: dirtied ?? [] };
    return outcome === 'stale-generation'
      ? { applied: false, outcome, dirtied: [], currentGeneration: Number(version) }
      : { applied: false, outcome, dirtied: [] };
  }

  /**
   * Drops the tombstones no event that may still come is older than (prune-tombstones.lua: the bound is the least
   * event id of generation G still pending in the indicators queue, in a dead letter a replay could bring back,
   * or after ingest's checkpoint), step by step, each step from where the previous one stopped (kept entries are
   * stepped over, not looked at again). One run per connector at a time: the run takes the prune lease
   * (`keys.sync.pruneLease`, token-checked, PX `leaseTtlMs` renewed by every step) or skips (`skipped`); it stops
   * once its steps took `maxRunMs` of Redis time (the sum of their round trips), and the next run, on any worker, resumes after the last entry
   * looked at (`keys.sync.pruneCursor`, written by the step itself); a run that reaches the end of the index below
   * the bound deletes it, so the next one starts from the start. Does nothing while more than `maxPending` jobs and
   * dead letters are pending (the pass over them would block Redis): the tombstones then wait for a quieter
   * moment, or their TTL. The lease and the cursor only save work: each step reads its bounds itself, atomically.
   */
  async pruneTombstones(opts: PruneOptions = {}): Promise<PruneRun> {
    const s = this.keys.sync;
    const leaseTtlMs = opts.leaseTtlMs ?? 30_000;
    const maxRunUs = (opts.maxRunMs ?? 500) * 1000;
    const token = randomBytes(12).toString('base64url');
    const [taken, cursor] = (await pruneLeaseLua.run(
      this.redis,
      [s.pruneLease, s.pruneCursor],
      ['take', token, leaseTtlMs],
    )) as [number, string?];
    if (Number(taken) !== 1) return { pruned: 0, state: 'skipped', more: false, steps: 0, redisMs: 0 };
    let pruned = 0;
    let steps = 0;
    let redisUs = 0;
    const run = (state: PruneRun['state'], more: boolean, bound?: string): PruneRun => ({
      pruned,
      state,
      ...(bound !== undefined ? { bound } : {}),
      more,
      steps,
      redisMs: redisUs / 1000,
    });
    try {
      // Where the next step starts: after the last index entry the previous one looked at (kept or not).
      let after = parseCursor(cursor);
      for (;;) {
        const step = await this.pruneTombstonesStep(opts, after, { token, ttlMs: leaseTtlMs });
        steps += 1;
        pruned += step.pruned;
        redisUs += step.redisUs;
        if (step.state !== 'ok') return run(step.state, false);
        await opts.onStep?.(step);
        if (!step.next) return run('ok', false, step.bound);
        if (redisUs >= maxRunUs) return run('ok', true, step.bound);
        after = step.next;
      }
    } finally {
      await pruneLeaseLua.run(this.redis, [s.pruneLease, s.pruneCursor], ['release', token, 0]);
    }
  }

  /**
   * One atomic step of `pruneTombstones`: index entries in index order, after `after` (from the start without it),
   * `indexPerPending` per pending job and dead letter its pass went over, at least `minIndex`, at most `batch`
   * (counts: the script does not time itself). `redisUs`: its round trip, measured here. `next`: where the
   * following step resumes, absent once the index below the bound is done. With `lease` (a run's), nothing is done
   * unless the prune lease still holds its token (`lease-lost`); the lease is renewed and the resume cursor
   * recorded.
   */
  async pruneTombstonesStep(
    opts: Pick<PruneOptions, 'batch' | 'maxPending' | 'minIndex' | 'indexPerPending'> = {},
    after?: TombstoneCursor,
    lease?: { token: string; ttlMs: number },
  ): Promise<PruneStep> {
    const k = this.keys;
    const s = k.sync;
    const started = process.hrtime.bigint();
    const [n, state, bound, more, score, member, pending, looked] = (await pruneTombstonesLua.run(
      this.redis,
      [
        s.tombstones,
        k.generation,
        k.checkpoint,
        k.replayedEvents,
        ...k.pendingJobKeys(QUEUE_INDICATORS),
        ...k.pendingJobKeys(QUEUE_DEAD_LETTERS),
        s.stats,
        s.pruneLease,
        s.pruneCursor,
      ],
      [
        s.indicatorPrefix,
        k.queueKey(QUEUE_INDICATORS, ''),
        k.queueKey(QUEUE_DEAD_LETTERS, ''),
        opts.batch ?? 10_000,
        opts.maxPending ?? 10_000,
        this.tombstoneTtlMs,
        this.tombstoneMinAgeMs,
        after?.score ?? '',
        after?.id ?? '',
        lease?.token ?? '',
        lease?.ttlMs ?? 0,
        opts.minIndex ?? 1000,
        opts.indexPerPending ?? 0.25,
      ],
    )) as [number, PruneStep['state'], string, number, string, string, number, number];
    const redisUs = Number(process.hrtime.bigint() - started) / 1000;
    if (state === 'busy') return { pruned: Number(n), state, redisUs, pending: Number(pending) };
    if (state !== 'ok') return { pruned: Number(n), state, redisUs };
    return {
      pruned: Number(n),
      state,
      bound,
      ...(Number(more) === 1 ? { next: { score: String(score), id: String(member) } } : {}),
      redisUs,
      pending: Number(pending),
      looked: Number(looked),
    };
  }

  /** Tombstones in the index (`pnpm cli status`, tests, the memory bench). */
  tombstoneCount(): Promise<number> {
    return this.redis.zcard(this.keys.sync.tombstones);
  }

  /** Claims up to `max` due dirty values (oldest first). */
  claimDirty(max: number): Promise<Claim> {
    return this.claim('scan', max, []);
  }

  /** Claims those of `values` that are dirty and due (a job's own values, for low latency). */
  claimValues(values: string[]): Promise<Claim> {
    const uniq = uniqueValues(values);
    if (uniq.length === 0) return Promise.resolve({ token: '', seq: 0, values: [], busy: 0 });
    return this.claim('values', uniq.length, uniq);
  }

  private async claim(mode: 'scan' | 'values', max: number, values: string[]): Promise<Claim> {
    const token = randomBytes(12).toString('base64url');
    const [seq, busy, claimed] = (await claimValuesLua.run(
      this.redis,
      [this.keys.sync.dirty, this.keys.sync.claimSeq],
      [
        this.now(),
        Math.max(1, Math.floor(max)),
        this.lockTtlMs,
        token,
        this.keys.sync.lockPrefix,
        mode,
        ...values,
      ],
    )) as [number, number, string[]];
    return { token, seq: Number(seq), values: claimed, busy: Number(busy) };
  }

  /** The current generation and the highest swept (0 = none). */
  async generationAndSwept(): Promise<{ current: number; swept: number }> {
    const [current, swept] = await this.redis.mget(this.keys.generation, this.keys.sync.swept);
    return { current: Number(current ?? 0), swept: Number(swept ?? 0) };
  }

  /**
   * Makes every dirty value due within the next `withinMs` due now (values that waited for a generation's
   * recovery to end; a retry woken early is only decided again). Returns how many.
   */
  async wakeDirty(withinMs: number): Promise<number> {
    const now = this.now();
    const due = await this.redis.zrangebyscore(this.keys.sync.dirty, `(${now}`, now + withinMs);
    for (let i = 0; i < due.length; i += 1000) {
      const chunk = due.slice(i, i + 1000);
      await this.redis.zadd(this.keys.sync.dirty, 'LT', ...chunk.flatMap((v) => [now, v]));
    }
    return due.length;
  }

  /** Renews the claim's locks; returns the values still held. */
  async renew(claim: Claim, values: string[] = claim.values): Promise<Set<string>> {
    if (values.length === 0) return new Set();
    const held = (await renewClaimLua.run(
      this.redis,
      [this.keys.sync.dirty, ...values.map((v) => this.keys.sync.lock(v))],
      [claim.token, this.lockTtlMs, this.now(), ...values],
    )) as string[];
    return new Set(held);
  }

  /** Desired (derived from the index) and applied state of each value, in one snapshot. */
  async readValues(values: string[]): Promise<ValueState[]> {
    if (values.length === 0) return [];
    const s = this.keys.sync;
    const rows = (await readValuesLua.run(
      this.redis,
      [this.keys.generation, s.swept, s.fieldSets, ...values.map((v) => s.value(v))],
      [s.indicatorPrefix, ...values],
    )) as [string, string, string, string, string, number, string[], number, number, string | number][];
    return rows.map(([value, winnerId, g, e, fields, count, flat, recovering, stale, validFrom]) => {
      const { applied, version } = parseApplied(flat);
      const live = winnerId !== '' && fields !== '';
      const desired: DesiredValue = {
        value,
        version,
        live,
        generation: live ? Number(g) : 0,
        liveIndicators: Number(count),
      };
      if (live) {
        const { fp, attributes } = parseFieldSet(fields, parseValidFrom(validFrom));
        desired.attributes = attributes;
        desired.fp = fp ?? this.fingerprint(attributes);
        desired.winner = { indicatorId: winnerId, eventId: e };
        if (recovering > 0) desired.recovering = recovering;
        if (stale === 1) desired.staleHolders = true;
      }
      return { value, desired, applied };
    });
  }

  /**
   * Records the write intent (create-pending, …) on each value whose lock `claim` still holds, whose desired
   * version is still `version` (the one the write was decided on) and that carries no other claim's intent.
   * Call it right before the request, after taking the budget token. Returns the values that may be written.
   */
  async beginWrite(
    items: { value: string; claim: Claim; version: number; fp: string }[],
    op: Intent['op'],
  ): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    const s = this.keys.sync;
    const keys: string[] = [];
    const args: (string | number)[] = [this.now(), this.lockTtlMs, op];
    for (const { value, claim, version, fp } of items) {
      keys.push(s.lock(value), s.value(value));
      args.push(value, claim.token, String(claim.seq), String(version), fp);
    }
    return new Set((await beginWriteLua.run(this.redis, keys, args)) as string[]);
  }

  /**
   * Records the outcome for one value (mutations describe Sekoia as it now is), clears this claim's intent,
   * releases the lock and removes the value from the dirty set only if the lock was still ours, the desired
   * version acted on is still current and nothing is uncertain; otherwise puts it back (now, or after
   * `delayMs` for a retry). Mode 'observe' records a search result mid-claim, only while the lock is held.
   */
  async recordApplied(
    claim: Claim,
    value: string,
    versionActedOn: number,
    mode: RecordMode,
    mutations: Mutation[],
    delayMs = 0,
  ): Promise<RecordAppliedResult> {
    const s = this.keys.sync;
    const [outcome, reason] = (await recordAppliedLua.run(
      this.redis,
      [s.dirty, s.lock(value), s.value(value), s.readTouched],
      [
        claim.token,
        String(claim.seq),
        this.now(),
        value,
        String(versionActedOn),
        mode,
        Math.max(0, Math.round(delayMs)),
        this.writeHorizonMs,
        this.revokedRetentionMs,
        ...encodeMutations(mutations),
      ],
    )) as [RecordAppliedResult['outcome'], string];
    return { outcome, reason };
  }

  /** Hands values back without any outcome (shutdown, abandoned work): due again at once. */
  async release(claim: Claim, values: string[]): Promise<void> {
    await Promise.all(values.map((v) => this.recordApplied(claim, v, -1, 'retry', [])));
  }

  /**
   * Puts values into the dirty set (dead-letter replay, operator request). `clearRejection` lets a value
   * Sekoia rejected be tried again at the same desired version.
   */
  async markDirty(values: string[], opts: { clearRejection?: boolean } = {}): Promise<void> {
    if (values.length === 0) return;
    const m = this.redis.multi();
    const now = this.now();
    for (const v of uniqueValues(values)) {
      if (opts.clearRejection) m.hdel(this.keys.sync.value(v), 'rej');
      m.zadd(this.keys.sync.dirty, 'LT', now, v);
    }
    await m.exec();
  }

  /** Values in the dirty set (due or waiting for a retry or held by a claim). */
  dirtyCount(): Promise<number> {
    return this.redis.zcard(this.keys.sync.dirty);
  }

  /** Dirty values due now. */
  dueCount(): Promise<number> {
    return this.redis.zcount(this.keys.sync.dirty, '-inf', this.now());
  }

  /** Time (ms) of the next dirty value, or undefined when the set is empty. */
  async nextDueAt(): Promise<number | undefined> {
    const r = await this.redis.zrange(this.keys.sync.dirty, '0', '0', 'WITHSCORES');
    return r.length === 2 ? Number(r[1]) : undefined;
  }

  async counters(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.sync.stats);
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /** The stored desired state of an indicator (debugging, CLI, tests). */
  async readIndicator(indicatorId: string) {
    const raw = await this.redis.get(this.keys.sync.indicator(indicatorId));
    if (!raw) return undefined;
    const [g, e, live, values, fs, stixId, validFrom] = JSON.parse(raw) as IndicatorRecord;
    const counted = fs ? await this.redis.hget(this.keys.sync.fieldSets, fs) : null;
    const fields = counted ? counted.slice(counted.indexOf(' ') + 1) : null; // '<count> <JSON>'
    return {
      generation: Number(g),
      eventId: e,
      live: live === 1,
      values,
      attributes: fields ? parseFieldSet(fields, parseValidFrom(validFrom)).attributes : undefined,
      stixId: parseStixElement(stixId),
      ttlMs: await this.redis.pttl(this.keys.sync.indicator(indicatorId)),
    };
  }

  /** Live indicator ids exporting the value (the index fields of its value hash). */
  async indicatorsOf(value: string): Promise<string[]> {
    const fields = await this.redis.hkeys(this.keys.sync.value(value));
    return fields.filter((f) => f.startsWith('i:')).map((f) => f.slice(2));
  }

  /**
   * Brings sync state of an older layout to STATE_FORMAT (the worker calls it at start, before taking work):
   * layout 1 kept an index set per value (`idx:<value>`) and each indicator's attributes inline; layout 2 keeps
   * the index in the value hash and each distinct field set once (packages/sync/README.md "Older deployments").
   * Idempotent and safe to run from several workers at once; a state with no live indicator has nothing to move.
   * Returns how many keys were moved.
   */
  async migrate(chunk = 500): Promise<{ index: number; indicators: number }> {
    const s = this.keys.sync;
    const moved = { index: 0, indicators: 0 };
    if (Number((await this.redis.get(s.format)) ?? 0) >= STATE_FORMAT) return moved;
    // Layout 1 had a set of live indicator ids; it goes last, so a worker starting meanwhile migrates too.
    if ((await this.redis.scard(s.legacyLive)) > 0) {
      await this.scanKeys(`${s.legacyIndexPrefix}*`, chunk, async (names) => {
        const keys = names.flatMap((k) => [k, s.value(k.slice(s.legacyIndexPrefix.length))]);
        moved.index += Number(await migrateLegacyLua.run(this.redis, keys, ['index']));
      });
      await this.scanKeys(`${s.indicatorPrefix}*`, chunk, async (names) => {
        const m = this.redis.multi();
        for (const k of names) m.type(k).hmget(k, 'attrs');
        const replies = (await m.exec()) ?? [];
        const keys = [s.fieldSets];
        const args: string[] = ['indicator'];
        names.forEach((k, i) => {
          if (replies[2 * i]?.[1] !== 'hash') return; // moved already (a record string)
          const [attrs] = (replies[2 * i + 1]?.[1] as (string | null)[] | undefined) ?? [];
          const a = attrs ? (JSON.parse(attrs) as IocAttributes) : undefined;
          const fields = a ? fieldSet(a) : undefined;
          keys.push(k);
          args.push(
            attrs ?? '',
            fields?.ref ?? '',
            fields?.json ?? '',
            a ? validFromElement(a.validFrom) : '',
          );
        });
        if (keys.length > 1) moved.indicators += Number(await migrateLegacyLua.run(this.redis, keys, args));
      });
      await migrateLegacyLua.run(this.redis, [s.legacyLive, s.liveCount], ['live']);
    }
    await this.redis.set(s.format, String(STATE_FORMAT));
    return moved;
  }

  /** Each batch of this connector's keys matching `pattern` (on a Cluster: on the master serving its slot). */
  async scanKeys(pattern: string, chunk: number, each: (keys: string[]) => Promise<void>) {
    for await (const names of scanKeys(this.redis, pattern, { slotOf: this.keys.sync.dirty, count: chunk }))
      await each(names);
  }
}

function uniqueValues(values: readonly string[]): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (typeof v !== 'string' || v === '') throw new Error(`bad value ${JSON.stringify(v)}`);
    out.add(v);
  }
  return [...out];
}
