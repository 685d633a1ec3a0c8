import { type RedisServer, startRedisServer } from '@octi-sekoia/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, redisEnv } from './helpers.ts';

const PREFIX = 'cli-evicting';
let server: RedisServer;
let client: Redis;
beforeAll(async () => {
  server = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
  client = new Redis(server.url);
});
afterAll(async () => {
  client.disconnect();
  await server.destroy();
});

const WORKER_ENV = {
  SEKOIA_INTEL_URL: 'https://api.sekoia.io',
  SEKOIA_INTEL_APIKEY: 'sk-live-Zq8yT3vN5pLm2WxR7cD4',
  SEKOIA_INTEL_IOC_COLLECTION_UUID: '6f1b7c2d-3e4a-4b5c-8d9e-0f1a2b3c4d5e',
  // probe also acts as ingest (it checks OpenCTI): nothing is contacted before the Redis check refuses.
  OPENCTI_URL: 'http://opencti.invalid:8080',
  OPENCTI_TOKEN: '0b8f7a6e-1c2d-4e3f-9a8b-7c6d5e4f3a2b',
  CONNECTOR_NAME: 'Sekoia',
  CONNECTOR_SCOPE: 'Indicator',
  CONNECTOR_LIVE_STREAM_ID: 'live',
};

describe('the CLI on a Redis that may evict keys', () => {
  it.each([
    [['resync']],
    [['dead-letters', 'replay', '--all']],
    [['dead-letters', 'discard', 'event-1', '--reason', 'x']],
    [['adopt']],
    [['probe', '--collection', '0d7c1e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f']],
  ])(
    '%j (writes) is refused like the apps refuse to start: one line, exit 2, nothing written',
    async (args) => {
      const res = await cli(args, redisEnv({ url: server.url, prefix: PREFIX }, WORKER_ENV));
      expect(res.code).toBe(2);
      expect(res.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(
          /^error: refusing to write: Redis maxmemory-policy is "allkeys-lru".*"noeviction"/,
        ),
      ]);
      expect(await client.keys(`*${PREFIX}*`)).toEqual([]);
    },
  );

  it('status (reads) still answers, and says why it needs attention', async () => {
    const res = await cli(['status', '--no-scan'], redisEnv({ url: server.url, prefix: PREFIX }));
    expect(res.stdout).toMatch(/maxmemory-policy allkeys-lru/);
    expect(res.code).toBe(1);
  });
});
