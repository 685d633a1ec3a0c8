import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';
import { type ManagedProcess, startProcess } from './process.ts';
import type { TestRedis } from './redis.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { waitFor } from './wait-for.ts';

export interface SentinelSet {
  /** The master group name the sentinels monitor. */
  masterName: string;
  sentinels: { host: string; port: number }[];
  /** The apps' settings for this set: REDIS_SENTINELS, REDIS_SENTINEL_MASTER (and the password when given). */
  env: Record<string, string>;
  /** The two data servers; which one is the master changes with each failover. */
  servers: RedisServer[];
  /** Port of the current master, as the sentinels say. */
  masterPort(): Promise<number>;
  /** A plain connection to the current master (for the test's own checks). */
  master(): Promise<Redis>;
  /**
   * `SENTINEL FAILOVER`: promotes the replica. Resolves when every sentinel names the new master, the new master
   * says it is one and the old one has become its replica.
   */
  failover(): Promise<{ from: number; to: number }>;
  /**
   * A TestRedis through the sentinels (connections follow failovers, as the apps' do); `env` is this set's
   * settings, `url` is empty (there is no one URL).
   */
  testRedis(label?: string): Promise<TestRedis>;
  /** Stops the sentinels and both servers, removes their directories. */
  destroy(): Promise<void>;
}

function raw(port: number, password?: string): Redis {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    maxRetriesPerRequest: 1,
    ...(password ? { password } : {}),
  });
  // Refused connections while a server starts or switches roles are expected: commands report them.
  c.on('error', () => {});
  return c;
}

/**
 * One primary, one replica and three sentinels (`redis-server file.conf --sentinel`) on free loopback ports, for
 * tests of the Sentinel topology (README, "Redis topologies"). Quorum 2, down-after 1 s: a killed master is
 * replaced within seconds; `failover()` forces a switch at a moment the test chooses.
 */
export async function startSentinelSet(opts: { password?: string } = {}): Promise<SentinelSet> {
  const masterName = 'octi-test-master';
  const auth = opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : [];
  const primary = await startRedisServer({ extraArgs: auth });
  const replica = await startRedisServer({
    extraArgs: [...auth, '--replicaof', '127.0.0.1', String(primary.port)],
  });
  const servers = [primary, replica];
  const dir = mkdtempSync(join(tmpdir(), 'redis-sentinel-test-'));
  const sentinelProcs: ManagedProcess[] = [];
  const sentinels: { host: string; port: number }[] = [];
  const clients: Redis[] = [];
  try {
    const primaryClient = raw(primary.port, opts.password);
    clients.push(primaryClient);
    await waitFor(
      async () => {
        const info = await primaryClient.info('replication');
        return /^connected_slaves:1/m.test(info) && /slave0:.*state=online/m.test(info);
      },
      { what: 'the replica to sync with the primary' },
    );
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(opts.password ? [`sentinel auth-pass ${masterName} ${opts.password}`] : []),
          '',
        ].join('\n'),
      );
      sentinelProcs.push(startProcess('redis-server', [conf, '--sentinel']));
      sentinels.push({ host: '127.0.0.1', port });
    }
    for (const s of sentinels) {
      const c = raw(s.port);
      clients.push(c);
      // A forced failover needs a known replica; the sentinels find each other through the master's hello channel.
      await waitFor(
        async () => {
          const replicas = (await c.call('SENTINEL', 'REPLICAS', masterName)) as unknown[];
          const peers = (await c.call('SENTINEL', 'SENTINELS', masterName)) as unknown[];
          return replicas.length === 1 && peers.length === 2;
        },
        { what: `sentinel ${s.port} to know the replica and its two peers`, timeoutMs: 30_000 },
      );
    }
  } catch (err) {
    for (const c of clients) c.disconnect();
    for (const p of sentinelProcs) p.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.destroy()));
    throw err;
  }
  const sentinelClients = clients.slice(1);
  clients[0]?.disconnect();

  const masterPort = async () => {
    const [, port] = (await sentinelClients[0]!.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [
      string,
      string,
    ];
    return Number(port);
  };
  const role = async (port: number) => {
    const c = raw(port, opts.password);
    try {
      return ((await c.call('ROLE')) as [string, ...unknown[]])[0];
    } finally {
      c.disconnect();
    }
  };

  const env = {
    REDIS_SENTINELS: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
    REDIS_SENTINEL_MASTER: masterName,
    ...(opts.password ? { REDIS_PASSWORD: opts.password } : {}),
  };
  return {
    masterName,
    sentinels,
    env,
    servers,
    masterPort,
    async master() {
      return raw(await masterPort(), opts.password);
    },
    async failover() {
      const from = await masterPort();
      const to = servers.find((s) => s.port !== from)!.port;
      // Right after a failover the sentinels may not yet see the demoted master as a good replica (its link to the
      // new master or their INFO of it not yet fresh): SENTINEL FAILOVER then answers NOGOODSLAVE (seen on a loaded
      // machine); ask again until it is accepted.
      await waitFor(
        async () => {
          try {
            await sentinelClients[0]!.call('SENTINEL', 'FAILOVER', masterName);
            return true;
          } catch (err) {
            if (/NOGOODSLAVE|INPROG/.test(String(err))) return false;
            throw err;
          }
        },
        {
          what: `a sentinel to accept SENTINEL FAILOVER of ${masterName}`,
          timeoutMs: 60_000,
          intervalMs: 250,
        },
      );
      await waitFor(
        async () => {
          for (const c of sentinelClients) {
            const [, port] = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [
              string,
              string,
            ];
            if (Number(port) !== to) return false;
          }
          return (await role(to)) === 'master' && (await role(from)) === 'slave';
        },
        { what: `the failover from ${from} to ${to}`, timeoutMs: 30_000 },
      );
      return { from, to };
    },
    async testRedis(label = 'sentinel') {
      const clients: Redis[] = [];
      const connect = () => {
        const c = new Redis({
          sentinels,
          name: masterName,
          maxRetriesPerRequest: null,
          ...(opts.password ? { password: opts.password } : {}),
          // A write that reached a demoted master: reconnect (to the new one) and resend, as the apps do.
          reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
        });
        c.on('error', () => {});
        clients.push(c);
        return c;
      };
      const client = connect();
      await client.ping();
      const forgets: ((client: Redis, prefix: string) => Promise<unknown>)[] = [];
      const prefix = `test:${label}:${Math.random().toString(16).slice(2, 10)}`;
      return {
        prefix,
        url: '',
        env,
        client,
        connect,
        alsoForget: (forget) => forgets.push(forget),
        async cleanup() {
          // The whole set (and every key on it) is destroyed after the test: the forgets, then the connections.
          for (const forget of forgets) await forget(client, prefix).catch(() => undefined);
          await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
        },
      };
    },
    async destroy() {
      for (const c of sentinelClients) c.disconnect();
      for (const p of sentinelProcs) p.kill('SIGKILL');
      await Promise.all(sentinelProcs.map((p) => p.exited));
      await Promise.all(servers.map((s) => s.destroy()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
