import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ListenError, listenOn, startOpsServer } from '../src/index.ts';
import { listenProblem } from '../src/listen.ts';

const target = {
  port: 9102,
  host: '127.0.0.1',
  portVariable: 'WORKER_HTTP_PORT',
  hostVariable: 'DASHBOARD_HOST',
};
const errno = (code: string) => Object.assign(new Error(code), { code });

describe('listenProblem', () => {
  it.each([
    [
      'EADDRINUSE',
      /^WORKER_HTTP_PORT: port 9102 is already in use on 127\.0\.0\.1 .*or 0 for any free port$/,
    ],
    ['EACCES', /^WORKER_HTTP_PORT: not allowed to listen on 127\.0\.0\.1:9102/],
    ['ENOTFOUND', /^DASHBOARD_HOST: host "127\.0\.0\.1" does not resolve; expected/],
    ['EAI_AGAIN', /^DASHBOARD_HOST: host "127\.0\.0\.1" does not resolve/],
    ['EADDRNOTAVAIL', /^DASHBOARD_HOST: address 127\.0\.0\.1 is not an address of this machine/],
  ])('%s → one line naming the variable', (code, line) => {
    expect(listenProblem(errno(code), target)).toMatch(line);
  });

  it('an unexpected error is not a configuration problem', () => {
    expect(listenProblem(errno('EMFILE'), target)).toBeUndefined();
  });
});

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('listenOn', () => {
  it('a port in use: a ListenError naming the variable, no stack-trace error', async () => {
    const first = createServer();
    servers.push(first);
    const port = await listenOn(first, { ...target, port: 0 });
    const second = createServer();
    servers.push(second);
    const err = await listenOn(second, { ...target, port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ListenError);
    expect((err as Error).message).toMatch(new RegExp(`^WORKER_HTTP_PORT: port ${port} is already in use`));
  });

  it('a host that does not resolve: a ListenError naming the host variable', async () => {
    const server = createServer();
    servers.push(server);
    const err = await listenOn(server, { ...target, port: 0, host: 'no-such-host.invalid' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ListenError);
    expect((err as Error).message).toMatch(/^DASHBOARD_HOST: host "no-such-host\.invalid" does not resolve/);
  });

  it('the ops server names its port variable when the port is taken', async () => {
    const first = await startOpsServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true }) });
    try {
      const err = await startOpsServer({
        port: first.port,
        host: '127.0.0.1',
        portVariable: 'INGEST_HTTP_PORT',
        readiness: () => ({ ready: true }),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ListenError);
      expect((err as Error).message).toMatch(/^INGEST_HTTP_PORT: port \d+ is already in use/);
    } finally {
      await first.close();
    }
  });
});
