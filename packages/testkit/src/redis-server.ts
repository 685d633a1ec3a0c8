import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { type ManagedProcess, startProcess } from './process.ts';
import { waitFor } from './wait-for.ts';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ManagedProcess;
  /** Stops the server (SIGKILL simulates a crash) and keeps its data directory. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops it and removes the data directory. */
  destroy(): Promise<void>;
}

/**
 * A private `redis-server` for tests that must kill or restart Redis (never the machine's shared one).
 * `appendonly` controls persistence across restarts.
 */
export async function startRedisServer(opts: { appendonly?: boolean; extraArgs?: string[] } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    opts.appendonly ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
    ...(opts.extraArgs ?? []),
  ];
  const url = `redis://127.0.0.1:${port}`;
  const boot = async () => {
    const proc = startProcess('redis-server', args);
    await waitFor(
      // A raw PING: any Redis reply (PONG, or NOAUTH from a server with requirepass) means it is up.
      () =>
        new Promise<boolean>((resolve) => {
          const sock = connect(port, '127.0.0.1');
          sock.on('connect', () => sock.write('PING\r\n'));
          sock.on('data', (d) => {
            resolve(/^(\+PONG|-NOAUTH)/.test(d.toString()));
            sock.destroy();
          });
          sock.on('error', () => resolve(false));
        }),
      { what: `redis-server on port ${port}` },
    );
    return proc;
  };
  const server: RedisServer = {
    url,
    port,
    dir,
    process: await boot(),
    async stop(signal = 'SIGTERM') {
      server.process.kill(signal);
      await server.process.exited;
    },
    async restart() {
      server.process = await boot();
    },
    async destroy() {
      await server.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
