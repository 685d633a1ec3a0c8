import { jobId } from '@octi-sekoia/model';
import { Registry } from '@octi-sekoia/ops';
import { createQueues } from '@octi-sekoia/queue';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IngestService } from '../src/ingest-service.ts';
import { ingestMetrics } from '../src/metrics.ts';
import { connectorApi, openCtiClient, streamOpener } from '../src/opencti-adapter.ts';
import type { IngestSettings } from '../src/settings.ts';

const CONNECTOR_ID = '7d3c1e8a-2b4f-4c6d-9e0a-1f2b3c4d5e6f';
const silent = { info() {}, warn() {}, error() {} };

let r: TestRedis;
let sim: OpenCtiSimulator;
const services: IngestService[] = [];

beforeEach(async () => {
  r = await testRedis('ingest');
  sim = await startOpenCtiSimulator({ heartbeatMs: 200 });
});
afterEach(async () => {
  while (services.length) await services.pop()!.stop();
  await sim.close();
  await r.cleanup();
});

function makeService(overrides: Partial<IngestSettings> = {}) {
  const redis = r.connect();
  const queues = createQueues(redis, r.prefix, CONNECTOR_ID);
  const oc = {
    url: sim.url,
    token: sim.token,
    streamId: sim.streamId,
    listenDelete: true,
    noDependencies: true,
    withInferences: false,
    heartbeatTimeoutMs: 5000,
    backoff: { baseMs: 1000, maxMs: 60_000 }, // the defaults of INGEST_STREAM_BACKOFF_MS / _MAX_MS
  };
  const service = new IngestService({
    redis,
    queues,
    opencti: connectorApi(openCtiClient(oc)),
    openStream: streamOpener(oc),
    metrics: ingestMetrics(new Registry()),
    redact: (t) => t,
    log: silent,
    settings: {
      keyPrefix: r.prefix,
      connectorId: CONNECTOR_ID,
      connectorName: 'Sekoia test',
      streamId: sim.streamId,
      scope: ['sekoia'],
      batchSize: 50,
      lingerMs: 20,
      highWatermark: 100_000,
      lowWatermark: 1000,
      pingIntervalMs: 300,
      leaseTtlMs: 1500,
      pollMs: 100,
      normalize: {
        openctiUrl: 'http://opencti.example',
        descriptionTemplate: '{opencti_url}/dashboard/observations/indicators/{id}',
        validUntilRounding: 'none',
        extractionMode: 'strict',
        maxEventBytes: 5_000_000,
      },
      ...overrides,
    },
  });
  services.push(service);
  return { service, queues };
}

describe('ingest', () => {
  it('registers, reads the stream into jobs and commits the checkpoint', async () => {
    const refs = Array.from({ length: 120 }, (_, i) =>
      sim.control.createIndicator({ pattern: `[ipv4-addr:value = '198.51.100.${i % 250}']` }),
    );
    const { service, queues } = makeService();
    service.start();
    await waitFor(async () => (await queues.indicators.count()) >= 120, {
      what: '120 jobs',
      timeoutMs: 30_000,
    });
    const jobs = await queues.indicators.getJobs(['waiting', 'active', 'delayed'], 0, -1);
    const ids = new Set(jobs.map((j) => j.id));
    // Recovery on the first run delivers each indicator once; the job ids are generation+event+indicator.
    for (const ref of refs) expect([...ids].some((id) => id?.endsWith(ref.internalId))).toBe(true);
    expect(jobs.every((j) => j.id === jobId(j.data))).toBe(true);
    expect(sim.control.connector({ id: CONNECTOR_ID })?.name).toBe('Sekoia test');
    await waitFor(() => service.checkpoint && service.checkpoint.start_from !== '0-0', {
      what: 'checkpoint',
    });
  });

  it('a connector deleted in OpenCTI (its ping answers ConnectorNotFoundError) is registered again', async () => {
    const { service } = makeService();
    service.start();
    await waitFor(() => sim.control.connector({ id: CONNECTOR_ID }) !== undefined, { what: 'registered' });
    expect(sim.control.removeConnector({ id: CONNECTOR_ID })).toBe(true);
    await waitFor(() => sim.control.connector({ id: CONNECTOR_ID }) !== undefined, {
      what: 'registered again after the deletion',
    });
    expect(sim.control.connector({ id: CONNECTOR_ID })?.name).toBe('Sekoia test');
  });
});
