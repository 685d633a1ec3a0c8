import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type RedisServer, startProcess, startRedisServer, testRedis } from '@octi-sekoia/testkit';
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
