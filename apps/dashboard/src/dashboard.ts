import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { replayDeadLetter, startDeadLetterParker } from '@octi-sekoia/queue';
import express, { type Express, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { basicAuth, securityHeaders } from './auth.ts';
import { type ConnectorView, discoverConnectors, openConnector } from './connectors.ts';
import { redactingResponses } from './redacting-responses.ts';
import { decideRoute } from './route-guard.ts';

export interface DashboardOptions {
  redis: Redis;
  keyPrefix: string;
  /** The dashboard's own connector (always shown); others registered on the same Redis are discovered. */
  connectorId?: string;
  basePath: string;
  auth: { username: string; password: string } | undefined;
  readOnly: boolean;
  redact: (text: string) => string;
  /** Marks a value dirty for reconcile (kind `value` dead letters): the sync engine's markDirty. */
  markValueDirty: (connectorId: string, value: string) => Promise<void>;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  /** How often newly registered connectors are picked up (ms). */
  discoveryIntervalMs?: number;
  /** Prometheus registry served on /metrics (default process metrics plus dead-letter counts). */
  registry?: Registry;
}

export interface Dashboard {
  app: Express;
  /** Re-reads the registered connectors now. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

const label = (connectorId: string) => `${connectorId} · `;

/**
 * Bull Board over each connector's `indicators` and `dead-letters` queues, behind authentication, with the
 * routes that could inject, edit, pause or rate-limit refused (see route-guard.ts) and "Retry" on a dead
 * letter sent through the dead-letter API (so fencing and the sync engine's dirty set apply).
 */
export async function createDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(opts.basePath === '/' ? '' : opts.basePath);
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'OpenCTI → Sekoia.io' } },
  });
  const views = new Map<string, ConnectorView>();
  const parkers: Array<{ close(): Promise<void> }> = [];
  const byQueueName = new Map<string, ConnectorView>();

  const refresh = async () => {
    for (const id of await discoverConnectors(opts.redis, opts.keyPrefix, opts.connectorId)) {
      if (views.has(id)) continue;
      const view = openConnector(opts.redis, opts.keyPrefix, id);
      views.set(id, view);
      // Parks new dead letters in "failed", where Bull Board shows the reason and a Retry button.
      parkers.push(
        startDeadLetterParker(view.queues, opts.redis.duplicate({ maxRetriesPerRequest: null }), {
          markValueDirty: (value) => opts.markValueDirty(id, value),
        }),
      );
      for (const [queue, description] of [
        [view.queues.indicators, 'Indicator jobs from the OpenCTI stream'],
        [
          view.queues.deadLetters,
          'Dead letters: events, jobs and values kept for an operator. Retry sends one back.',
        ],
      ] as const) {
        const adapter = new BullMQAdapter(queue, {
          readOnlyMode: opts.readOnly,
          // Retries on the main queue would bypass the dead-letter bookkeeping; only dead letters are sent back.
          allowRetries: !opts.readOnly && queue === view.queues.deadLetters,
          prefix: label(id),
          displayName: `${label(id)}${queue.name}`,
          description,
        });
        board.addQueue(adapter);
        byQueueName.set(`${label(id)}${queue.name}`, view);
      }
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => undefined), opts.discoveryIntervalMs ?? 30_000);
  timer.unref();

  const isDeadLetterQueue = (name: string) => {
    const view = byQueueName.get(name);
    return !!view && name === `${label(view.connectorId)}${view.queues.deadLetters.name}`;
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(securityHeaders);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', app: 'dashboard' });
  });
  const registry = opts.registry ?? new Registry();
  if (!opts.registry) collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'dashboard_dead_letters',
    help: 'Dead letters kept, per connector',
    labelNames: ['connector'],
    registers: [registry],
    async collect() {
      for (const view of views.values()) {
        // Parked dead letters are in "failed": count every state an entry can be in.
        const c = await view.queues.deadLetters.getJobCounts('waiting', 'failed', 'delayed', 'active');
        this.set(
          { connector: view.connectorId },
          Object.values(c).reduce((a, b) => a + b, 0),
        );
      }
    },
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });

  const guarded = express.Router();
  if (opts.auth) guarded.use(basicAuth(opts.auth.username, opts.auth.password));
  guarded.use(redactingResponses(opts.redact));
  guarded.use(async (req: Request, res: Response, next) => {
    const decision = decideRoute(req.method, req.path, { readOnly: opts.readOnly, isDeadLetterQueue });
    if (!decision.allow) {
      opts.log?.('refused dashboard route', { method: req.method, path: req.path, why: decision.why });
      res.status(403).json({ error: decision.why });
      return;
    }
    if (!decision.action) return next();
    try {
      const [, , , queueName = '', jobIdOrRetry] = req.path.split('/');
      const view = byQueueName.get(decodeURIComponent(queueName));
      if (!view) {
        res.status(404).json({ error: 'unknown queue' });
        return;
      }
      const handlers = { markValueDirty: (value: string) => opts.markValueDirty(view.connectorId, value) };
      const ids =
        decision.action === 'replay-dead-letter'
          ? [decodeURIComponent(jobIdOrRetry ?? '')]
          : (await view.queues.deadLetters.getJobs(['failed', 'waiting'], 0, -1)).map((j) => j.id ?? '');
      let replayed = 0;
      for (const id of ids.filter(Boolean)) {
        if (await replayDeadLetter(view.queues, id, handlers)) replayed += 1;
      }
      opts.log?.('dead letters sent back', { connectorId: view.connectorId, replayed });
      res.status(204).end();
    } catch (err) {
      res.status(500).json({ error: opts.redact((err as Error).message) });
    }
  });
  const boardApp = serverAdapter.getRouter() as Express;
  boardApp.disable('x-powered-by');
  guarded.use(boardApp);
  app.use(opts.basePath, guarded);

  return {
    app,
    refresh,
    async close() {
      clearInterval(timer);
      await Promise.all(parkers.map((p) => p.close()));
      await Promise.all([...views.values()].map((v) => v.queues.close()));
    },
  };
}
