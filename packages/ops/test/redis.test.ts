import { startRedisServer } from '@octi-sekoia/testkit';
import { describe, expect, it } from 'vitest';
import { connectRedis } from '../src/index.ts';

describe('connectRedis', () => {
  it('uses REDIS_PASSWORD over the URL and fails plainly with a wrong one', async () => {
    const server = await startRedisServer({ extraArgs: ['--requirepass', 'the-right-password'] });
    try {
      const ok = connectRedis({
        url: `redis://:wrong@127.0.0.1:${server.port}`,
        password: 'the-right-password',
        tls: false,
      });
      expect(await ok.ping()).toBe('PONG');
      ok.disconnect();
      const bad = connectRedis(
        { url: server.url, password: 'nope-nope', tls: false },
        { retryStrategy: () => null, lazyConnect: true, maxRetriesPerRequest: 0 },
      );
      await expect(bad.connect().then(() => bad.ping())).rejects.toThrow(/WRONGPASS|invalid|NOAUTH/i);
      bad.disconnect();
    } finally {
      await server.destroy();
    }
  });
});
