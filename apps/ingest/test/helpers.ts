/**
 * Shared set-up of the ingest integration tests: the in-process service, the real entry point as a child
 * process, and the oracle of the jobs a stream must produce.
 */
import { join } from 'node:path';
import { type Job, jobId, normalizeMessage } from '@octi-sekoia/model';
import { openStream, type StreamMessage } from '@octi-sekoia/opencti';
import { Registry } from '@octi-sekoia/ops';
import { type ConnectorQueues, createQueues } from '@octi-sekoia/queue';
import type { OpenCtiSimulator } from '@octi-sekoia/simulators';
import { type ManagedProcess, startProcess, type TestRedis, waitFor } from '@octi-sekoia/testkit';
import type { Redis } from 'ioredis';
import { IngestService } from '../src/ingest-service.ts';
import { ingestMetrics } from '../src/metrics.ts';
import { connectorApi, openCtiClient, streamOpener } from '../src/opencti-adapter.ts';
import type { IngestSettings } from '../src/settings.ts';

export const CONNECTOR_ID = '7d3c1e8a-2b4f-4c6d-9e0a-1f2b3c4d5e6f';
const appDir = join(import.meta.dirname, '..');

/** What main.ts passes to the normalizer with an empty configuration (OPENCTI_URL aside). */
export function normalizeSettings(openctiUrl: string): IngestSettings['normalize'] {
  return {
    openctiUrl,
    descriptionTemplate: '{opencti_url}/dashboard/observations/indicators/{id}',
    validUntilRounding: 'none',
    extractionMode: 'strict',
    maxEventBytes: 5_242_880,
  };
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  obj: object;
}

/** A log that keeps every line (tests count them). */
export function memoryLog() {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg: string) => {
    lines.push({ level, msg, obj });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The service in this process, wired like main.ts but with test timings (fast reconnects, pings, lease). */
export function inProcessIngest(
  r: TestRedis,
  sim: OpenCtiSimulator,
  overrides: Partial<IngestSettings> = {},
  opts: {
    log?: ReturnType<typeof memoryLog>;
    /** The stall seam of IngestDeps. */
    beforeGenerationStart?: () => Promise<void>;
    /** The service's own commands (lease, checkpoint, generation) on a connection apart from the queues'. */
    serviceRedis?: Redis;
  } = {},
) {
  const queueRedis = r.connect();
  const queues = createQueues(queueRedis, r.prefix, CONNECTOR_ID);
  const redis = opts.serviceRedis ?? queueRedis;
  const oc = {
    url: sim.url,
    token: sim.token,
    streamId: sim.streamId,
    listenDelete: true,
    noDependencies: true,
    withInferences: false,
    heartbeatTimeoutMs: 5000,
    backoff: { baseMs: 50, maxMs: 500 },
  };
  const log = opts.log ?? memoryLog();
  const registry = new Registry();
  const service = new IngestService({
    redis,
    queues,
    opencti: connectorApi(openCtiClient(oc)),
    openStream: streamOpener(oc, log),
    metrics: ingestMetrics(registry),
    redact: (t) => t,
    log,
    ...(opts.beforeGenerationStart ? { beforeGenerationStart: opts.beforeGenerationStart } : {}),
    settings: {
      keyPrefix: r.prefix,
      connectorId: CONNECTOR_ID,
      connectorName: 'Sekoia test',
      streamId: sim.streamId,
      scope: ['sekoia'],
      batchSize: 200,
      lingerMs: 20,
      highWatermark: 1_000_000,
      lowWatermark: 1000,
      pingIntervalMs: 300,
      leaseTtlMs: 1500,
      pollMs: 50,
      recoverIsoDate: false,
      normalize: normalizeSettings(sim.url),
      ...overrides,
    },
  });
  return { service, queues, redis, log, registry };
}

/**
 * The real entry point (`src/main.ts`) as a child process, configured only by the environment, logging JSON on
 * stdout. Reads from the start of the stream without recovery unless `env` says otherwise.
 */
export function spawnIngest(
  r: Pick<TestRedis, 'url' | 'prefix'>,
  sim: OpenCtiSimulator,
  env: Record<string, string> = {},
) {
  const proc = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: r.url,
      REDIS_KEY_PREFIX: r.prefix,
      OPENCTI_URL: sim.url,
      OPENCTI_TOKEN: sim.token,
      CONNECTOR_ID,
      CONNECTOR_NAME: 'Sekoia test',
      CONNECTOR_SCOPE: 'sekoia',
      CONNECTOR_LIVE_STREAM_ID: sim.streamId,
      CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE: 'false',
      INGEST_HTTP_PORT: '0',
      ...env,
    },
  });
  return proc;
}

/** The JSON log lines a child process wrote so far. */
export function logLines(
  proc: ManagedProcess,
): Array<Record<string, unknown> & { level: string; msg: string }> {
  return proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { level: string; msg: string });
}

/** The ops server URL of a started child process (from its `started` log line). */
export async function opsUrl(proc: ManagedProcess): Promise<string> {
  await proc.waitForOutput(/"msg":"started"/, 90_000);
  const started = logLines(proc).find((l) => l.msg === 'started');
  return `http://127.0.0.1:${String(started?.httpPort)}`;
}

/** One Prometheus sample (sum over label sets matching `labels`). */
export async function metric(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** A metric of an in-process service (sum over the label sets matching `labels`). */
export async function localMetric(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Ids of every indicator job in the queue, whatever its state. */
export async function jobIds(queues: ConnectorQueues): Promise<string[]> {
  return queues.indicators.getRanges(
    ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'],
    0,
    -1,
  );
}

/** Every message of the stream from `0-0` without recovery, as the connector's reader receives them. */
export async function readWholeStream(sim: OpenCtiSimulator): Promise<StreamMessage[]> {
  const last = sim.control.streamInfo().lastEventId;
  const messages: StreamMessage[] = [];
  let done = false;
  const handle = openStream({
    url: sim.url,
    token: sim.token,
    streamId: sim.streamId,
    lastEventId: '0-0',
    listenDelete: true,
    noDependencies: true,
    withInferences: false,
    heartbeatTimeoutMs: 30_000,
    backoff: { baseMs: 50, maxMs: 500 },
    maxBufferedMessages: 100_000,
    onMessage: (m) => {
      if (done) return;
      if (m.event !== 'heartbeat') messages.push(m);
      // A message past the last id (an idle heartbeat): the server has sent the whole stream. (A message at the
      // last id may be a dependency of the last event, or a heartbeat inside that group.)
      if (m.id && compare(m.id, last) > 0) done = true;
    },
    onConnected: () => undefined,
    onStatus: () => undefined,
  });
  try {
    await waitFor(() => done, { timeoutMs: 60_000, what: `the whole stream up to ${last}` });
  } finally {
    handle.close();
  }
  return messages;
}

/** The job ids (generation `generation`) every message of a stream must produce. */
export function expectedJobIds(messages: StreamMessage[], openctiUrl: string, generation = 1): Set<string> {
  const out = new Set<string>();
  for (const m of messages) {
    const r = normalizeMessage(m, { ...normalizeSettings(openctiUrl), generation });
    if (r.outcome === 'jobs') for (const j of r.jobs) out.add(jobId(j as Job));
  }
  return out;
}

export function compare(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** `g<gen>-<ms>-<seq>-<indicator or sweep>` → its parts. */
export function parseJobId(id: string): { generation: number; eventId: string; subject: string } {
  const m = /^g(\d+)-(\d+-\d+)-(.+)$/.exec(id);
  if (!m) throw new Error(`not a job id: ${id}`);
  return { generation: Number(m[1]), eventId: m[2] as string, subject: m[3] as string };
}

/** Lets other callbacks (HTTP, timers) run between slices of in-process simulator work. */
export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
