/**
 * The dashboard on each Redis topology an operator can configure (README, "Redis topologies"), each started by
 * the test: its real entry point gets only that topology's settings and serves the connector's queues.
 */
import { join } from 'node:path';
import { createQueues, type RedisClient } from '@octi-sekoia/queue';
import {
  jsonLogEntries,
  startEntryPoint,
  startRedisCluster,
  startSentinelSet,
  startTlsRedisServer,
  tempConfigFile,
  waitFor,
} from '@octi-sekoia/testkit';
import { describe, expect, it } from 'vitest';
import { AUTH, basic } from './helpers.ts';

const appDir = join(import.meta.dirname, '..');
const CONNECTOR_ID = '6b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const PREFIX = 'dashboard-topology';

/**
 * Puts a job on the connector's queue through `client`, starts the dashboard with `env`, and returns the body of
 * its Bull Board API once the job shows (and the dashboard's output).
 */
async function dashboardShowsJob(client: RedisClient, env: Record<string, string>) {
  const queues = createQueues(client, PREFIX, CONNECTOR_ID);
  await queues.indicators.add(
    'sweep',
    { kind: 'sweep', generation: 1, eventId: '1-0' },
    { jobId: 'topology-job-1' },
  );
  const { proc } = startEntryPoint(appDir, {
    ...env,
    REDIS_KEY_PREFIX: PREFIX,
    CONNECTOR_ID,
    DASHBOARD_PORT: '0',
    DASHBOARD_HOST: '127.0.0.1',
    CONFIG_FILE: tempConfigFile(`dashboard:\n  username: ${AUTH.username}\n  password: ${AUTH.password}\n`),
  });
  try {
    await proc.waitForOutput(/"msg":"started"/, 90_000);
    const url = String(jsonLogEntries(proc.output()).find((e) => e.msg === 'started')?.url);
    let body = '';
    await waitFor(
      async () => {
        const res = await fetch(
          `${url}api/queues?activeQueue=${encodeURIComponent(`${CONNECTOR_ID} · indicators`)}&status=waiting`,
          {
            headers: { authorization: basic(AUTH.username, AUTH.password) },
          },
        );
        body = await res.text();
        return res.status === 200 && body.includes('topology-job-1');
      },
      { timeoutMs: 30_000, what: "the dashboard's API to list the job" },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${body.slice(0, 500)}`);
    });
    return { body, output: proc.output() };
  } finally {
    proc.kill('SIGTERM');
    await proc.exited;
    await queues.close();
  }
}

describe('the dashboard on every Redis topology', () => {
  it('on a 3-master Redis Cluster', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    try {
      await dashboardShowsJob(cluster.connect(), { REDIS_CLUSTER_NODES: cluster.seeds });
    } finally {
      await cluster.destroy();
    }
  }, 180_000);

  it('behind Sentinel', async () => {
    const set = await startSentinelSet();
    try {
      const r = await set.testRedis('dashboard-sentinel');
      try {
        await dashboardShowsJob(r.client, set.env);
      } finally {
        await r.cleanup();
      }
    } finally {
      await set.destroy();
    }
  }, 180_000);

  it('with TLS and an ACL user: the password reaches neither the log nor Bull Board', async () => {
    const server = await startTlsRedisServer();
    try {
      const r = await server.testRedis('dashboard-tls');
      try {
        const { body, output } = await dashboardShowsJob(r.client, server.env);
        expect(body).not.toContain(server.password);
        expect(output).not.toContain(server.password);
      } finally {
        await r.cleanup();
      }
    } finally {
      await server.destroy();
    }
  }, 180_000);
});
