/**
 * The whole connector for re-sync tests: Redis under a test prefix, the OpenCTI and Sekoia simulators over HTTP,
 * the real ingest and worker entry points as child processes, the CLI, and the oracle.
 */
import { join } from 'node:path';
import { DEFAULT_DESCRIPTION_TEMPLATE } from '@octi-sekoia/model';
import { type ConnectorQueues, createQueues, listDeadLetters } from '@octi-sekoia/queue';
import {
  computeExpectedCollection,
  diffCollections,
  messagesFromLog,
  type OpenCtiSimulator,
  type SekoiaBehavior,
  type SekoiaFaults,
  type SekoiaSimulator,
  startOpenCtiSimulator,
  startSekoiaSimulator,
} from '@octi-sekoia/simulators';
import { CollectionReads, forgetCollectionsOwnedBy } from '@octi-sekoia/sync';
import { type ManagedProcess, startProcess, type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { CONNECTOR_ID, FAST_TUNING } from '../harness.ts';

export { CONNECTOR_ID };
export const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

const workerDir = join(import.meta.dirname, '..', '..');
const ingestDir = join(workerDir, '..', 'ingest');
const cliDir = join(workerDir, '..', 'cli');

type LogEntry = ReturnType<OpenCtiSimulator['control']['entries']>[number];

export interface ResyncStackOptions {
  behavior?: Partial<SekoiaBehavior>;
  faults?: Partial<SekoiaFaults>;
  seed?: number;
  /** A TestRedis of another topology (e.g. `SentinelSet.testRedis()`); default: the machine's Redis. */
  redis?: TestRedis;
}

export class ResyncStack {
  readonly processes: ManagedProcess[] = [];
  readonly queues: ConnectorQueues;
  readonly reads: CollectionReads;
  /** Every stream entry ever written (the simulator's own log loses the trimmed ones). */
  private readonly log: LogEntry[] = [];
  /** The description template ingest runs with (the oracle's). */
  template = DEFAULT_DESCRIPTION_TEMPLATE;
  private readonly logged = new Set<LogEntry>();

  private constructor(
    readonly r: TestRedis,
    readonly octi: OpenCtiSimulator,
    readonly sim: SekoiaSimulator,
  ) {
    this.queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
    this.reads = new CollectionReads(r.client, { keyPrefix: r.prefix, connectorId: CONNECTOR_ID });
  }

  static async start(opts: ResyncStackOptions = {}): Promise<ResyncStack> {
    const r = opts.redis ?? (await testRedis('resync'));
    r.alsoForget(forgetCollectionsOwnedBy);
    const octi = await startOpenCtiSimulator({ heartbeatMs: 100, seed: opts.seed ?? 3 });
    const sim = await startSekoiaSimulator({
      seed: opts.seed ?? 3,
      ...(opts.behavior ? { behavior: opts.behavior } : {}),
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    return new ResyncStack(r, octi, sim);
  }

  get keys() {
    return this.queues.keys;
  }

  /** Everything ingest, the worker and the CLI read from the environment. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      ...this.r.env,
      REDIS_KEY_PREFIX: this.r.prefix,
      CONNECTOR_ID,
      CONNECTOR_NAME: 'Sekoia re-sync test',
      CONNECTOR_SCOPE: 'sekoia',
      CONNECTOR_LIVE_STREAM_ID: this.octi.streamId,
      OPENCTI_URL: this.octi.url,
      OPENCTI_TOKEN: this.octi.token,
      SEKOIA_INTEL_URL: this.sim.url,
      SEKOIA_INTEL_APIKEY: this.sim.apiKey,
      SEKOIA_INTEL_IOC_COLLECTION_UUID: this.sim.collectionId,
      SEKOIA_INTEL_TIMEOUT_MS: '1500',
      SEKOIA_INTEL_REQUESTS_PER_SECOND: '500',
      SEKOIA_INTEL_REQUEST_BURST: '50',
      SEKOIA_INTEL_BATCH_LINGER_MS: '50',
      INGEST_PING_INTERVAL_S: '1',
      INGEST_HTTP_PORT: '0',
      WORKER_HTTP_PORT: '0',
      WORKER_BACKOFF_MS: '50',
      WORKER_BACKOFF_MAX_MS: '1000',
      CONNECTOR_LOG_LEVEL: 'info',
      ...extra,
    };
  }

  spawnIngest(extra: Record<string, string> = {}): ManagedProcess {
    const proc = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ingestDir,
      env: this.env(extra),
    });
    this.processes.push(proc);
    return proc;
  }

  spawnWorker(extra: Record<string, string> = {}): ManagedProcess {
    const tuning = Object.fromEntries(
      Object.entries(FAST_TUNING).map(([k, v]) => [
        `TUNING_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`,
        String(v),
      ]),
    );
    const proc = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: workerDir,
      env: this.env({ ...tuning, TUNING_COLLECTION_READ_POLL_MS: '50', ...extra }),
    });
    this.processes.push(proc);
    return proc;
  }

  /** The CLI (real entry point); resolves once it has exited. */
  async cli(args: string[], extra: Record<string, string> = {}) {
    const proc = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: cliDir,
      env: this.env(extra),
    });
    const code = await proc.exited;
    return { code, output: proc.output() };
  }

  async generations() {
    return this.reads.generations();
  }

  async pending(): Promise<number> {
    const c = await this.queues.indicators.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  dirty(): Promise<number> {
    return this.r.client.zcard(this.keys.sync.dirty);
  }

  /**
   * Generation G is done: ingest is in it, its collection read and its sweep are done, the observed values are
   * dirtied, the queue is drained and the dirty set empty.
   */
  async waitGeneration(generation: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => {
        const g = await this.generations();
        return (
          g.current === generation &&
          g.read >= generation &&
          g.swept >= generation &&
          (await this.reads.pendingObserved()).length === 0 &&
          (await this.pending()) === 0 &&
          (await this.dirty()) === 0
        );
      },
      { timeoutMs, intervalMs: 100, what: `generation ${generation} done (read, swept, drained)` },
    );
  }

  /** Captures the stream entries written so far (call it before a trim). */
  capture(): void {
    for (const e of this.octi.control.entries()) {
      if (this.logged.has(e)) continue;
      this.logged.add(e);
      this.log.push(e);
    }
  }

  /** The collection OpenCTI's whole history says Sekoia must hold. */
  expected() {
    this.capture();
    return computeExpectedCollection(messagesFromLog(this.log), {
      openctiUrl: this.octi.url,
      descriptionTemplate: this.template,
      validUntilRounding: 'none',
      extractionMode: 'strict',
    });
  }

  diff(collectionId = this.sim.collectionId) {
    return this.diffAgainst(this.expected(), collectionId);
  }

  /** The collection against a given expectation (a test's adjusted `expected()`). */
  diffAgainst(expected: ReturnType<ResyncStack['expected']>, collectionId = this.sim.collectionId) {
    return diffCollections(
      expected,
      this.sim.control.indicators(collectionId).map((i) => ({ ...i, value: i.canonical })),
    );
  }

  deadLetters() {
    return listDeadLetters(this.queues, { limit: 1000 });
  }

  /** Writes behind the connector's back, through the Sekoia API itself. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    collectionId = this.sim.collectionId,
  ): Promise<unknown> {
    const res = await fetch(`${this.sim.url}/v2/inthreat/ioc-collections/${collectionId}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.sim.apiKey}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** Sekoia requests by route since the last reset of the counters. */
  requests() {
    const c = this.sim.control;
    return {
      list: c.requestCount('list-indicators'),
      create: c.requestCount('create-batch'),
      edit: c.requestCount('edit-indicator'),
      revoke: c.requestCount('revoke-indicator'),
      text: c.requestCount('import-text'),
      total: c.requestCount(),
    };
  }

  async close(): Promise<void> {
    if (process.env.RESYNC_DEBUG) {
      const { writeFileSync } = await import('node:fs');
      for (const [i, p] of this.processes.entries())
        writeFileSync(`${process.env.RESYNC_DEBUG}-${i}.log`, p.output());
    }
    for (const p of this.processes) p.kill('SIGKILL');
    await Promise.all(this.processes.map((p) => p.exited));
    await this.queues.close();
    await this.octi.close();
    await this.sim.close();
    await this.r.cleanup();
  }
}

/** List pages a whole-collection read of `n` indicators takes (100 per page). */
export function pagesFor(n: number): number {
  return Math.max(1, Math.ceil(n / 100));
}
