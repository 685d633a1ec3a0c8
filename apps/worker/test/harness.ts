import { join } from 'node:path';
import { workerTuningDefaults } from '@octi-sekoia/config';
import { createLogger, type Logger } from '@octi-sekoia/logger';
import {
  DEFAULT_DESCRIPTION_TEMPLATE,
  type IndicatorJob,
  type Job,
  jobId,
  normalizeMessage,
  type ValidUntilRounding,
} from '@octi-sekoia/model';
import type { StreamMessage } from '@octi-sekoia/opencti';
import { Registry } from '@octi-sekoia/ops';
import { type ConnectorQueues, createQueues, listDeadLetters, type RedisClient } from '@octi-sekoia/queue';
import {
  applyScenario,
  computeExpectedCollection,
  controlTarget,
  diffCollections,
  type GenerateOptions,
  generateScenario,
  messagesFromLog,
  type SekoiaBehavior,
  type SekoiaFaults,
  type SekoiaSimulator,
  startOpenCtiSimulator,
  startSekoiaSimulator,
} from '@octi-sekoia/simulators';
import { forgetCollectionsOwnedBy } from '@octi-sekoia/sync';
import {
  type ManagedProcess,
  type RedisCluster,
  startProcess,
  type TestRedis,
  testRedis,
  waitFor,
} from '@octi-sekoia/testkit';
import { Redis } from 'ioredis';
import { type Tuning, tuningOf, type WorkerSettings } from '../src/settings.ts';
import { WorkerService } from '../src/worker-service.ts';

export const appDir = join(import.meta.dirname, '..');
export const CONNECTOR_ID = '4a0d6a3e-5c1b-4f7e-8d2a-9b3c1e5f7a90';
export const OPENCTI_URL = 'http://opencti.test';

/** Tuning that makes crashes, retries and probes show up within a test's time. */
export const FAST_TUNING: Partial<Tuning> = {
  lockDurationMs: 3_000,
  stalledIntervalMs: 1_000,
  valueLockMs: 3_000,
  writeHorizonMs: 3_200,
  probeIntervalMs: 500,
  usageIntervalMs: 2_000,
  usageFullIntervalMs: 500,
  sweepRecheckMs: 200,
  drainIdleMs: 100,
  handBackAfterMs: 2_000,
  shutdownGraceMs: 10_000,
  defaultRetryAfterMs: 500,
  lostAnswerSearchDelayMs: 100,
  configurationRetryMs: 300,
  failedSweepIntervalMs: 1_000,
  gaugeIntervalMs: 500,
  // Tombstones pruned while the tests run, with no least age (a backstop only: late writes are fenced by the
  // reader lease and the job lock). The prune drops nothing without a generation counter and a checkpoint of it: tests that write
  // both (tombstones.test.ts) see it at work.
  tombstonePruneIntervalMs: 500,
  tombstoneMinAgeMs: 1,
};

export interface NormalizeOptions {
  descriptionTemplate?: string;
  validUntilRounding?: ValidUntilRounding;
  generation?: number;
}

/** Jobs of stream messages, in stream order, as ingest would enqueue them. */
export function jobsOf(messages: StreamMessage[], opts: NormalizeOptions = {}): IndicatorJob[] {
  const jobs: IndicatorJob[] = [];
  for (const m of messages) {
    const r = normalizeMessage(m, {
      openctiUrl: OPENCTI_URL,
      descriptionTemplate: opts.descriptionTemplate ?? DEFAULT_DESCRIPTION_TEMPLATE,
      validUntilRounding: opts.validUntilRounding ?? 'none',
      extractionMode: 'strict',
      generation: opts.generation ?? 1,
      maxEventBytes: 1 << 20,
    });
    if (r.outcome === 'jobs') jobs.push(...r.jobs);
  }
  return jobs;
}

/** A generated scenario run through the OpenCTI simulator's World: the stream messages it produced. */
export async function scenarioMessages(opts: GenerateOptions): Promise<StreamMessage[]> {
  const octi = await startOpenCtiSimulator({ seed: opts.seed });
  try {
    applyScenario(controlTarget(octi.control), generateScenario(opts));
    return messagesFromLog(octi.control.entries());
  } finally {
    await octi.close();
  }
}

export function expectedOf(messages: StreamMessage[], opts: NormalizeOptions = {}) {
  return computeExpectedCollection(messages, {
    openctiUrl: OPENCTI_URL,
    descriptionTemplate: opts.descriptionTemplate ?? DEFAULT_DESCRIPTION_TEMPLATE,
    validUntilRounding: opts.validUntilRounding ?? 'none',
    extractionMode: 'strict',
  });
}

export interface StackOptions {
  /** A private Redis (a test that kills Redis); default: the machine's, under a test prefix. */
  redisUrl?: string;
  /** A TestRedis of another topology (e.g. `SentinelSet.testRedis()`); the stack cleans it up. */
  redis?: TestRedis;
  /** A private Redis Cluster (testkit startRedisCluster): the stack and its workers use it instead. */
  cluster?: RedisCluster;
  behavior?: Partial<SekoiaBehavior>;
  faults?: Partial<SekoiaFaults>;
  seed?: number;
}

/** Redis under a test prefix, the Sekoia simulator over HTTP, the connector's queues, and worker starters. */
export class Stack {
  readonly services: WorkerService[] = [];
  readonly processes: ManagedProcess[] = [];
  queues!: ConnectorQueues;

  private constructor(
    readonly r: StackRedis,
    readonly sim: SekoiaSimulator,
  ) {
    this.queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
    for (const q of [this.queues.indicators, this.queues.deadLetters]) q.on('error', () => undefined);
  }

  static async start(opts: StackOptions = {}): Promise<Stack> {
    const r: StackRedis =
      opts.redis ??
      (opts.cluster
        ? clusterRedis(opts.cluster)
        : opts.redisUrl
          ? await privateRedis(opts.redisUrl)
          : await testRedis('worker'));
    r.alsoForget(forgetCollectionsOwnedBy);
    const sim = await startSekoiaSimulator({
      seed: opts.seed ?? 1,
      ...(opts.behavior ? { behavior: opts.behavior } : {}),
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    return new Stack(r, sim);
  }

  get keys() {
    return this.queues.keys;
  }

  settings(over: Partial<WorkerSettings> = {}, tuning: Partial<Tuning> = {}): WorkerSettings {
    return {
      keyPrefix: this.r.prefix,
      connectorId: CONNECTOR_ID,
      sekoia: {
        url: this.sim.url,
        apiKey: this.sim.apiKey,
        collectionId: this.sim.collectionId,
        timeoutMs: 1_500,
        requestsPerSecond: 500,
        requestBurst: 50,
        batchSize: 100,
        batchLingerMs: 50,
      },
      concurrency: 50,
      retryAttempts: 5,
      backoffMs: 50,
      backoffMaxMs: 1_000,
      transientRetryWindowMs: 60_000,
      tuning: { ...tuningOf(workerTuningDefaults(), 1_500), ...FAST_TUNING, ...tuning },
      ...over,
    };
  }

  /** A worker in this process (its metrics on a registry of its own). */
  async startService(
    over: Partial<WorkerSettings> = {},
    tuning: Partial<Tuning> = {},
    log: Logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', name: 'worker' }),
  ): Promise<WorkerService> {
    const service = new WorkerService({
      redis: this.r.connect(),
      connect: () => this.r.connect(),
      settings: this.settings(over, tuning),
      log,
      registry: new Registry(),
      redact: (text) => text.split(this.sim.apiKey).join('[REDACTED]'),
    });
    this.services.push(service);
    await service.start();
    return service;
  }

  /** The real entry point as a child process, configured for this stack (plus `env`). */
  spawnWorker(env: Record<string, string> = {}, tuning: Partial<Tuning> = FAST_TUNING): ManagedProcess {
    const tuningEnv = Object.fromEntries(
      Object.entries(tuning).map(([k, v]) => [
        `TUNING_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`,
        String(v),
      ]),
    );
    const proc = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: appDir,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.r.env,
        REDIS_KEY_PREFIX: this.r.prefix,
        WORKER_HTTP_PORT: '0',
        CONNECTOR_ID,
        SEKOIA_INTEL_URL: this.sim.url,
        SEKOIA_INTEL_APIKEY: this.sim.apiKey,
        SEKOIA_INTEL_IOC_COLLECTION_UUID: this.sim.collectionId,
        SEKOIA_INTEL_TIMEOUT_MS: '1500',
        SEKOIA_INTEL_REQUESTS_PER_SECOND: '500',
        SEKOIA_INTEL_REQUEST_BURST: '50',
        SEKOIA_INTEL_BATCH_LINGER_MS: '50',
        WORKER_BACKOFF_MS: '50',
        WORKER_BACKOFF_MAX_MS: '1000',
        CONNECTOR_LOG_LEVEL: 'info',
        ...tuningEnv,
        ...env,
      },
    });
    this.processes.push(proc);
    return proc;
  }

  async enqueue(jobs: Job[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += 500) {
      await this.queues.indicators.addBulk(
        jobs.slice(i, i + 500).map((job) => ({
          name: job.kind === 'indicator' ? job.op : 'sweep',
          data: job,
          opts: { jobId: jobId(job) },
        })),
      );
    }
  }

  async pending(): Promise<number> {
    const c = await this.queues.indicators.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  dirty(): Promise<number> {
    return this.r.client.zcard(this.keys.sync.dirty);
  }

  /** The queue drained and the dirty set empty. */
  async waitIdle(timeoutMs: number, what = 'the queue and the dirty set to drain'): Promise<void> {
    await waitFor(async () => (await this.pending()) === 0 && (await this.dirty()) === 0, {
      timeoutMs,
      intervalMs: 100,
      what,
    });
  }

  deadLetters() {
    return listDeadLetters(this.queues, { limit: 1000 });
  }

  /** The simulator's collection against the oracle. */
  diff(expected: ReturnType<typeof expectedOf>) {
    return diffCollections(
      expected,
      this.sim.control.indicators().map((i) => ({ ...i, value: i.canonical })),
    );
  }

  async close(): Promise<void> {
    for (const p of this.processes) p.kill('SIGKILL');
    await Promise.all(this.processes.map((p) => p.exited));
    await Promise.all(this.services.map((s) => s.stop().catch(() => undefined)));
    await this.queues.close();
    await this.sim.close();
    await this.r.cleanup();
  }
}

/** The ops port a spawned worker logged in its `started` line. */
export async function httpPortOf(proc: ManagedProcess): Promise<number> {
  await proc.waitForOutput(/"msg":"started"/, 90_000);
  const line = proc
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"started"'));
  return (JSON.parse(line ?? '{}') as { httpPort: number }).httpPort;
}

/** An OpenCTI simulator to write a story on; `take()` returns the stream messages written since the last call. */
export class Story {
  private seen = 0;
  private constructor(readonly octi: Awaited<ReturnType<typeof startOpenCtiSimulator>>) {}

  static async start(): Promise<Story> {
    return new Story(await startOpenCtiSimulator({ seed: 5 }));
  }

  get control() {
    return this.octi.control;
  }

  /** Every message so far (for the oracle). */
  all(): StreamMessage[] {
    return messagesFromLog(this.octi.control.entries());
  }

  take(): StreamMessage[] {
    const all = this.all();
    const out = all.slice(this.seen);
    this.seen = all.length;
    return out;
  }

  close(): Promise<void> {
    return this.octi.close();
  }
}

/** Paces a polling loop or a feeder (never used to wait for an outcome: that is waitFor's job). */
export async function pace(ms: number): Promise<void> {
  const until = Date.now() + ms;
  await waitFor(() => Date.now() >= until, { timeoutMs: ms + 1_000, intervalMs: Math.min(20, ms) });
}

/** A hand-made upsert job (attributes shared unless `description` differs). */
export function upsert(
  indicatorId: string,
  eventId: string,
  values: string[],
  opts: { generation?: number; description?: string } = {},
): IndicatorJob {
  return {
    kind: 'indicator',
    generation: opts.generation ?? 1,
    eventId,
    op: 'upsert',
    indicatorId,
    stixId: `indicator--${indicatorId}`,
    attributes: {
      validFrom: '2026-01-01T00:00:00.000Z',
      killChainPhases: [],
      description: opts.description ?? 'shared',
    },
    values,
  };
}

/** The stack's Redis: the machine's (TestRedis), a private server, or a private cluster. */
export interface StackRedis extends Omit<TestRedis, 'client' | 'connect'> {
  client: RedisClient;
  connect(): RedisClient;
  cluster?: RedisCluster;
}

/** A private cluster (a fixed prefix; the cluster is the test's, destroyed by it). */
function clusterRedis(cluster: RedisCluster): StackRedis {
  return {
    prefix: 'test:cluster',
    url: '',
    env: { REDIS_CLUSTER_NODES: cluster.seeds },
    client: cluster.connect(),
    connect: () => cluster.connect(),
    cluster,
    alsoForget: () => undefined,
    cleanup: async () => undefined,
  };
}

/** TestRedis on a private server (its own URL, a fixed prefix). */
async function privateRedis(url: string): Promise<TestRedis> {
  const clients: Redis[] = [];
  const connect = () => {
    const c = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const client = connect();
  await client.ping();
  return {
    prefix: 'test:private',
    url,
    env: { REDIS_URL: url },
    client,
    connect,
    alsoForget: () => undefined,
    async cleanup() {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

/** Age of the oldest write intent (`int:<claim>` = `op|sinceMs|fp` in the applied-state hashes), or -1. */
export async function oldestIntentAgeMs(s: Stack): Promise<number> {
  let oldest = Number.POSITIVE_INFINITY;
  let cursor = '0';
  do {
    const [next, keys] = await s.r.client.scan(cursor, 'MATCH', `${s.keys.sync.valuePrefix}*`, 'COUNT', 500);
    cursor = next;
    for (const k of keys) {
      const h = await s.r.client.hgetall(k);
      for (const [f, v] of Object.entries(h))
        if (f.startsWith('int:')) oldest = Math.min(oldest, Number(v.split('|')[1]));
    }
  } while (cursor !== '0');
  return Number.isFinite(oldest) ? Date.now() - oldest : -1;
}
