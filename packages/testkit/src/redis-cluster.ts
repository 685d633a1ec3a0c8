import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePort } from './ports.ts';
import { type ManagedProcess, startProcess } from './process.ts';
import { waitFor } from './wait-for.ts';

const run = promisify(execFile);

export interface ClusterNodeProcess {
  port: number;
  dir: string;
  process: ManagedProcess;
}

export interface RedisCluster {
  /** Every node, masters first as created (`redis-cli --cluster create` makes the first `masters` nodes masters). */
  nodes: ClusterNodeProcess[];
  /** `host:port,…` of every node: the value of REDIS_CLUSTER_NODES. */
  seeds: string;
  /** A new ioredis Cluster connection (closed by destroy()). */
  connect(): Cluster;
  /** The port of the master serving `key`'s slot, as the cluster says now. */
  masterPortOf(key: string): Promise<number>;
  /**
   * Waits until `cluster_state:ok` with every slot served on every live node, and every master serving slots is
   * a live process (after a kill: until its replica has been promoted).
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGKILLs one node (a crash): its replica, if any, is promoted after `cluster-node-timeout`. */
  kill(port: number): Promise<void>;
  /** Stops every node and removes their directories. */
  destroy(): Promise<void>;
}

/** One line of `CLUSTER NODES`. */
interface NodeLine {
  port: number;
  flags: string[];
  slots: string[];
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const f = line.split(' ');
      return {
        port: Number(/:(\d+)@/.exec(f[1] ?? '')?.[1]),
        flags: (f[2] ?? '').split(','),
        slots: f.slice(8),
      };
    });
}

/**
 * A private Redis Cluster of `redis-server` processes on free loopback ports (cluster-enabled, noeviction, no
 * persistence), created with `redis-cli --cluster create … --cluster-yes`: `masters` masters and
 * `replicasPerMaster` replicas of each. `cluster-node-timeout` is short so a killed master's replica takes over
 * within seconds. For tests only; never the machine's shared Redis.
 */
export async function startRedisCluster(
  opts: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number; password?: string } = {},
): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 0;
  const nodes: ClusterNodeProcess[] = [];
  const clients: (Cluster | Redis)[] = [];
  const destroy = async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    for (const n of nodes) n.process.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.process.exited));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };
  try {
    // freePort may hand out a port it handed out a moment ago (it is free again): draw until all differ.
    const taken = new Set<number>();
    const draw = async () => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
      }
    };
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await draw();
      const busPort = await draw();
      const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-test-'));
      const args = [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(opts.nodeTimeoutMs ?? 1_000),
        // Redis 7 waits 5 s before a diskless full sync (for more replicas to join): a replica holds nothing until
        // then and, its link never up, is not promoted when its master is killed (the promotion never came in a CI
        // run). Start-up below waits for every replica's first sync.
        '--repl-diskless-sync-delay',
        '0',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
        ...(opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : []),
      ];
      nodes.push({ port, dir, process: startProcess('redis-server', args) });
    }
    for (const n of nodes) {
      await n.process.waitForOutput(/Ready to accept connections/, 20_000).catch((err: Error) => {
        throw new Error(
          `${err.message}; redis-server on port ${n.port} said: ${n.process.output().slice(-500)}`,
        );
      });
    }
    await run('redis-cli', [
      ...(opts.password ? ['--no-auth-warning', '-a', opts.password] : []),
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
  } catch (err) {
    await destroy();
    throw err;
  }

  const admin = (port: number) => {
    const c = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(opts.password ? { password: opts.password } : {}),
    });
    c.on('error', () => undefined);
    return c;
  };
  const ask = async <T>(port: number, f: (c: Redis) => Promise<T>): Promise<T | undefined> => {
    const c = admin(port);
    try {
      await c.connect();
      return await f(c);
    } catch {
      return undefined;
    } finally {
      c.disconnect();
    }
  };
  const live = () =>
    nodes.filter((n) => n.process.child.exitCode === null && n.process.child.signalCode === null);

  const cluster: RedisCluster = {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    connect() {
      const c = new Cluster(
        nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        {
          redisOptions: { maxRetriesPerRequest: null, ...(opts.password ? { password: opts.password } : {}) },
          retryDelayOnClusterDown: 200,
          maxRedirections: 1_000,
        },
      );
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async masterPortOf(key) {
      for (const n of live()) {
        const port = await ask(n.port, async (c) => {
          const slot = Number(await c.cluster('KEYSLOT', key));
          const lines = parseNodes(String(await c.cluster('NODES')));
          const owner = lines.find(
            (l) =>
              l.flags.includes('master') &&
              !l.flags.includes('fail') &&
              l.slots.some((r) => {
                const [a, b] = r.split('-').map(Number);
                return a !== undefined && slot >= a && slot <= (b ?? a);
              }),
          );
          return owner?.port;
        });
        if (port) return port;
      }
      throw new Error(`no live master serves the slot of ${key}`);
    },
    async waitHealthy(timeoutMs = 30_000) {
      // What the last poll saw, for the timeout message: which node disagreed, and its view of the cluster.
      let seen = '';
      await waitFor(
        async () => {
          const ports = new Set(live().map((n) => n.port));
          for (const n of live()) {
            const info = String((await ask(n.port, (c) => c.cluster('INFO'))) ?? '');
            const view = String((await ask(n.port, (c) => c.cluster('NODES'))) ?? '');
            seen = `node ${n.port}: ${info.match(/cluster_state:\w+/)?.[0] ?? 'no answer'}\n${view}`;
            if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
            const serving = parseNodes(view).filter((l) => l.flags.includes('master') && l.slots.length > 0);
            if (serving.length === 0 || serving.some((l) => !ports.has(l.port) || l.flags.includes('fail')))
              return false;
          }
          return true;
        },
        { timeoutMs, intervalMs: 100, what: 'the Redis Cluster to be ok on every node' },
      ).catch((err: Error) => {
        throw new Error(`${err.message}; last seen: ${seen}`);
      });
    },
    async kill(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no cluster node on port ${port}`);
      n.process.kill('SIGKILL');
      await n.process.exited;
    },
    destroy,
  };
  try {
    await cluster.waitHealthy();
    // Every replica has completed its first sync (a replica whose link is still down holds nothing: promoted, it
    // would lose every write of its master; the failover test killed a master while its replica was so).
    await waitFor(
      async () => {
        for (const n of live()) {
          const info = String((await ask(n.port, (c) => c.info('replication'))) ?? '');
          if (!/role:(master|slave)/.test(info)) return false;
          if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'every cluster replica to complete its first sync' },
    );
  } catch (err) {
    await destroy();
    throw err;
  }
  return cluster;
}
