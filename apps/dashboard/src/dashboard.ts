import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import {
  duplicateClient,
  type RedisClient,
  replayDeadLetter,
  startDeadLetterParker,
} from '@octi-sekoia/queue';
import express, { type Express, type Request, type Response } from 'express';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { basicAuth, securityHeaders } from './auth.ts';
import { type ConnectorView, connectorName, discoverConnectors, openConnector } from './connectors.ts';
import { boardPage, PAGE_CSS, PAGE_CSS_PATH } from './page.ts';
import { redactingResponses } from './redacting-responses.ts';
import { decideRoute, type QueueRole } from './route-guard.ts';

export interface DashboardOptions {
  redis: RedisClient;
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

/** The queue's name in URLs and the API: unique per connector id. */
const label = (connectorId: string) => `${connectorId} · `;
/** What the sidebar shows: the connector's name (as ingest registered it) and the queue's role. */
export const displayNameOf = (connectorName: string, role: QueueRole) =>
  `${connectorName} · ${role === 'indicators' ? 'indicators' : 'dead letters'}`;

/**
 * Bull Board over each connector's `indicators` and `dead-letters` queues, behind authentication, with every
 * route that could remove, rewrite, inject, pause or rate-limit work refused (see route-guard.ts) and "Retry"
 * on a dead letter sent through the dead-letter API (so fencing and the sync engine's dirty set apply).
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
  /** Bull Board queue name → its connector and role. */
  const byQueueName = new Map<string, { view: ConnectorView; role: QueueRole }>();
  const shownNames = new Map<string, string>();

  const addQueues = (view: ConnectorView, connectorName: string) => {
    const id = view.connectorId;
    for (const [queue, role, description] of [
      [view.queues.indicators, 'indicators', 'Indicator jobs from the OpenCTI stream'],
      [
        view.queues.deadLetters,
        'dead-letters',
        'Dead letters: events, jobs and values kept for an operator. Retry sends one back; discarding one is ' +
          'only possible with: pnpm cli dead-letters discard <id> --reason "..."',
      ],
    ] as const) {
      const adapter = new BullMQAdapter(queue, {
        // The UI has no action on indicator jobs that this dashboard allows: it shows them read-only.
        readOnlyMode: opts.readOnly || role === 'indicators',
        // Retries on the main queue would bypass the dead-letter bookkeeping; only dead letters are sent back.
        allowRetries: !opts.readOnly && role === 'dead-letters',
        prefix: label(id),
        displayName: displayNameOf(connectorName, role),
        description,
      });
      // Same name: replaces the adapter in place (a connector whose name became known since).
      board.addQueue(adapter);
      byQueueName.set(`${label(id)}${queue.name}`, { view, role });
    }
    shownNames.set(id, connectorName);
  };

  const refresh = async () => {
    for (const id of await discoverConnectors(opts.redis, opts.keyPrefix, opts.connectorId)) {
      // Ingest records the name it registers in OpenCTI; until then the connector id stands for it.
      const name = (await connectorName(opts.redis, opts.keyPrefix, id)) ?? id;
      const known = views.get(id);
      if (known) {
        if (shownNames.get(id) !== name) addQueues(known, name);
        continue;
      }
      const view = openConnector(opts.redis, opts.keyPrefix, id);
      views.set(id, view);
      // Parks new dead letters in "failed", where Bull Board shows the reason and a Retry button.
      parkers.push(
        startDeadLetterParker(view.queues, duplicateClient(opts.redis), {
          markValueDirty: (value) => opts.markValueDirty(id, value),
        }),
      );
      addQueues(view, name);
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => undefined), opts.discoveryIntervalMs ?? 30_000);
  timer.unref();

  const roleOf = (name: string) => byQueueName.get(name)?.role;

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
    const decision = decideRoute(req.method, req.path, { readOnly: opts.readOnly, roleOf });
    if (!decision.allow) {
      opts.log?.('refused dashboard route', { method: req.method, path: req.path, why: decision.why });
      res.status(403).json({ error: decision.why });
      return;
    }
    if (!decision.action) return next();
    try {
      const view = byQueueName.get(decision.queueName)?.view;
      if (!view) {
        res.status(404).json({ error: 'unknown queue' });
        return;
      }
      const handlers = { markValueDirty: (value: string) => opts.markValueDirty(view.connectorId, value) };
      const ids =
        decision.action === 'replay-dead-letter'
          ? [decision.jobId]
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
  guarded.get(PAGE_CSS_PATH, (_req, res) => {
    res.type('text/css').send(PAGE_CSS);
  });
  // Bull Board renders its page with res.render: serve it without what would reach the internet or run inline.
  guarded.use((_req, res, next) => {
    const render = res.render.bind(res);
    res.render = ((view: string, options?: object) =>
      render(view, options ?? {}, (err: Error | null, html: string) => {
        if (err) return next(err);
        res.type('html').send(boardPage(html));
      })) as typeof res.render;
    next();
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
