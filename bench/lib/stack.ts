// One product stack for a suite: the OpenCTI and Sekoia.io simulators in this process, the product's ingest
// and workers as child processes (like scripts/demo.ts), a unique key prefix on the machine's Redis, and the
// oracle that says when the Sekoia collection equals what the OpenCTI stream demands.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type AppConfig, redisEnv } from '@octi-sekoia/config';
import { createGroupKey } from '@octi-sekoia/model';
import { connectRedis } from '@octi-sekoia/ops';
import type { RedisClient } from '@octi-sekoia/queue';
import { type ConnectorKeys, keys } from '@octi-sekoia/queue';
import {
  type CollectionDiff,
  computeExpectedCollection,
  diffCollections,
  type ExpectedIoc,
  isConverged,
  messagesFromLog,
  type OpenCtiSimulator,
  type OracleConfig,
  type SekoiaSimulator,
  startOpenCtiSimulator,
  startSekoiaSimulator,
} from '@octi-sekoia/simulators';
import { collectionOwnerKey } from '@octi-sekoia/sync';
import { freePort } from '@octi-sekoia/testkit';
import { App, type LogLine, metricSum, round, sleep } from './children.ts';
import { cleanupPrefix } from './redis.ts';

/** `shared`: batching possible (no per-indicator placeholder, valid_until rounded to the day, generator's
 * sharedFields). `realistic`: the default description template (one link per indicator), no rounding. */
export type DataShape = 'shared' | 'realistic';

export const SHARED_TEMPLATE = 'OpenCTI indicator (bench)';
export const DEFAULT_TEMPLATE = '{opencti_url}/dashboard/observations/indicators/{id}';

export interface StackConfig {
  /** Used in the key prefix and the log directory. */
  label: string;
  redis: AppConfig['redis'];
  /** The run's log directory (a sub-directory per stack is made). */
  logDir: string;
  /** Injected Sekoia latency (ms). */
  latencyMs: number;
  /** Our request budget: SEKOIA_INTEL_REQUESTS_PER_SECOND / SEKOIA_INTEL_REQUEST_BURST. */
  budget: { rps: number; burst: number };
  data: DataShape;
  /** Extra environment of every app (e.g. INGEST_HIGH_WATERMARK). */
  env?: Record<string, string>;
  /** OpenCTI heartbeat period (default 1000 ms, as the demo). */
  heartbeatMs?: number;
  /** Reuse this OpenCTI simulator (already loaded; the caller closes it) instead of starting one. */
  opencti?: OpenCtiSimulator;
}

const stacks = new Set<Stack>();

/** Closes every open stack (children stopped, simulators closed, Redis keys removed). */
export async function closeAllStacks(): Promise<void> {
  await Promise.allSettled([...stacks].map((s) => s.close()));
}

/** Apps' own settings never leak in from the bench's environment. */
const APP_ENV = /^(OPENCTI_|CONNECTOR_|SEKOIA_|REDIS_|WORKER_|INGEST_|DASHBOARD_|TUNING_|CONFIG_FILE$)/;

export class Stack {
  readonly apps: App[] = [];
  readonly keyPrefix: string;
  readonly connectorId = randomUUID();
  readonly redis: RedisClient;
  readonly oracle: OracleConfig;
  private readonly dir: string;
  private closing: Promise<void> | undefined;
  private workerCount = 0;

  private constructor(
    readonly config: StackConfig,
    readonly opencti: OpenCtiSimulator,
    readonly sekoia: SekoiaSimulator,
  ) {
    this.keyPrefix = `bench-${Date.now().toString(36)}-${config.label}`;
    this.redis = connectRedis(config.redis);
    this.redis.on('error', () => undefined);
    this.dir = join(config.logDir, `${config.label}-${this.connectorId.slice(0, 8)}`);
    mkdirSync(this.dir, { recursive: true });
    this.oracle = {
      openctiUrl: opencti.url,
      descriptionTemplate: config.data === 'shared' ? SHARED_TEMPLATE : DEFAULT_TEMPLATE,
      validUntilRounding: config.data === 'shared' ? 'day' : 'none',
      extractionMode: 'strict',
    };
  }

  static async start(config: StackConfig): Promise<Stack> {
    const opencti =
      config.opencti ?? (await startOpenCtiSimulator({ heartbeatMs: config.heartbeatMs ?? 1000 }));
    const sekoia = await startSekoiaSimulator({ faults: { latencyMs: config.latencyMs } });
    const s = new Stack(config, opencti, sekoia);
    stacks.add(s);
    return s;
  }

  /** Every Redis key of the connector (packages/queue/src/keys.ts). */
  get keys(): ConnectorKeys {
    return keys(this.keyPrefix, this.connectorId);
  }

  /** Base of every connector key (its hash tag). */
  get base(): string {
    return this.keys.base;
  }

  get logDir(): string {
    return this.dir;
  }

  env(): Record<string, string> {
    const inherited: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !APP_ENV.test(k)) inherited[k] = v;
    const c = this.config;
    return {
      ...inherited,
      OPENCTI_URL: this.opencti.url,
      OPENCTI_TOKEN: this.opencti.token,
      CONNECTOR_ID: this.connectorId,
      CONNECTOR_NAME: `bench ${c.label}`,
      CONNECTOR_SCOPE: 'sekoia',
      CONNECTOR_LIVE_STREAM_ID: this.opencti.streamId,
      CONNECTOR_LOG_LEVEL: 'info',
      SEKOIA_INTEL_URL: this.sekoia.url,
      SEKOIA_INTEL_APIKEY: this.sekoia.apiKey,
      SEKOIA_INTEL_IOC_COLLECTION_UUID: this.sekoia.collectionId,
      ...(c.data === 'shared'
        ? { SEKOIA_INTEL_DESCRIPTION_TEMPLATE: SHARED_TEMPLATE, SEKOIA_INTEL_VALID_UNTIL_ROUNDING: 'day' }
        : {}),
      SEKOIA_INTEL_REQUESTS_PER_SECOND: String(c.budget.rps),
      SEKOIA_INTEL_REQUEST_BURST: String(c.budget.burst),
      ...redisEnv(c.redis),
      REDIS_KEY_PREFIX: this.keyPrefix,
      ...c.env,
    };
  }

  async startIngest(keep: (l: LogLine) => boolean = () => false): Promise<App> {
    const port = await freePort();
    const app = new App(
      'ingest',
      'ingest',
      port,
      { ...this.env(), INGEST_HTTP_PORT: String(port) },
      join(this.dir, 'ingest.log'),
      (l) => l.msg.startsWith('recovery enqueued') || l.msg.startsWith('generation') || keep(l),
    );
    this.apps.push(app);
    return app;
  }

  async startWorker(
    keep: (l: LogLine) => boolean = () => false,
    extraEnv: Record<string, string> = {},
  ): Promise<App> {
    const port = await freePort();
    const n = ++this.workerCount;
    const app = new App(
      `worker-${n}`,
      'worker',
      port,
      { ...this.env(), ...extraEnv, WORKER_HTTP_PORT: String(port) },
      join(this.dir, `worker-${n}.log`),
      (l) => l.msg.startsWith('generation swept') || keep(l),
    );
    this.apps.push(app);
    return app;
  }

  get ingest(): App | undefined {
    return this.apps.find((a) => a.app === 'ingest');
  }

  get workers(): App[] {
    return this.apps.filter((a) => a.app === 'worker');
  }

  /** The collection the invariant demands now (from the simulator's whole event log). */
  expected(): Map<string, ExpectedIoc> {
    return computeExpectedCollection(messagesFromLog(this.opencti.control.entries()), this.oracle);
  }

  diff(expected: Map<string, ExpectedIoc>): CollectionDiff {
    return diffCollections(
      expected,
      this.sekoia.control.indicators().map((i) => ({ ...i, value: i.canonical })),
    );
  }

  /**
   * Indicators edited (modified after created, and after `sinceMs`) and how many of their values are held by more
   * than one live indicator (a shared value's winner can change while a snapshot is being recorded).
   */
  editedValues(expected: Map<string, ExpectedIoc>, sinceMs = 0): { edited: number; shared: number } {
    let edited = 0;
    let shared = 0;
    for (const i of this.sekoia.control.indicators()) {
      const m = Date.parse(i.modified);
      if (m <= Date.parse(i.created) || m < sinceMs) continue;
      edited++;
      if ((expected.get(i.canonical)?.indicatorIds.length ?? 0) > 1) shared++;
    }
    return { edited, shared };
  }

  /** When Sekoia last changed: the latest created / modified / revoked_at of the collection (simulator clock). */
  lastChangeMs(): number {
    let last = 0;
    for (const i of this.sekoia.control.indicators()) {
      last = Math.max(last, Date.parse(i.created), Date.parse(i.modified));
      if (i.revoked_at) last = Math.max(last, Date.parse(i.revoked_at));
    }
    return last;
  }

  /**
   * Polls until the collection equals `expected` (cheap live-count check first, then the full diff). Returns the
   * time of the last change of the collection (= the moment it became equal) and when it was noticed.
   */
  async waitConverged(
    expected: Map<string, ExpectedIoc>,
    opts: { timeoutMs: number; onProgress?: (live: number) => void; pollMs?: number },
  ): Promise<{
    converged: boolean;
    convergedAt: number;
    noticedAt: number;
    diff?: DiffSummary;
    /** [seconds since the wait began, live indicators in Sekoia], about one sample per second. */
    timeline: Array<[number, number]>;
  }> {
    const begin = Date.now();
    const deadline = begin + opts.timeoutMs;
    let poll = opts.pollMs ?? 200;
    let lastProgress = 0;
    const timeline: Array<[number, number]> = [];
    for (;;) {
      this.assertAppsAlive();
      const live = this.sekoia.control.collection()?.indicators_count ?? 0;
      const t = round((Date.now() - begin) / 1000, 1);
      if (timeline.length === 0 || t - timeline.at(-1)![0] >= 1) timeline.push([t, live]);
      if (opts.onProgress && Date.now() - lastProgress > 10_000) {
        lastProgress = Date.now();
        opts.onProgress(live);
      }
      if (live === expected.size) {
        const diff = this.diff(expected);
        if (isConverged(diff)) {
          const noticedAt = Date.now();
          timeline.push([round((noticedAt - begin) / 1000, 1), live]);
          return { converged: true, convergedAt: this.lastChangeMs() || noticedAt, noticedAt, timeline };
        }
        poll = Math.min(2000, poll * 2);
      }
      if (Date.now() > deadline) {
        return {
          converged: false,
          convergedAt: Number.NaN,
          noticedAt: Date.now(),
          diff: summarize(this.diff(expected)),
          timeline,
        };
      }
      await sleep(poll);
    }
  }

  /** What the workers report about their Sekoia writes (summed over the workers). */
  async workerStats(): Promise<{
    createRequests: number;
    valuesPerCreateRequest: number;
    values: Record<string, number>;
  }> {
    const texts = await Promise.all(this.workers.filter((w) => w.running).map((w) => w.metricsText()));
    const sum = (name: string, labels: Record<string, string> = {}) =>
      texts.reduce((s, t) => s + metricSum(t, name, labels), 0);
    const createRequests = sum('worker_create_batch_size_count');
    const values: Record<string, number> = {};
    for (const action of ['created', 'edited', 'revoked', 'searched', 'rejected'])
      values[action] = sum('worker_values_total', { action });
    return {
      createRequests,
      valuesPerCreateRequest: round(sum('worker_create_batch_size_sum') / Math.max(1, createRequests), 2),
      values,
    };
  }

  /**
   * Samples the simulator's request counter every 250 ms until `stop()`: the busiest 1 s and 10 s windows show
   * whether the budget held (requests/s), and the samples give the request timeline.
   */
  sampleRequests(): {
    stop: () => { peak1s: number; peak10sPerSecond: number; samples: Array<[number, number]> };
  } {
    const begin = Date.now();
    const samples: Array<[number, number]> = [[0, this.sekoia.control.requestCount()]];
    const timer = setInterval(() => {
      samples.push([Date.now() - begin, this.sekoia.control.requestCount()]);
    }, 250);
    timer.unref();
    return {
      stop: () => {
        clearInterval(timer);
        samples.push([Date.now() - begin, this.sekoia.control.requestCount()]);
        const peak = (windowMs: number) => {
          let best = 0;
          let j = 0;
          for (let i = 0; i < samples.length; i++) {
            while (samples[i]![0] - samples[j]![0] > windowMs) j++;
            best = Math.max(best, samples[i]![1] - samples[j]![1]);
          }
          return best;
        };
        return {
          peak1s: peak(1000),
          peak10sPerSecond: round(peak(10_000) / 10, 2),
          samples: samples.filter((_, i) => i % 4 === 0).map(([t, n]) => [round(t / 1000, 1), n]),
        };
      },
    };
  }

  /**
   * Samples every `everyMs` (default 200 ms) until `stop()`: jobs in the indicators queue and each running app's
   * CPU seconds, so the suites can tell how fast the workers drained the recovery and at what CPU per job.
   * Samples are [epoch ms, jobs queued, CPU seconds per app (stack.apps order)].
   */
  sampleQueue(everyMs = 200): { stop: () => Promise<Array<[number, number, number[]]>> } {
    const samples: Array<[number, number, number[]]> = [];
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        try {
          const q = await this.queued();
          samples.push([Date.now(), q, this.apps.map((a) => a.cpuSeconds())]);
        } catch {
          // a sample lost to a Redis hiccup: the next one stands
        }
        await sleep(everyMs);
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return samples;
      },
    };
  }

  assertAppsAlive(): void {
    for (const a of this.apps)
      if (!a.running) throw new Error(`${a.name} exited (${a.exited}); log in ${this.dir}`);
  }

  /** Jobs still in the indicators queue (waiting, active, delayed, prioritized, paused). */
  async queued(): Promise<number> {
    const k = this.keys;
    const q = (part: string) => k.queueKey(k.queues.indicators, part);
    const [wait, active, paused, delayed, prioritized] = (await this.redis
      .multi()
      .llen(q('wait'))
      .llen(q('active'))
      .llen(q('paused'))
      .zcard(q('delayed'))
      .zcard(q('prioritized'))
      .exec())!.map(([, v]) => Number(v));
    return wait! + active! + paused! + delayed! + prioritized!;
  }

  async dirty(): Promise<number> {
    return this.redis.zcard(this.keys.sync.dirty);
  }

  async swept(): Promise<number> {
    return Number((await this.redis.get(this.keys.sync.swept)) ?? 0);
  }

  async generation(): Promise<number> {
    return Number((await this.redis.get(this.keys.generation)) ?? 0);
  }

  /** Until the queue is empty, the dirty set empty and generation `swept` swept (bounded by `timeoutMs`). */
  async waitIdle(opts: { timeoutMs: number; swept?: number }): Promise<{ idle: boolean; at: number }> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      this.assertAppsAlive();
      const [q, d, s] = await Promise.all([this.queued(), this.dirty(), this.swept()]);
      if (q === 0 && d === 0 && s >= (opts.swept ?? 0)) return { idle: true, at: Date.now() };
      if (Date.now() > deadline) return { idle: false, at: Date.now() };
      await sleep(100);
    }
  }

  /** Idempotent: every caller waits for the same clean-up. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await Promise.allSettled(this.apps.map((a) => a.stop()));
    await Promise.allSettled([
      this.config.opencti ? Promise.resolve() : this.opencti.close(),
      this.sekoia.close(),
    ]);
    try {
      await cleanupPrefix(this.redis, this.keyPrefix);
      // The collection's owner record lives outside every prefix: left behind, it made the next stack whose
      // simulator got the same port refuse to start ("synced by connector …").
      const owner = collectionOwnerKey(this.sekoia.url, this.sekoia.collectionId);
      const record = await this.redis.get(owner);
      if (record && (JSON.parse(record) as { keyPrefix?: string }).keyPrefix === this.keyPrefix)
        await this.redis.del(owner);
    } finally {
      this.redis.disconnect();
      stacks.delete(this);
    }
  }
}

export interface DiffSummary {
  missing: number;
  unexpected: number;
  wrongAttributes: number;
  duplicates: number;
  examples: string[];
}

export function summarize(d: CollectionDiff): DiffSummary {
  return {
    missing: d.missing.length,
    unexpected: d.unexpected.length,
    wrongAttributes: d.wrongAttributes.length,
    duplicates: d.duplicates.length,
    examples: [
      ...d.missing.slice(0, 3).map((v) => `missing ${v}`),
      ...d.unexpected.slice(0, 3).map((v) => `unexpected ${v}`),
      ...d.wrongAttributes.slice(0, 3).map((w) => `wrong attributes ${w.value}`),
      ...d.duplicates.slice(0, 3).map((v) => `duplicate ${v}`),
    ],
  };
}

/**
 * Distinct default-field groups of the expected collection (same fields as the model's attributesFingerprint:
 * valid_from, valid_until, kill chain phases, description) and the fewest create requests they need (≤ 100
 * values per request).
 */
export function createGroups(expected: Map<string, ExpectedIoc>): { groups: number; minRequests: number } {
  const groups = new Map<string, number>();
  for (const e of expected.values()) {
    // The product's own rule: valid_from is per item, so it does not split a group.
    const key = createGroupKey(e.attributes);
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  let minRequests = 0;
  for (const n of groups.values()) minRequests += Math.ceil(n / 100);
  return { groups: groups.size, minRequests };
}
