import { startRedisServer, waitFor } from '@octi-sekoia/testkit';
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
      const errors: string[] = [];
      bad.on('error', (e: Error) => errors.push(e.message));
      await expect(bad.connect().then(() => bad.ping())).rejects.toThrow();
      await waitFor(() => errors.some((m) => /WRONGPASS/.test(m)), { what: 'the WRONGPASS error' });
      bad.disconnect();
    } finally {
      await server.destroy();
    }
  });
});
