import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IocAttributes } from '@octi-sekoia/model';
import {
  type ConnectorKeys,
  keys as connectorKeys,
  duplicateClient,
  LuaScript,
  luaSource,
  type RedisClient,
  scanKeys,
} from '@octi-sekoia/queue';
// The field mapping alone: the package index also loads the HTTP client (axios), which the dashboard, a user of
// this package, neither needs nor ships.
import { type ListedIndicator, observedIndicator, withoutValidUntil } from '@octi-sekoia/sekoia/fields';
import { LockLostError, ReadAbortedError } from './errors.ts';
import { recheckTouched, renewTouched, startTouched } from './read-touched.ts';
import { defaultFingerprint } from './value-state.ts';

const recordObservedLua = new LuaScript(
  'record-observed',
  luaSource(new URL('./lua/record-observed.lua', import.meta.url)),
);
const dirtyObservedLua = new LuaScript(
  'dirty-observed',
  readFileSync(new URL('./lua/dirty-observed.lua', import.meta.url), 'utf8'),
);
const readLockLua = new LuaScript(
  'read-lock',
  readFileSync(new URL('./lua/read-lock.lua', import.meta.url), 'utf8'),
);
const supersedeLua = new LuaScript(
  'supersede-generations',
  readFileSync(new URL('./lua/supersede-generations.lua', import.meta.url), 'utf8'),
);
const finishReadLua = new LuaScript(
  'finish-read',
  readFileSync(new URL('./lua/finish-read.lua', import.meta.url), 'utf8'),
);
const dropAppliedLua = new LuaScript(
  'drop-applied',
  readFileSync(new URL('./lua/drop-applied.lua', import.meta.url), 'utf8'),
);

/** Most values one record-observed.lua run records (a page of the cursor feed holds up to 10,000). */
const RECORD_CHUNK = 1000;

/** What a collection read learns about one Sekoia indicator. */
export interface ObservedItem {
  /** Canonical value (the trimmed name when it is not a recognisable value: it is then never desired). */
  value: string;
  id: string;
  revoked: boolean;
  /** Fingerprint of the attributes it carries ('' when Sekoia gave no valid_from). */
  fp: string;
  /** The same without valid_until: Sekoia gives one by default when none was sent. */
  fpNoUntil: string;
  attributes?: IocAttributes;
}

/** One listed indicator as the applied state sees it (value and attributes by @octi-sekoia/sekoia fields.ts). */
export function observeIndicator(
  i: ListedIndicator,
  fingerprint: (a: IocAttributes) => string = defaultFingerprint,
): ObservedItem {
  const { value, revoked, attributes } = observedIndicator(i);
  if (!attributes) return { value, id: i.id, revoked, fp: '', fpNoUntil: '' };
  return {
    value,
    id: i.id,
    revoked,
    fp: fingerprint(attributes),
    fpNoUntil: fingerprint(withoutValidUntil(attributes)),
    attributes,
  };
}

/** Counts of what record-observed.lua did with the values of a page (see that script). */
export interface RecordCounts {
  /** Values with no applied record: their live ids recorded as observed. */
  trusted: number;
  /** Values whose record matched what Sekoia holds: confirmed in the generation (no verify search). */
  confirmed: number;
  /** Ids whose attributes differ from what we last wrote (an edit follows if they are not the desired ones). */
  refreshed: number;
  /** Values whose record disagrees with Sekoia (or a write was in flight): searched before anything is done. */
  unsure: number;
}

export interface ReadInfo extends RecordCounts {
  generation: number;
  /** ISO time the read ended. */
  at: string;
  /** Indicators listed (revoked included). */
  indicators: number;
  /** Live indicators listed. */
  live: number;
  /** Distinct values among them. */
  values: number;
  /** Live ids beyond one per value. */
  duplicates: number;
  /** Who read (worker host, cli). */
  by: string;
}

export interface CollectionSource {
  /** Every indicator of the collection, page by page (SekoiaClient.listAll); returns how many were listed. */
  listAll(onPage: (items: ListedIndicator[]) => void | Promise<void>): Promise<number>;
}

export interface ReadProgress {
  generation: number;
  indicators: number;
  live: number;
  values: number;
  counts: RecordCounts;
}

export interface ReadOptions {
  /** Called with the lock held, before the first page. */
  beforeRead?: () => Promise<void>;
  /** Called after the read (success or not) while the lock is still held. */
  afterRead?: () => Promise<void>;
  onProgress?: (p: ReadProgress) => void;
  /** Who reads, for the read's summary. */
  by?: string;
  signal?: AbortSignal;
  /** How often a reader waiting for another one's lock looks again. Default 500 ms. */
  waitPollMs?: number;
}

export type ReadResult =
  | { kind: 'read'; info: ReadInfo }
  /** Another reader recorded this generation (or a newer one) meanwhile. */
  | { kind: 'already-read'; readGeneration: number };

export interface CollectionReadsOptions {
  keyPrefix: string;
  connectorId: string;
  /** Lock TTL (renewed every third). Default 30 s. */
  lockTtlMs?: number;
  fingerprint?: (a: IocAttributes) => string;
  now?: () => number;
}

/** Redis names of collection reads and the config identity (all named in @octi-sekoia/queue keys.ts). */
export function readKeys(k: ConnectorKeys) {
  const s = k.sync;
  return {
    readGeneration: s.readGeneration,
    readInfo: s.readInfo,
    readLock: s.readLock,
    observedPrefix: s.observedPrefix,
    observed: s.observed,
    observedIdsPrefix: s.observedIdsPrefix,
    observedIds: s.observedIds,
    observedGenerations: s.observedGenerations,
    adoptedAt: s.adoptedAt,
    identity: k.identity,
  };
}

/** What the sync state is built with: changing any of these makes the state wrong (see README). */
export interface ConfigIdentity {
  streamId?: string;
  collectionId?: string;
  extractionMode?: string;
  descriptionTemplate?: string;
  /** ISO time of the last change of this record. */
  updatedAt?: string;
}

export type CollectionCheck =
  /** No collection recorded yet: this one is now. */
  | { kind: 'recorded' }
  | { kind: 'same' }
  /** The sync state was built for another collection. */
  | { kind: 'changed'; recorded: string };

/** The plain message a worker refuses to start with when the collection changed (see README). */
export function collectionChangedMessage(recorded: string, configured: string): string {
  return (
    `SEKOIA_INTEL_IOC_COLLECTION_UUID changed: the sync state in Redis was built for ${recorded}, the configuration ` +
    `names ${configured}. Switching collections forgets what was written to ${recorded} (left as it is) and adopts ` +
    `${configured} (its indicators no live OpenCTI indicator exports are revoked). To switch, stop every worker and ` +
    `run \`pnpm cli adopt\` with this configuration (\`pnpm cli adopt --dry-run\` first shows what will change); ` +
    `to keep ${recorded}, set SEKOIA_INTEL_IOC_COLLECTION_UUID back to it.`
  );
}

/**
 * Reads of the whole Sekoia collection into the applied state: adoption (a first start on a collection someone
 * else filled, or a new collection) and the read at the start of every generation, which confirms in one pass
 * what each value's verify search would (a re-sync of N unchanged values costs N/100 list requests instead of N
 * searches) and finds what the collection holds that the sync state never knew (revoked by the sweep).
 *
 * One reader at a time (a Redis lock); every page is recorded by record-observed.lua, which never makes the
 * applied state describe Sekoia wrongly even while workers write. The values observed in G are dirtied once G is
 * swept (`dirtySwept`), so leftovers are revoked only after every job of G's recovery is applied.
 */
export class CollectionReads {
  readonly keys: ConnectorKeys;
  readonly rk: ReturnType<typeof readKeys>;
  readonly lockTtlMs: number;
  readonly fingerprint: (a: IocAttributes) => string;
  private readonly now: () => number;

  constructor(
    readonly redis: RedisClient,
    opts: CollectionReadsOptions,
  ) {
    this.keys = connectorKeys(opts.keyPrefix, opts.connectorId);
    this.rk = readKeys(this.keys);
    this.lockTtlMs = opts.lockTtlMs ?? 30_000;
    this.fingerprint = opts.fingerprint ?? defaultFingerprint;
    this.now = opts.now ?? Date.now;
  }

  /** Current generation (ingest's), highest generation read, highest swept. */
  async generations(): Promise<{ current: number; read: number; swept: number }> {
    const [current, read, swept] = await this.redis.mget(
      this.keys.generation,
      this.rk.readGeneration,
      this.keys.sync.swept,
    );
    return { current: Number(current ?? 0), read: Number(read ?? 0), swept: Number(swept ?? 0) };
  }

  async readInfo(): Promise<ReadInfo | undefined> {
    const raw = await this.redis.get(this.rk.readInfo);
    return raw ? (JSON.parse(raw) as ReadInfo) : undefined;
  }

  /**
   * Whether this connector has any sync state: desired or applied records, counters, a sweep or a read. A
   * first start has none (the worker then adopts the collection before taking jobs).
   */
  async stateExists(): Promise<boolean> {
    const s = this.keys.sync;
    const n = await this.redis.exists(
      s.versionSeq,
      s.claimSeq,
      s.stats,
      s.liveCount,
      s.legacyLive,
      s.dirty,
      s.swept,
      this.rk.readGeneration,
    );
    return n > 0;
  }

  async identity(): Promise<ConfigIdentity> {
    const raw = await this.redis.get(this.rk.identity);
    return raw ? (JSON.parse(raw) as ConfigIdentity) : {};
  }

  /**
   * Merges `patch` into the config identity (`<base>:identity`) when `when(current)` holds, atomically (WATCH on a
   * connection of its own). Returns the identity as it was.
   */
  async updateIdentity(
    patch: ConfigIdentity,
    when: (current: ConfigIdentity) => boolean = () => true,
  ): Promise<ConfigIdentity> {
    const conn = duplicateClient(this.redis);
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        await conn.watch(this.rk.identity);
        const raw = await conn.get(this.rk.identity);
        const current = raw ? (JSON.parse(raw) as ConfigIdentity) : {};
        if (!when(current)) {
          await conn.unwatch();
          return current;
        }
        const next = { ...current, ...patch, updatedAt: new Date(this.now()).toISOString() };
        if ((await conn.multi().set(this.rk.identity, JSON.stringify(next)).exec()) !== null) return current;
      }
      throw new Error('config identity: too many concurrent updates');
    } finally {
      conn.disconnect();
    }
  }

  /** The worker's start check: the collection the sync state was built for (recorded if none yet). */
  async checkCollection(collectionId: string): Promise<CollectionCheck> {
    const before = await this.updateIdentity({ collectionId }, (cur) => cur.collectionId === undefined);
    if (before.collectionId === undefined) return { kind: 'recorded' };
    if (before.collectionId === collectionId) return { kind: 'same' };
    return { kind: 'changed', recorded: before.collectionId };
  }

  /**
   * Another collection is adopted: forgets everything known of the old one — the value records (applied state
   * and desired versions: a value no job touched since reads version 0, which record-applied expects; versions
   * come from a global counter, so none is ever reused), the observed sets and reads — keeping the desired
   * state (indicators, the index fields of the value hashes, dirty set). The new collection's values then have
   * no record, so its read adopts them as they are. Workers must be stopped. Returns how many value records were
   * dropped.
   */
  async dropAppliedState(chunk = 500): Promise<number> {
    let n = 0;
    const s = this.keys.sync;
    for await (const names of scanKeys(this.redis, `${s.valuePrefix}*`, { slotOf: s.dirty, count: chunk }))
      n += Number(await dropAppliedLua.run(this.redis, names, []));
    const gens = await this.redis.zrange(this.rk.observedGenerations, '0', '-1');
    await this.redis.del(
      this.rk.observedGenerations,
      this.rk.readGeneration,
      this.rk.readInfo,
      ...gens.flatMap((g) => [this.rk.observed(Number(g)), this.rk.observedIds(Number(g))]),
    );
    return n;
  }

  /** Marks the first adoption (kept; shown by the CLI). */
  async markAdopted(): Promise<void> {
    await this.redis.set(this.rk.adoptedAt, new Date(this.now()).toISOString(), 'NX');
  }

  /** Records one page (see record-observed.lua). Revoked items are skipped. */
  async recordPage(generation: number, items: ObservedItem[]): Promise<RecordCounts> {
    const byValue = new Map<string, ObservedItem[]>();
    for (const it of items) {
      if (it.revoked) continue;
      const list = byValue.get(it.value);
      if (list) list.push(it);
      else byValue.set(it.value, [it]);
    }
    const counts: RecordCounts = { trusted: 0, confirmed: 0, refreshed: 0, unsure: 0 };
    // A feed page holds up to 10,000 indicators: recorded RECORD_CHUNK values per script run, so that Redis is
    // never blocked long (a value's ids stay together in one run).
    const entries = [...byValue];
    for (let i = 0; i < entries.length; i += RECORD_CHUNK) {
      const valueKeys: string[] = [];
      const args: (string | number)[] = [String(generation)];
      for (const [value, list] of entries.slice(i, i + RECORD_CHUNK)) {
        valueKeys.push(this.keys.sync.value(value));
        args.push(value, list.length);
        for (const it of list) args.push(it.id, it.fp, it.fpNoUntil);
      }
      const [t, c, r, u] = (await recordObservedLua.run(
        this.redis,
        [
          this.rk.observed(generation),
          this.rk.observedGenerations,
          this.rk.observedIds(generation),
          ...valueKeys,
        ],
        args,
      )) as number[];
      counts.trusted += Number(t);
      counts.confirmed += Number(c);
      counts.refreshed += Number(r);
      counts.unsure += Number(u);
    }
    return counts;
  }

  /**
   * Dirties the values observed by the reads of every generation already swept: the sweep of G runs once every
   * job of G's recovery is applied, so a leftover no live indicator wants is revoked then, never before an
   * indicator of G claimed it. Returns how many values were dirtied.
   */
  async dirtySwept(chunk = 500): Promise<number> {
    const { swept } = await this.generations();
    const gens = (await this.redis.zrangebyscore(this.rk.observedGenerations, '-inf', swept)).map(Number);
    let n = 0;
    for (const g of gens) {
      for (;;) {
        const moved = Number(
          await dirtyObservedLua.run(
            this.redis,
            [this.rk.observed(g), this.keys.sync.dirty, this.rk.observedGenerations, this.rk.observedIds(g)],
            [this.now(), chunk, String(g)],
          ),
        );
        n += moved;
        if (moved === 0) break;
      }
    }
    return n;
  }

  /**
   * Once generation C (the current one) has started, the sweeps of older generations must not run: their jobs
   * still queued are refused, so their seen sets may miss live indicators. Raises `swept` to C - 1 (their
   * markers are then skipped; C's sweep removes what they would have) and moves older observed values to C's
   * set. Returns the generation superseded, if any. (A sweep that already started while its generation was
   * current is right: every job before its marker had been applied.)
   */
  async supersede(): Promise<number | undefined> {
    const { current, swept } = await this.generations();
    if (current < 2 || swept >= current - 1) return undefined;
    await supersedeLua.run(
      this.redis,
      [this.keys.sync.swept, this.rk.observedGenerations, this.keys.sync.observed(current)],
      [String(current), this.rk.observedPrefix, this.rk.observedIdsPrefix],
    );
    return current - 1;
  }

  /** Generations with observed values waiting for their sweep (tests, CLI). */
  async pendingObserved(): Promise<number[]> {
    return (await this.redis.zrange(this.rk.observedGenerations, '0', '-1')).map(Number);
  }

  async tryLock(): Promise<string | undefined> {
    const token = randomBytes(12).toString('base64url');
    const ok = await this.redis.set(this.rk.readLock, token, 'PX', this.lockTtlMs, 'NX');
    return ok === 'OK' ? token : undefined;
  }

  async renewLock(token: string): Promise<boolean> {
    return (
      Number(await readLockLua.run(this.redis, [this.rk.readLock], ['renew', token, this.lockTtlMs])) === 1
    );
  }

  async releaseLock(token: string): Promise<boolean> {
    return Number(await readLockLua.run(this.redis, [this.rk.readLock], ['release', token, 0])) === 1;
  }

  async lockHeld(): Promise<boolean> {
    return (await this.redis.exists(this.rk.readLock)) === 1;
  }

  /** A read is running and G is not read yet (G's sweep waits for it: the sweep makes the held values due). */
  async readRunning(generation: number): Promise<boolean> {
    return (await this.lockHeld()) && (await this.generations()).read < generation;
  }

  /** Records that generation G needs no read (state built before collection reads existed, an empty collection). */
  async markRead(generation: number, info: ReadInfo): Promise<number> {
    return Number(
      await finishReadLua.run(
        this.redis,
        [this.rk.readGeneration, this.rk.readInfo, this.rk.readLock],
        [String(generation), JSON.stringify(info), ''],
      ),
    );
  }

  /**
   * Reads the whole collection for generation G (unless G or a newer one is already read): takes the lock
   * (waiting while another reader holds it), lists every page, records each, then marks G read. Throws when
   * the listing fails (nothing is lost: what was recorded stays valid, and the read is retried by the caller).
   */
  async read(generation: number, source: CollectionSource, opts: ReadOptions = {}): Promise<ReadResult> {
    for (;;) {
      if (opts.signal?.aborted) throw new ReadAbortedError('collection read aborted');
      const before = await this.generations();
      if (before.read >= generation) return { kind: 'already-read', readGeneration: before.read };
      const token = await this.tryLock();
      if (!token) {
        await sleep(opts.waitPollMs ?? 500, opts.signal);
        continue;
      }
      return await this.readLocked(generation, source, token, opts);
    }
  }

  private async readLocked(
    generation: number,
    source: CollectionSource,
    token: string,
    opts: ReadOptions,
  ): Promise<ReadResult> {
    let lost = false;
    const timer = setInterval(
      () => {
        this.renewLock(token)
          .then((ok) => {
            if (!ok) lost = true;
            else return renewTouched(this.redis, this.keys, 2 * this.lockTtlMs);
          })
          .catch(() => undefined);
      },
      Math.max(100, Math.floor(this.lockTtlMs / 3)),
    );
    let paused = false;
    let touched = false;
    try {
      const current = await this.generations();
      if (current.read >= generation) return { kind: 'already-read', readGeneration: current.read };
      await this.supersede();
      // Jobs may write while the pages are read: see read-touched.ts.
      await startTouched(this.redis, this.keys, 2 * this.lockTtlMs);
      touched = true;
      if (opts.beforeRead) {
        paused = true;
        await opts.beforeRead();
      }
      const counts: RecordCounts = { trusted: 0, confirmed: 0, refreshed: 0, unsure: 0 };
      const values = new Set<string>();
      let live = 0;
      let indicators = 0;
      await source.listAll(async (page) => {
        if (opts.signal?.aborted) throw new ReadAbortedError('collection read aborted');
        if (lost) throw new LockLostError('collection read lock lost');
        const items = page.map((i) => observeIndicator(i, this.fingerprint));
        indicators += items.length;
        for (const it of items) {
          if (it.revoked) continue;
          live += 1;
          values.add(it.value);
        }
        const c = await this.recordPage(generation, items);
        counts.trusted += c.trusted;
        counts.confirmed += c.confirmed;
        counts.refreshed += c.refreshed;
        counts.unsure += c.unsure;
        opts.onProgress?.({ generation, indicators, live, values: values.size, counts: { ...counts } });
      });
      const info: ReadInfo = {
        generation,
        at: new Date(this.now()).toISOString(),
        indicators,
        live,
        values: values.size,
        duplicates: live - values.size,
        ...counts,
        by: opts.by ?? 'unknown',
      };
      await recheckTouched(this.redis, this.keys, generation, this.now);
      touched = false;
      await finishReadLua.run(
        this.redis,
        [this.rk.readGeneration, this.rk.readInfo, this.rk.readLock],
        [String(generation), JSON.stringify(info), ''],
      );
      // G may already be swept (the read came late): its observed values are then due now.
      await this.dirtySwept();
      return { kind: 'read', info };
    } finally {
      clearInterval(timer);
      // A newer generation may have started during the read: older sweeps are skipped before the queue resumes
      // (their markers would otherwise run with jobs refused). Resumed before the lock goes: a reader taking it
      // next pauses again, and nothing undoes that.
      try {
        // A failed read too: what it recorded of a touched value may be older than the value's record.
        if (touched) await recheckTouched(this.redis, this.keys, generation, this.now).catch(() => undefined);
        await this.supersede().catch(() => undefined);
        if (paused) await opts.afterRead?.();
      } finally {
        await this.releaseLock(token).catch(() => undefined);
      }
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ReadAbortedError('collection read aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new ReadAbortedError('collection read aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
