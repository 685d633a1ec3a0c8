import { createServer } from 'node:net';
import { join } from 'node:path';
import { connectorsKey, keys } from '@octi-sekoia/queue';
import { type SekoiaSimulator, startSekoiaSimulator } from '@octi-sekoia/simulators';
import {
  jsonLogEntries,
  startEntryPoint,
  startProcess,
  startRedisServer,
  type TestRedis,
  tempConfigFile,
  testRedis,
} from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const appDir = join(import.meta.dirname, '..');
const API_KEY = 'sk-live-Zq8yT3vN5pLm2WxR7cD4';
const CONNECTOR_ID = '4a0d6a3e-5c1b-4f7e-8d2a-9b3c1e5f7a90';

let r: TestRedis;
let sim: SekoiaSimulator;
beforeEach(async () => {
  r = await testRedis('worker-startup');
  sim = await startSekoiaSimulator({ apiKey: API_KEY });
});
afterEach(async () => {
  await sim.close();
  await r.cleanup();
});

/** The real entry point, with only the given environment (nothing inherited but PATH and the test's Redis). */
const start = (env: Record<string, string>) =>
  startEntryPoint(appDir, {
    REDIS_URL: r.url,
    REDIS_KEY_PREFIX: r.prefix,
    WORKER_HTTP_PORT: '0',
    ...env,
  });
const configFile = tempConfigFile;
const entries = jsonLogEntries;

describe('worker start-up', () => {
  it('a broken configuration: one stderr line per problem and exit code 2', async () => {
    const { proc, stderr } = start({
      CONNECTOR_ID,
      SEKOIA_INTEL_URL: 'https://console.changeme.com',
      SEKOIA_INTEL_APIKEY: `Bearer ${API_KEY}`,
      WORKER_CONCURRENCY: '0',
    });
    expect(await proc.exited).toBe(2);
    expect(stderr().trimEnd().split('\n')).toEqual([
      "config error: SEKOIA_INTEL_URL (sekoia_intel.url) is the placeholder 'https://console.changeme.com': expected an http(s) API base such as https://api.sekoia.io",
      expect.stringMatching(
        /^config error: SEKOIA_INTEL_APIKEY \(sekoia_intel\.apikey\) = '\*\*\*' is invalid/,
      ),
      expect.stringMatching(
        /^config error: SEKOIA_INTEL_IOC_COLLECTION_UUID \(sekoia_intel\.ioc_collection_uuid\) is missing/,
      ),
      expect.stringMatching(/^config error: WORKER_CONCURRENCY \(worker\.concurrency\) = '0' is invalid/),
    ]);
    expect(proc.output()).not.toContain(API_KEY);
  });

  it.each([['SIGTERM'], ['SIGINT']] as const)(
    'a valid configuration starts, registers the connector, logs, and exits 0 on %s',
    async (signal) => {
      const { proc } = start({
        CONFIG_FILE: configFile(
          `sekoia_intel:\n  url: ${sim.url}/v2/inthreat/ioc-collections\n  apikey: ${API_KEY}\n`,
        ),
        CONNECTOR_ID,
        SEKOIA_INTEL_IOC_COLLECTION_UUID: sim.collectionId.replace('ioc-collection--', ''),
        OPENCTI_TOKEN: 'ChangeMe',
      });
      await proc.waitForOutput(/"msg":"started"/, 90_000);
      expect(await r.client.smembers(connectorsKey(r.prefix))).toEqual([CONNECTOR_ID]);
      expect(JSON.parse((await r.client.get(keys(r.prefix, CONNECTOR_ID).circuit)) ?? '{}')).toMatchObject({
        state: 'closed',
      });
      proc.kill(signal);
      expect(await proc.exited).toBe(0);
      const logged = entries(proc.output());
      expect(logged.find((e) => e.msg === 'started')).toMatchObject({
        level: 'info',
        name: 'worker',
        connectorId: CONNECTOR_ID,
      });
      expect(logged.find((e) => e.msg === 'shutting down')).toMatchObject({ signal });
      expect(proc.output()).not.toContain(API_KEY);
    },
  );

  it('refuses to start on a Redis that may evict keys: one plain line, exit code 2', async () => {
    const redis = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const { proc } = start({
        REDIS_URL: redis.url,
        CONNECTOR_ID,
        SEKOIA_INTEL_URL: sim.url,
        SEKOIA_INTEL_APIKEY: API_KEY,
        SEKOIA_INTEL_IOC_COLLECTION_UUID: sim.collectionId,
      });
      expect(await proc.exited).toBe(2);
      const fatal = entries(proc.output()).find((e) => e.level === 'fatal');
      expect(fatal).toMatchObject({ msg: 'refusing to start' });
      expect(String(fatal?.err)).toMatch(/maxmemory-policy is "allkeys-lru".*noeviction/);
      expect(proc.output()).not.toContain('"msg":"started"');
    } finally {
      await redis.destroy();
    }
  });
  it('a metrics port already taken (a second worker on one host): one line naming WORKER_HTTP_PORT, exit 2', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const { proc, stderr } = start({
        CONNECTOR_ID,
        SEKOIA_INTEL_URL: sim.url,
        SEKOIA_INTEL_APIKEY: API_KEY,
        SEKOIA_INTEL_IOC_COLLECTION_UUID: sim.collectionId,
        WORKER_HTTP_PORT: String(port),
      });
      expect(await proc.exited).toBe(2);
      expect(stderr().trimEnd().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^config error: WORKER_HTTP_PORT: port ${port} is already in use`)),
      ]);
      expect(proc.output()).not.toMatch(/EADDRINUSE|\n\s+at /);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
