import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { listenOn } from './listen.ts';

/** What `/readyz` reports: an app is ready when it can do its job (stream connected, circuit closed …). */
export interface Readiness {
  ready: boolean;
  /** A plain operator message when not ready, e.g. "IOC collection not found: create it in Sekoia.io first". */
  reason?: string;
}

export interface OpsServerOptions {
  port: number;
  host?: string;
  /** The variable that chose the port, named when it is in use (e.g. `WORKER_HTTP_PORT`). */
  portVariable?: string;
  registry?: Registry;
  readiness: () => Readiness;
  /** Extra JSON shown on /healthz (app name, connector id, version). */
  info?: Record<string, unknown>;
}

export interface OpsServer {
  url: string;
  port: number;
  registry: Registry;
  close(): Promise<void>;
}

/**
 * /healthz answers 200 while the process runs (a configuration problem must not cause restart loops);
 * /readyz answers 503 with the reason when the app cannot do its job; /metrics is Prometheus text.
 */
export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const registry = opts.registry ?? new Registry();
  if (!opts.registry) collectDefaultMetrics({ register: registry });
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', ...opts.info }));
    } else if (path === '/readyz') {
      const r = opts.readiness();
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ready: r.ready, ...(r.reason ? { reason: r.reason } : {}) }));
    } else if (path === '/metrics') {
      try {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(body);
      } catch (err) {
        res.writeHead(500).end(String((err as Error).message));
      }
    } else {
      res.writeHead(404).end();
    }
  });
  // A ListenError (port in use, …) names the variable; entry points turn it into exit 2 with `listenOrExit`.
  const port = await listenOn(server, {
    port: opts.port,
    host: opts.host ?? '0.0.0.0',
    portVariable: opts.portVariable ?? 'port',
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
