import { describeRedis } from '@octi-sekoia/ops';
import { connectorsKey, type DiscardCounts, discardCounts, readMaxmemoryPolicy } from '@octi-sekoia/queue';
import { type ApproximationMode, approximationCounts } from '@octi-sekoia/sekoia';
import { CollectionReads } from '@octi-sekoia/sync';
import { parseArgs } from './args.ts';
import { type Connection, readQueues, syncState, withConnection } from './context.ts';
import {
  countByKind,
  countValues,
  type DeadLetterCounts,
  deadLetterIds,
  type ValueCounts,
} from './counts.ts';
import { aligned, duration, eventIdTime, plural, when } from './format.ts';
import { EXIT_ATTENTION, EXIT_OK, type Io } from './io.ts';

/** The sync stats field counting the tombstones prune-tombstones.lua dropped (not a job outcome). */
const TOMBSTONES_PRUNED = 'tombstones-pruned';

/** Stream states in which the reader is doing its job (`paused` = backpressure, resumes by itself). */
const READING = new Set(['open', 'paused']);

export interface StatusReport {
  at: string;
  connector: {
    id: string;
    keyPrefix: string;
    base: string;
    name: string | null;
    streamId: string | null;
    /** In `<keyPrefix>:connectors`. */
    registered: boolean;
    /** Other connector ids registered on this Redis. */
    others: string[];
    /** Whether anything at all exists under the base (a wrong CONNECTOR_ID finds nothing). */
    found: boolean;
  };
  /** `<base>:ingest-status`, null when absent. */
  stream: { state: string; message: string; at: string | null; host: string | null } | null;
  leader: { present: boolean; ttlMs: number | null };
  checkpoint: {
    startFrom: string;
    startFromAt: string | null;
    recoverUntil: string | null;
    generation: number | null;
    sweep: { generation: number; afterId: string } | null;
  } | null;
  generation: { current: number | null; swept: number | null };
  /** The worker's last sweep; `kept`: indicators dead letters kept from it (null when none was published). */
  lastSweep: { generation: number; kept: number; at: string | null } | null;
  resyncRequested: string | null;
  queue: {
    name: string;
    waiting: number;
    active: number;
    delayed: number;
    prioritized: number;
    failed: number;
    completed: number;
    paused: boolean;
    /** Connected BullMQ workers (CLIENT LIST), null when Redis does not tell. */
    workers: number | null;
  };
  dirty: { total: number; due: number };
  deadLetters: DeadLetterCounts;
  /** Dead letters operators discarded (`dead-letters discard`), since the start. */
  deadLettersDiscarded: DiscardCounts;
  replayedEventsPending: number;
  circuit: { state: string; reason: string | null; message: string | null; since: string | null } | null;
  /** Null with --no-scan. */
  values: ValueCounts | null;
  indicatorsLive: number;
  /** The sync state's counters (recordDesired outcomes, sweep removals, tombstones pruned). */
  counters: Record<string, number>;
  /** Tombstones (deleted indicators' fences) kept now: bounded by the work still pending (packages/sync "Memory"). */
  tombstones: number;
  /** `full`: the worker has stopped creates (count ≥ max). */
  collection: { count: number; max: number; full: boolean; at: string | null } | null;
  /** Values written only as close as Sekoia allows, per mode (each counted once; docs/sekoia-behaviours.md). */
  approximated: Record<ApproximationMode, number>;
  redis: { url: string; maxmemoryPolicy: string | null };
  /** Keys present but not readable as expected. */
  unreadable: string[];
  /** The last collection read (adoption, or the read at the start of a generation), and whether one runs now. */
  collectionRead: {
    generation: number;
    at: string | null;
    indicators: number | null;
    values: number | null;
    by: string | null;
    inProgress: boolean;
  } | null;
  verdict: { ok: boolean; attention: string[]; notes: string[] };
}

type Json = Record<string, unknown>;

function str(x: unknown): string | null {
  return typeof x === 'string' ? x : null;
}

function num(x: unknown): number | null {
  if (typeof x === 'number' && Number.isFinite(x)) return x;
  if (typeof x === 'string' && x.trim() !== '' && Number.isFinite(Number(x))) return Number(x);
  return null;
}

export async function gatherStatus(
  c: Connection,
  opts: { scanValues: boolean; now?: number },
): Promise<StatusReport> {
  const now = opts.now ?? Date.now();
  const k = c.keys;
  const unreadable: string[] = [];
  const json = (key: string, raw: string | null): Json | null => {
    if (raw === null) return null;
    try {
      const v = JSON.parse(raw) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Json;
    } catch {
      // reported below
    }
    unreadable.push(key);
    return null;
  };

  const [
    rawStatus,
    leaseTtl,
    rawCheckpoint,
    rawGeneration,
    rawSwept,
    resync,
    rawCircuit,
    rawUsage,
    info,
    replayed,
    liveIndicators,
    existing,
  ] = (await c.redis
    .multi()
    .get(k.ingestStatus)
    .pttl(k.lease)
    .get(k.checkpoint)
    .get(k.generation)
    .get(k.sync.swept)
    .get(k.resyncRequested)
    .get(k.circuit)
    .get(k.collectionUsage)
    .hgetall(k.info)
    .llen(k.replayedEvents)
    .get(k.sync.liveCount)
    .exists(
      k.checkpoint,
      k.generation,
      k.lease,
      k.ingestStatus,
      k.circuit,
      k.sync.dirty,
      k.sync.liveCount,
      k.queueKey(k.queues.indicators, 'meta'),
      k.queueKey(k.queues.indicators, 'id'),
      k.queueKey(k.queues.deadLetters, 'id'),
    )
    .exec()
    .then((replies) =>
      (replies ?? []).map(([err, v]) => {
        if (err) throw err;
        return v;
      }),
    )) as [
    string | null,
    number,
    string | null,
    string | null,
    string | null,
    string | null,
    string | null,
    string | null,
    Record<string, string>,
    number,
    string | null,
    number,
  ];

  const q = readQueues(c);
  const state = syncState(c);
  try {
    const [
      counts,
      paused,
      workers,
      ids,
      dirty,
      due,
      counters,
      policy,
      values,
      discarded,
      rawLastSweep,
      tombstones,
    ] = await Promise.all([
      q.indicators.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'),
      q.indicators.isPaused(),
      q.indicators.getWorkersCount().catch(() => null),
      deadLetterIds(q),
      state.dirtyCount(),
      state.dueCount(),
      state.counters(),
      readMaxmemoryPolicy(c.redis).catch(() => undefined),
      opts.scanValues ? countValues(c) : Promise.resolve(null),
      discardCounts(q),
      c.redis.get(k.lastSweep),
      state.tombstoneCount(),
    ]);
    // Alone, not in the MULTI above: the connectors set is outside the connector's slot (Redis Cluster).
    const connectors = await c.redis.smembers(connectorsKey(c.config.redis.keyPrefix));
    const approximated = await approximationCounts(c.redis, k.approximated);

    const reads = new CollectionReads(c.redis, {
      keyPrefix: c.config.redis.keyPrefix,
      connectorId: c.config.connector.id,
    });
    const [readInfo, readGen, reading] = await Promise.all([
      reads.readInfo().catch(() => undefined),
      reads.generations().then((g) => g.read),
      reads.lockHeld(),
    ]);
    const st = json(k.ingestStatus, rawStatus);
    const cp = json(k.checkpoint, rawCheckpoint);
    const circuit = json(k.circuit, rawCircuit);
    const usage = json(k.collectionUsage, rawUsage);
    const sweep = cp?.sweep as Json | null | undefined;
    const lastSweep = json(k.lastSweep, rawLastSweep);
    const report: StatusReport = {
      at: new Date(now).toISOString(),
      connector: {
        id: c.config.connector.id,
        keyPrefix: c.config.redis.keyPrefix,
        base: k.base,
        name: info.name || null,
        streamId: info.streamId || null,
        registered: connectors.includes(c.config.connector.id),
        others: connectors.filter((id) => id !== c.config.connector.id).sort(),
        found: existing > 0,
      },
      stream:
        st && typeof st.state === 'string'
          ? { state: st.state, message: str(st.message) ?? '', at: str(st.at), host: str(st.host) }
          : null,
      leader: { present: leaseTtl !== -2, ttlMs: leaseTtl >= 0 ? leaseTtl : null },
      checkpoint:
        cp && typeof cp.start_from === 'string'
          ? {
              startFrom: cp.start_from,
              startFromAt: eventIdTime(cp.start_from) ?? null,
              recoverUntil: str(cp.recover_until),
              generation: num(cp.generation),
              sweep:
                sweep && typeof sweep === 'object' && num(sweep.generation) !== null
                  ? { generation: num(sweep.generation) as number, afterId: str(sweep.afterId) ?? '' }
                  : null,
            }
          : null,
      generation: { current: num(rawGeneration), swept: num(rawSwept) },
      lastSweep:
        lastSweep && num(lastSweep.generation) !== null && num(lastSweep.kept) !== null
          ? {
              generation: num(lastSweep.generation) as number,
              kept: num(lastSweep.kept) as number,
              at: str(lastSweep.at),
            }
          : null,
      collectionRead:
        readGen > 0 || reading
          ? {
              generation: readGen,
              at: readInfo?.at ?? null,
              indicators: readInfo?.indicators ?? null,
              values: readInfo?.values ?? null,
              by: readInfo?.by ?? null,
              inProgress: reading,
            }
          : null,
      resyncRequested: resync,
      queue: {
        name: k.queues.indicators,
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        prioritized: counts.prioritized ?? 0,
        failed: counts.failed ?? 0,
        completed: counts.completed ?? 0,
        paused,
        workers,
      },
      dirty: { total: dirty, due },
      deadLetters: countByKind(ids),
      deadLettersDiscarded: discarded,
      replayedEventsPending: replayed,
      circuit:
        circuit && typeof circuit.state === 'string'
          ? {
              state: circuit.state,
              reason: str(circuit.reason),
              message: str(circuit.message),
              since: str(circuit.since),
            }
          : null,
      values,
      indicatorsLive: Number(liveIndicators ?? 0),
      counters,
      tombstones,
      collection:
        usage && num(usage.count) !== null && num(usage.max) !== null
          ? {
              count: num(usage.count) as number,
              max: num(usage.max) as number,
              full:
                usage.full === true ||
                ((num(usage.max) as number) > 0 &&
                  (num(usage.count) as number) >= (num(usage.max) as number)),
              at: str(usage.at),
            }
          : null,
      approximated,
      redis: { url: describeRedis(c.config.redis), maxmemoryPolicy: policy ?? null },
      unreadable,
      verdict: { ok: true, attention: [], notes: [] },
    };
    report.verdict = verdictOf(report);
    return report;
  } finally {
    await q.close();
  }
}

/** Exit 1 when anything in `attention`; notes never change the exit code. */
export function verdictOf(r: StatusReport): StatusReport['verdict'] {
  const attention: string[] = [];
  const notes: string[] = [];
  const approximated = Object.values(r.approximated ?? {}).reduce((a, n) => a + n, 0);
  if (approximated > 0) {
    notes.push(
      `${plural(approximated, 'value')} held by Sekoia.io only as close as its API allows (each reported once in the worker log; docs/sekoia-behaviours.md)`,
    );
  }
  if (!r.connector.found) {
    const others = r.connector.others.length > 0 ? r.connector.others.join(', ') : 'none';
    notes.push(
      `nothing found for connector ${r.connector.id} under prefix ${r.connector.keyPrefix}: check CONNECTOR_ID and REDIS_KEY_PREFIX (connectors registered on this Redis: ${others})`,
    );
  }
  if (!r.leader.present) {
    attention.push('no ingest replica holds the reader lease: the stream is not being read');
  } else if (r.stream === null) {
    notes.push('the ingest reader has published no stream status: stream state unknown');
  } else if (r.stream.state === 'standby') {
    // Every ingest replica publishes `standby` when it starts: with a lease held, that is not the reader.
    notes.push(
      `the last stream status comes from a standby replica${r.stream.host ? ` (${r.stream.host})` : ''}: the reader's state is unknown`,
    );
  } else if (!READING.has(r.stream.state)) {
    attention.push(`stream ${r.stream.state}${r.stream.message ? `: ${r.stream.message}` : ''}`);
  }
  if (r.circuit?.state === 'open') {
    const why = [r.circuit.reason, r.circuit.message].filter(Boolean).join(': ');
    attention.push(`circuit open${why ? ` (${why})` : ''}: the worker is not writing to Sekoia.io`);
  } else if (r.circuit === null) {
    notes.push('no worker has published its circuit state: circuit unknown');
  }
  if (r.deadLetters.total > 0) {
    attention.push(`${plural(r.deadLetters.total, 'dead letter')} (see: dead-letters list)`);
  }
  if (r.lastSweep && r.lastSweep.kept > 0) {
    attention.push(
      `the sweep of generation ${r.lastSweep.generation} kept ${plural(r.lastSweep.kept, 'indicator')} not seen in it because dead letters name them (their last event could not be applied): replay or discard those dead letters (see: dead-letters list)`,
    );
  }
  if (r.queue.failed > 0) {
    attention.push(`${plural(r.queue.failed, 'failed job')} in the ${r.queue.name} queue`);
  }
  if (r.redis.maxmemoryPolicy === null) {
    notes.push('cannot read Redis maxmemory-policy: it must be noeviction');
  } else if (r.redis.maxmemoryPolicy !== 'noeviction') {
    attention.push(`Redis maxmemory-policy is ${r.redis.maxmemoryPolicy}: it must be noeviction`);
  }
  if (r.collection?.full) {
    attention.push(
      `the IOC collection is full (${r.collection.count} / ${r.collection.max}): new values wait, revokes and edits go on`,
    );
  } else if (r.collection && r.collection.max > 0 && r.collection.count / r.collection.max >= 0.9) {
    notes.push(`the IOC collection is ${Math.floor((100 * r.collection.count) / r.collection.max)}% full`);
  }
  if (r.queue.paused && r.collectionRead?.inProgress) {
    notes.push(
      `the ${r.queue.name} queue is paused while a worker reads the collection (it resumes by itself)`,
    );
  } else if (r.queue.paused) notes.push(`the ${r.queue.name} queue is paused`);
  if (r.resyncRequested) notes.push(`a re-sync was requested at ${r.resyncRequested}: waiting for ingest`);
  if (r.replayedEventsPending > 0) {
    notes.push(`${plural(r.replayedEventsPending, 'replayed event')} waiting for ingest to read again`);
  }
  for (const key of r.unreadable) notes.push(`${key} is not the JSON expected: ignored`);
  return { ok: attention.length === 0, attention, notes };
}

export function renderStatus(r: StatusReport): string {
  const now = Date.parse(r.at);
  const rows: Array<[string, string]> = [];
  const c = r.connector;
  const named = [c.name ? `name "${c.name}"` : '', c.streamId ? `stream ${c.streamId}` : '']
    .filter(Boolean)
    .join(', ');
  rows.push(['connector', `${c.id} (prefix ${c.keyPrefix}${named ? `, ${named}` : ''})`]);

  if (r.stream) {
    const details = [
      r.stream.host ? `host ${r.stream.host}` : '',
      r.stream.at ? `since ${when(r.stream.at, now)}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    rows.push([
      'stream',
      `${r.stream.state}${r.stream.message ? `: ${r.stream.message}` : ''}${details ? `; ${details}` : ''}`,
    ]);
  } else {
    rows.push(['stream', 'unknown (no status published by ingest)']);
  }
  rows.push([
    'leader',
    r.leader.present
      ? `yes (reader lease held${r.leader.ttlMs !== null ? `, expires in ${duration(r.leader.ttlMs)} unless renewed` : ''})`
      : 'none (no ingest replica holds the reader lease)',
  ]);
  if (r.checkpoint) {
    const cp = r.checkpoint;
    rows.push([
      'checkpoint',
      `${cp.startFrom}${cp.startFromAt ? `; event time ${when(cp.startFromAt, now)}` : ''}`,
    ]);
    if (cp.recoverUntil) rows.push(['recovering until', cp.recoverUntil]);
    if (cp.sweep) {
      rows.push([
        'sweep',
        `generation ${cp.sweep.generation} after event ${cp.sweep.afterId} (recovery in progress)`,
      ]);
    }
  } else {
    rows.push(['checkpoint', 'none (the stream has never been read)']);
  }
  const g = r.generation;
  rows.push([
    'generation',
    `${g.current ?? 'unknown'}${g.swept !== null ? ` (last swept: ${g.swept})` : ' (never swept)'}`,
  ]);
  if (r.resyncRequested) rows.push(['resync', `requested at ${r.resyncRequested} (waiting for ingest)`]);
  const cr = r.collectionRead;
  if (cr) {
    const last =
      cr.generation > 0
        ? `generation ${cr.generation}${cr.indicators !== null ? `: ${cr.indicators} indicators, ${cr.values} values` : ''}${
            cr.at ? `; ${when(cr.at, now)}` : ''
          }${cr.by ? ` by ${cr.by}` : ''}`
        : 'never';
    rows.push(['collection read', `${last}${cr.inProgress ? ' (a read is in progress)' : ''}`]);
  }
  const qu = r.queue;
  rows.push([
    `queue ${qu.name}`,
    `waiting ${qu.waiting}, active ${qu.active}, delayed ${qu.delayed}, prioritized ${qu.prioritized}, failed ${qu.failed}, completed ${qu.completed}${qu.paused ? ', PAUSED' : ''}`,
  ]);
  rows.push(['workers', qu.workers === null ? 'unknown (CLIENT LIST refused)' : String(qu.workers)]);
  rows.push(['dirty values', `${r.dirty.total} (${r.dirty.due} due now)`]);
  const dl = r.deadLetters;
  rows.push(['dead letters', `${dl.total} (event ${dl.event}, job ${dl.job}, value ${dl.value})`]);
  const dd = r.deadLettersDiscarded;
  rows.push([
    'discarded',
    `${dd.total} dead letters discarded by operators (event ${dd.event}, job ${dd.job}, value ${dd.value})`,
  ]);
  if (r.replayedEventsPending > 0)
    rows.push(['replayed events', `${r.replayedEventsPending} waiting for ingest`]);
  if (r.circuit) {
    const ci = r.circuit;
    const why = [ci.reason, ci.message].filter(Boolean).join(': ');
    rows.push([
      'circuit',
      `${ci.state}${why ? `: ${why}` : ''}${ci.since ? `; since ${when(ci.since, now)}` : ''}`,
    ]);
  } else {
    rows.push(['circuit', 'unknown (no state published by a worker)']);
  }
  rows.push([
    'values',
    r.values
      ? `live ${r.values.live}, revoked ${r.values.revoked}, rejected ${r.values.rejected}, pending ${r.values.pending}`
      : 'not counted (--no-scan)',
  ]);
  rows.push(['indicators', `${r.indicatorsLive} live`]);
  const counters = Object.entries(r.counters)
    .filter(([name]) => name !== TOMBSTONES_PRUNED)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  rows.push(['jobs recorded', counters || 'none yet']);
  rows.push(['tombstones', `${r.tombstones} kept, ${r.counters[TOMBSTONES_PRUNED] ?? 0} pruned so far`]);
  if (r.collection) {
    const co = r.collection;
    const pct = co.max > 0 ? ` (${((100 * co.count) / co.max).toFixed(1)}%)` : '';
    rows.push([
      'collection',
      `${co.count} / ${co.max} IOCs${pct}${co.at ? `; counted ${when(co.at, now)}` : ''}`,
    ]);
  } else {
    rows.push(['collection', 'unknown (no usage published by a worker)']);
  }
  const approx = Object.entries(r.approximated).filter(([, n]) => n > 0);
  rows.push([
    'as close as allowed',
    approx.length === 0
      ? 'none (every value written exactly)'
      : `${approx.map(([mode, n]) => `${mode} ${n}`).join(', ')} values (docs/sekoia-behaviours.md)`,
  ]);
  rows.push(['redis', `${r.redis.url}, maxmemory-policy ${r.redis.maxmemoryPolicy ?? 'unknown'}`]);

  const lines = [aligned(rows), ''];
  for (const n of r.verdict.notes) lines.push(`note: ${n}`);
  lines.push(
    r.verdict.ok
      ? 'verdict: OK, nothing needs attention'
      : `verdict: ATTENTION: ${r.verdict.attention.join('; ')}`,
  );
  return lines.join('\n');
}

export async function statusCommand(io: Io, args: readonly string[]): Promise<number> {
  const { flags } = parseArgs('status', args, { flags: ['--json', '--no-scan'] });
  const report = await withConnection(io, (c) => gatherStatus(c, { scanValues: !flags.has('--no-scan') }));
  if (flags.has('--json')) io.json(report);
  else io.out(renderStatus(report));
  return report.verdict.ok ? EXIT_OK : EXIT_ATTENTION;
}
