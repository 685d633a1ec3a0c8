import { afterEach, describe, expect, it } from 'vitest';
import { Counter, startOpsServer } from '../src/index.ts';
import type { OpsServer } from '../src/ops-server.ts';

let server: OpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('ops server', () => {
  it('answers /healthz always, /readyz with the reason, /metrics in Prometheus text', async () => {
    let readiness = { ready: false, reason: 'IOC collection not found: create it in Sekoia.io first' };
    server = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      readiness: () => readiness,
      info: { app: 't' },
    });
    const c = new Counter({ name: 'test_things_total', help: 'things', registers: [server.registry] });
    c.inc(3);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', app: 't' });

    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { reason: string }).reason).toMatch(/create it in Sekoia\.io/);

    readiness = { ready: true, reason: '' };
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^test_things_total 3$/m);
    expect(metrics).toMatch(/process_cpu_seconds_total/);
  });

  it('refuses writes and unknown paths', async () => {
    server = await startOpsServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true }) });
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});
