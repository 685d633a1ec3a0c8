import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type RedisServer,
  startProcess,
  startRedisCluster,
  startRedisServer,
  testRedis,
} from '@octi-sekoia/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoEviction, readMaxmemoryPolicy } from '../src/index.ts';

describe('assertNoEviction', () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const s of servers.splice(0)) await s.destroy();
  });
  const connect = (url: string) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };

  it('accepts the machine Redis (noeviction)', async () => {
    const r = await testRedis('evict');
    try {
      await expect(assertNoEviction(r.client)).resolves.toBeUndefined();
    } finally {
      await r.cleanup();
    }
  });

  it('refuses an evicting Redis with a plain message', async () => {
    const server = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    servers.push(server);
    await expect(assertNoEviction(connect(server.url))).rejects.toThrow(
      /maxmemory-policy is "allkeys-lru": this service needs "noeviction"/,
    );
  });

  it('falls back to INFO memory when CONFIG is renamed away', async () => {
    // rename-command is only accepted from a config file, so this server is started by hand.
    const dir = mkdtempSync(join(tmpdir(), 'redis-noconfig-'));
    const conf = join(dir, 'redis.conf');
    const port = await freePort();
    writeFileSync(
      conf,
      `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsave ""\nmaxmemory-policy volatile-lru\nrename-command CONFIG ""\n`,
    );
    const proc = startProcess('redis-server', [conf]);
    try {
      await proc.waitForOutput(/Ready to accept connections/);
      const c = connect(`redis://127.0.0.1:${port}`);
      await expect(c.config('GET', 'maxmemory-policy')).rejects.toThrow();
      expect(await readMaxmemoryPolicy(c)).toBe('volatile-lru');
      await expect(assertNoEviction(c)).rejects.toThrow(/volatile-lru/);
    } finally {
      proc.kill('SIGKILL');
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('assertNoEviction on a Redis Cluster', () => {
  it('checks every master: one evicting master is named, all noeviction passes', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    try {
      const c = cluster.connect();
      await expect(assertNoEviction(c)).resolves.toBeUndefined();
      // The third master only: a check of one node (the one a command happens to reach) would miss it.
      const third = cluster.nodes[2]!.port;
      const direct = new Redis({ port: third, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      await direct.config('SET', 'maxmemory-policy', 'volatile-lru');
      direct.disconnect();
      await expect(assertNoEviction(c)).rejects.toThrow(
        new RegExp(
          `^Redis cluster master 127\\.0\\.0\\.1:${third} maxmemory-policy is "volatile-lru".*on every master`,
        ),
      );
    } finally {
      await cluster.destroy();
    }
  }, 60_000);
});
