/**
 * Ingest throughput: indicator events from the OpenCTI simulator (its own process, over HTTP/SSE) into BullMQ
 * jobs in the machine's Redis, through the in-process IngestService on one Node thread (one core).
 * Run: `pnpm --filter @octi-sekoia/ingest bench [events]` (default 50,000).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Registry } from '@octi-sekoia/ops';
import { createQueues } from '@octi-sekoia/queue';
import { startProcess, testRedis, waitFor } from '@octi-sekoia/testkit';
import { IngestService } from '../src/ingest-service.ts';
import { ingestMetrics } from '../src/metrics.ts';
import { connectorApi, openCtiClient, streamOpener } from '../src/opencti-adapter.ts';

export interface IngestBenchResult {
  events: number;
  batchSize: number;
  /** From start() (lease, register, ping, connect) to the last job in Redis. */
  seconds: number;
  eventsPerSecond: number;
  /** CPU time of this process (ingest) over wall time: ≤ 1 means it fits on one core. */
  cpuCores: number;
  /** Events per second of ingest CPU time: the rate one dedicated core sustains (less sensitive to a busy machine). */
  eventsPerCpuSecond: number;
  /** This process (ingest and the bench's bundle) at the last job: resident memory and the V8 heap, in MB. */
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
}

/** Issue 18's aim: events → jobs per second of one core. */
export const EVENTS_PER_CPU_SECOND_AIM = 10_000;

const TOKEN = 'b3c4d5e6-0000-4000-8000-00000000be7c';
const STREAM = 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9';
const CONNECTOR_ID = '0e1d2c3b-4a59-4687-9786-a5b4c3d2e1f0';

/** A bundle of `n` distinct IPv4 indicators with the fields real ones carry (~1.5 KB per streamed event). */
function bundle(n: number): string {
  const objects = Array.from({ length: n }, (_, i) => {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    return {
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name: ip,
      description: `Bench indicator ${i}: command-and-control server seen in a phishing campaign`,
      pattern: `[ipv4-addr:value = '${ip}']`,
      pattern_type: 'stix',
      valid_from: '2026-01-01T00:00:00.000Z',
      valid_until: '2027-01-01T00:00:00.000Z',
      labels: ['c2', 'bench'],
      kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
      confidence: 80,
    };
  });
  return JSON.stringify({ type: 'bundle', id: 'bundle--00000000-0000-4000-8000-000000000001', objects });
}

export async function benchIngest(
  opts: { events?: number; batchSize?: number } = {},
): Promise<IngestBenchResult> {
  const events = opts.events ?? 50_000;
  const batchSize = opts.batchSize ?? 500;
  const dir = mkdtempSync(join(tmpdir(), 'ingest-bench-'));
  const file = join(dir, 'bundle.json');
  writeFileSync(file, bundle(events));
  const cli = join(
    dirname(fileURLToPath(import.meta.resolve('@octi-sekoia/simulators'))),
    'opencti',
    'cli.ts',
  );
  const sim = startProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      cli,
      '--port',
      '0',
      '--token',
      TOKEN,
      '--stream-id',
      STREAM,
      '--heartbeat-ms',
      '1000',
      '--seed-bundle',
      file,
    ],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  const r = await testRedis('ingest-bench');
  try {
    await sim.waitForOutput(/listening on http/, 120_000);
    const url = /listening on (http\S+)/.exec(sim.output())?.[1] as string;
    const redis = r.connect();
    const queues = createQueues(redis, r.prefix, CONNECTOR_ID);
    const oc = {
      url,
      token: TOKEN,
      streamId: STREAM,
      listenDelete: true,
      noDependencies: true,
      withInferences: false,
      heartbeatTimeoutMs: 45_000,
      backoff: { baseMs: 1000, maxMs: 60_000 }, // the defaults of INGEST_STREAM_BACKOFF_MS / _MAX_MS
    };
    const quiet = { info() {}, warn() {}, error() {} };
    const service = new IngestService({
      redis,
      queues,
      opencti: connectorApi(openCtiClient(oc)),
      openStream: streamOpener(oc),
      metrics: ingestMetrics(new Registry()),
      redact: (t) => t,
      log: quiet,
      settings: {
        keyPrefix: r.prefix,
        connectorId: CONNECTOR_ID,
        connectorName: 'Ingest bench',
        streamId: STREAM,
        scope: ['sekoia'],
        batchSize,
        lingerMs: 50,
        highWatermark: events * 2,
        lowWatermark: events,
        pingIntervalMs: 40_000,
        leaseTtlMs: 15_000,
        pollMs: 1000,
        recoverIsoDate: false,
        normalize: {
          openctiUrl: url,
          descriptionTemplate: '{opencti_url}/dashboard/observations/indicators/{id}',
          validUntilRounding: 'none',
          extractionMode: 'strict',
          maxEventBytes: 5_242_880,
        },
      },
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    service.start();
    await waitFor(async () => (await queues.indicators.count()) >= events, {
      timeoutMs: 600_000,
      intervalMs: 100,
      what: `${events} jobs`,
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const mem = process.memoryUsage();
    await service.stop();
    await queues.close();
    return {
      events,
      batchSize,
      seconds: Math.round(seconds * 100) / 100,
      eventsPerSecond: Math.round(events / seconds),
      cpuCores: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100) / 100,
      eventsPerCpuSecond: Math.round(events / ((cpu.user + cpu.system) / 1e6)),
      rssMb: Math.round(mem.rss / 2 ** 20),
      heapUsedMb: Math.round(mem.heapUsed / 2 ** 20),
      heapTotalMb: Math.round(mem.heapTotal / 2 ** 20),
    };
  } finally {
    sim.kill('SIGTERM');
    await sim.exited;
    await r.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const events = Number(process.argv[2] ?? 50_000);
  const result = await benchIngest({ events });
  console.log(JSON.stringify(result));
  console.log(
    `ingest: ${result.events} indicator events from the simulator into Redis in ${result.seconds} s = ` +
      `${result.eventsPerSecond} events/s (batch ${result.batchSize}, ${result.cpuCores} core busy; ` +
      `${result.eventsPerCpuSecond} events per CPU second = ` +
      `${(result.eventsPerCpuSecond / EVENTS_PER_CPU_SECOND_AIM).toFixed(2)}× the aim of ${EVENTS_PER_CPU_SECOND_AIM}; ` +
      `RSS ${result.rssMb} MB, V8 heap used ${result.heapUsedMb} of ${result.heapTotalMb} MB)`,
  );
}
