import { startRedisCluster, startRedisServer, waitFor } from '@octi-sekoia/testkit';
import { Cluster } from 'ioredis';
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

describe('connectRedis with REDIS_CLUSTER_NODES', () => {
  it('connects to a password-protected Redis Cluster from one seed with REDIS_PASSWORD', async () => {
    const cluster = await startRedisCluster({ masters: 3, password: 'cluster-password' });
    try {
      const c = connectRedis({
        url: 'redis://127.0.0.1:6379',
        clusterNodes: [{ host: '127.0.0.1', port: cluster.nodes[0]!.port }],
        password: 'cluster-password',
        tls: false,
      });
      expect(c).toBeInstanceOf(Cluster);
      // Keys in several slots: the other masters were discovered from the one seed.
      const names = Array.from({ length: 20 }, (_, i) => `connect-test:${i}`);
      for (const name of names) await c.set(name, name);
      expect(new Set(await Promise.all(names.map((n) => cluster.masterPortOf(n)))).size).toBe(3);
      for (const name of names) expect(await c.get(name)).toBe(name);
      await c.quit();
      // `lazyConnect` (as `pnpm bench` asks) holds the cluster connection until connect(): it failed with "Redis is
      // already connecting/connected" while the option only reached the node connections.
      const lazy = connectRedis(
        {
          url: 'redis://127.0.0.1:6379',
          clusterNodes: [{ host: '127.0.0.1', port: cluster.nodes[0]!.port }],
          password: 'cluster-password',
          tls: false,
        },
        { lazyConnect: true },
      );
      await lazy.connect();
      expect(await lazy.get(names[0]!)).toBe(names[0]);
      await lazy.quit();
    } finally {
      await cluster.destroy();
    }
  }, 60_000);
});
