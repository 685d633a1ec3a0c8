import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';
import { type ManagedProcess, startProcess } from './process.ts';
import type { TestRedis } from './redis.ts';

const run = promisify(execFile);

export interface TlsRedisServer {
  port: number;
  /** `rediss://127.0.0.1:<port>` (no credentials in it: they are REDIS_USERNAME / REDIS_PASSWORD). */
  url: string;
  /** PEM of the CA that signed the server's certificate (REDIS_TLS_CA_FILE). */
  caFile: string;
  /** PEM of another CA, which did not sign it (a wrong REDIS_TLS_CA_FILE). */
  otherCaFile: string;
  /** The ACL user the apps log in as (`default` is off: nothing gets in without it). */
  username: string;
  password: string;
  /** The apps' settings for this server: REDIS_URL, REDIS_TLS_CA_FILE, REDIS_USERNAME, REDIS_PASSWORD. */
  env: Record<string, string>;
  process: ManagedProcess;
  /** A TestRedis on this server (TLS, the ACL user) under its own prefix; the apps' settings in `env`. */
  testRedis(label?: string): Promise<TestRedis>;
  /** Stops the server and removes its directory (certificates included). */
  destroy(): Promise<void>;
}

/** A CA (key + self-signed certificate) in `dir`, as `<name>.key` / `<name>.crt`. */
async function makeCa(dir: string, name: string): Promise<string> {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  await run(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'].concat([
      '-keyout',
      key,
      '-out',
      crt,
      '-subj',
      `/CN=${name}`,
    ]),
  );
  return crt;
}

/**
 * A private `redis-server` that speaks TLS only (`--port 0 --tls-port`), with certificates made by openssl in
 * a fresh directory (a CA, and a server certificate for 127.0.0.1 signed by it), and one ACL user with a random
 * password; the `default` user is off. Clients need not present a certificate (`tls-auth-clients no`): what an
 * operator's managed Redis with TLS + ACL asks of the apps. For tests only.
 */
export async function startTlsRedisServer(
  opts: { username?: string; password?: string } = {},
): Promise<TlsRedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-tls-test-'));
  const username = opts.username ?? 'octi-app';
  const password = opts.password ?? `pw-${randomBytes(12).toString('hex')}`;
  let proc: ManagedProcess | undefined;
  try {
    const caFile = await makeCa(dir, 'ca');
    const otherCaFile = await makeCa(dir, 'other-ca');
    const key = join(dir, 'server.key');
    const csr = join(dir, 'server.csr');
    const crt = join(dir, 'server.crt');
    const ext = join(dir, 'server.ext');
    await run('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      '/CN=127.0.0.1',
    ]);
    await run('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > '${ext}'`]);
    await run(
      'openssl',
      ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', join(dir, 'ca.key')].concat([
        '-CAcreateserial',
        '-out',
        crt,
        '-days',
        '2',
        '-extfile',
        ext,
      ]),
    );
    const port = await freePort();
    proc = startProcess('redis-server', [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      crt,
      '--tls-key-file',
      key,
      '--tls-ca-cert-file',
      caFile,
      '--tls-auth-clients',
      'no',
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      // Each word of a directive is its own argument (`--user default off`).
      '--user',
      'default',
      'off',
      '--user',
      username,
      'on',
      `>${password}`,
      '~*',
      '&*',
      '+@all',
    ]);
    await proc.waitForOutput(/Ready to accept connections/, 20_000).catch((err: Error) => {
      throw new Error(`${err.message}; redis-server (TLS) said: ${proc?.output().slice(-500)}`);
    });
    const url = `rediss://127.0.0.1:${port}`;
    const env = {
      REDIS_URL: url,
      REDIS_TLS_CA_FILE: caFile,
      REDIS_USERNAME: username,
      REDIS_PASSWORD: password,
    };
    const ca = readFileSync(caFile);
    const p = proc;
    return {
      port,
      url,
      caFile,
      otherCaFile,
      username,
      password,
      env,
      process: p,
      async testRedis(label = 'tls') {
        const prefix = `test:${label}:${randomBytes(4).toString('hex')}`;
        const clients: Redis[] = [];
        const connect = () => {
          const c = new Redis(port, '127.0.0.1', {
            tls: { ca },
            username,
            password,
            maxRetriesPerRequest: null,
          });
          c.on('error', () => undefined);
          clients.push(c);
          return c;
        };
        const client = connect();
        await client.ping();
        return {
          prefix,
          url,
          env,
          client,
          connect,
          // The server is the test's own, destroyed with everything on it.
          alsoForget: () => undefined,
          async cleanup() {
            await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
          },
        };
      },
      async destroy() {
        p.kill('SIGKILL');
        await p.exited;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
