import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { FaultEngine, type FaultPlan, type FaultResponse, json } from './faults.ts';
import { type ApiResult, SekoiaStore } from './store.ts';
import {
  defaultFaults,
  SEKOIA_ROUTES,
  type SekoiaBehavior,
  type SekoiaCollection,
  type SekoiaFaults,
  type SekoiaRoute,
  type SekoiaSimulatorOptions,
  type SimApiKey,
  type SimCounters,
  type SimIndicatorState,
  type SimTask,
} from './types.ts';

/** Control and inspection handle of a running simulator (the same operations exist over HTTP under /_sim/). */
export interface SekoiaSimControl {
  behavior(): SekoiaBehavior;
  /** Merges the patch into the behaviour switches; returns the result. */
  setBehavior(patch: Partial<SekoiaBehavior>): SekoiaBehavior;
  faults(): SekoiaFaults;
  /** Merges the patch into the fault config and restarts rate-limit, WAF and rule counters. */
  setFaults(patch: Partial<SekoiaFaults>): SekoiaFaults;
  /** Every fault off. */
  resetFaults(): void;
  /** Creates or changes an API key (permissions, revoked, expiresAt on the simulator clock). */
  setKey(key: Partial<SimApiKey> & { key: string }): void;
  revokeKey(key: string): void;
  createCollection(opts?: { id?: string; name?: string }): string;
  /** Deletes a collection (default: the default one); every route under it answers 404 INTHREAT2500. */
  deleteCollection(id?: string): void;
  /** Simulator clock (ms since epoch): runs with real time plus an offset that tests move. */
  now(): number;
  advanceClock(ms: number): number;
  setClock(ms: number): number;
  collection(id?: string): (SekoiaCollection & { deleted: boolean }) | undefined;
  /** Every indicator of a collection, revoked included, with every field. */
  indicators(collectionId?: string): SimIndicatorState[];
  /** Canonical values of the live indicators, sorted, once per live indicator (duplicates show). */
  liveValues(collectionId?: string): string[];
  counters(): SimCounters;
  /** Requests seen for a route (default all), optionally only those answered with `status`. */
  requestCount(route?: SekoiaRoute, status?: number | string): number;
  resetCounters(): void;
  task(id: string): SimTask | undefined;
  tasks(): SimTask[];
  /** Applies every pending text task now. */
  flushTasks(): void;
  /** Drops every indicator and task (keys and collections stay). */
  clearIndicators(): void;
}

export interface SekoiaSimulator {
  /** API base, e.g. http://127.0.0.1:PORT (append /v2/inthreat/ioc-collections or /api/v2/…). */
  url: string;
  /** The default key ('' when `apiKey: null`). */
  apiKey: string;
  /** The default collection ('' when `collectionId: null`). */
  collectionId: string;
  control: SekoiaSimControl;
  close(): Promise<void>;
}

const API_PATH = /^(?:\/api)?\/v2\/inthreat\/ioc-collections(?:\/(.*))?$/;
/** The cursor feed (`store.feedObjects`): `/v2/inthreat/collections/{feed id}/objects`. */
const FEED_PATH = /^(?:\/api)?\/v2\/inthreat\/collections\/([^/]+)\/objects$/;
const MAX_BODY = 10 * 1024 * 1024;

interface Match {
  route: SekoiaRoute;
  exec?: (body: unknown, query: URLSearchParams) => ApiResult;
  needs?: 'view' | 'manage';
  /** 405 instead of 404 when the path exists with another method. */
  methodNotAllowed?: boolean;
}

class BadRequest extends Error {}

export async function startSekoiaSimulator(opts: SekoiaSimulatorOptions = {}): Promise<SekoiaSimulator> {
  const seed = opts.seed ?? 1;
  const store = new SekoiaStore({
    seed,
    behavior: opts.behavior,
    clockStartMs: opts.clockStartMs,
    clockFrozen: opts.clockFrozen,
  });
  store.faults = { ...defaultFaults(), ...opts.faults };
  const engine = new FaultEngine(seed, () => store.faults);
  store.faultRandom = engine.rng;

  const apiKey = opts.apiKey === null ? '' : (opts.apiKey ?? `sim-${store.newUuid()}`);
  if (apiKey) store.upsertKey({ key: apiKey, view: true, manage: true });
  for (const k of opts.keys ?? []) store.upsertKey(k);
  const collectionId = opts.collectionId === null ? '' : store.createCollection({ id: opts.collectionId });

  let counters = emptyCounters();
  const count = (route: SekoiaRoute, status: number | string) => {
    const byStatus = counters[route];
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  };

  const pending = new Map<string, { timer: NodeJS.Timeout; apply: () => void }>();
  const schedule = (task: SimTask, apply: () => void) => {
    const timer = setTimeout(() => {
      pending.delete(task.task_id);
      apply();
    }, store.behavior.textDelayMs);
    pending.set(task.task_id, { timer, apply });
  };

  const matchApi = (method: string, path: string): Match | undefined => {
    const feed = FEED_PATH.exec(path);
    if (feed) {
      if (method !== 'GET') return { route: 'unknown', methodNotAllowed: true };
      let fid: string;
      try {
        fid = decodeURIComponent(feed[1]!);
      } catch {
        return { route: 'unknown' };
      }
      return { route: 'feed-objects', needs: 'view', exec: (_b, q) => store.feedObjects(fid, q) };
    }
    const m = API_PATH.exec(path);
    if (!m) return undefined;
    let seg: string[];
    try {
      seg = (m[1] ?? '')
        .split('/')
        .filter((s) => s !== '')
        .map(decodeURIComponent);
    } catch {
      return { route: 'unknown' };
    }
    const [cid, sub, iid, extra] = seg;
    if (cid === undefined || extra !== undefined) return { route: 'unknown' };
    if (sub === undefined) {
      if (cid === 'count-total-iocs') {
        if (method !== 'GET') return { route: 'unknown', methodNotAllowed: true };
        return { route: 'count-total-iocs', needs: 'view', exec: () => store.countTotalIocs() };
      }
      if (method !== 'GET') return { route: 'unknown', methodNotAllowed: true };
      return { route: 'get-collection', needs: 'view', exec: () => store.getCollection(cid) };
    }
    if (sub !== 'indicators') return { route: 'unknown' };
    if (iid === undefined) {
      if (method === 'GET') {
        return { route: 'list-indicators', needs: 'view', exec: (_b, q) => store.listIndicators(cid, q) };
      }
      if (method === 'POST') {
        return { route: 'create-batch', needs: 'manage', exec: (b) => store.createBatch(cid, b) };
      }
      return { route: 'unknown', methodNotAllowed: true };
    }
    if (iid === 'text' && method === 'POST') {
      return { route: 'import-text', needs: 'manage', exec: (b) => store.importText(cid, b, schedule) };
    }
    if (method === 'DELETE') {
      return { route: 'revoke-indicator', needs: 'manage', exec: (b) => store.revokeIndicator(cid, iid, b) };
    }
    if (method === 'PUT') {
      return { route: 'edit-indicator', needs: 'manage', exec: (b) => store.editIndicator(cid, iid, b) };
    }
    return { route: 'unknown', methodNotAllowed: true };
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, url: URL, match: Match) => {
    const { route } = match;
    const plan: FaultPlan = engine.plan(route);
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch {
      return;
    }
    if (plan.delayMs > 0) await new Promise((r) => setTimeout(r, plan.delayMs));
    if (plan.pre === 'drop') {
      count(route, 'drop-before');
      engine.recordAnswer('drop');
      reset(req.socket);
      return;
    }
    if (plan.pre) {
      count(route, plan.pre.status);
      if (!plan.pre.waf) engine.recordAnswer(plan.pre.status);
      sendRaw(res, plan.pre);
      return;
    }
    let result: ApiResult;
    if (!match.exec) {
      result = match.methodNotAllowed
        ? { status: 405, body: { message: 'Method not allowed' } }
        : { status: 404, body: { message: 'Not found' } };
    } else {
      result = store.authorize(req.headers.authorization, match.needs ?? 'view') ?? execute(match, raw, url);
    }
    const answer: FaultResponse =
      result.contentType === undefined
        ? json(result.status, result.body)
        : { status: result.status, body: String(result.body), contentType: result.contentType, headers: {} };
    engine.recordAnswer(plan.post === 'drop' ? 'drop' : result.status);
    if (plan.post === 'drop') {
      // The request was applied; the client never learns it (exposes duplicate POSTs on retry).
      count(route, 'drop-after');
      reset(req.socket);
      return;
    }
    if (plan.post === 'truncate') {
      count(route, 'truncated');
      const body = Buffer.from(answer.body);
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': body.length });
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => reset(req.socket));
      return;
    }
    count(route, answer.status);
    if (plan.post) {
      const body = Buffer.from(answer.body);
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': body.length });
      const step = Math.max(1, Math.ceil(body.length / 8));
      for (let i = 0; i < body.length; i += step) {
        if (i > 0)
          await new Promise((r) => setTimeout(r, (plan.post as { slowChunkMs: number }).slowChunkMs));
        if (res.destroyed) return;
        res.write(body.subarray(i, i + step));
      }
      res.end();
      return;
    }
    sendRaw(res, answer);
  };

  const execute = (match: Match, raw: Buffer, url: URL): ApiResult => {
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return { status: 400, body: { message: 'Malformed JSON body' } };
      }
    }
    return match.exec!(body, url.searchParams);
  };

  const control: SekoiaSimControl = {
    behavior: () => ({ ...store.behavior }),
    setBehavior: (patch) => {
      store.behavior = { ...store.behavior, ...patch };
      return { ...store.behavior };
    },
    faults: () => structuredClone(store.faults),
    setFaults: (patch) => {
      store.faults = { ...store.faults, ...patch };
      engine.resetState();
      return structuredClone(store.faults);
    },
    resetFaults: () => {
      store.faults = defaultFaults();
      engine.resetState();
    },
    setKey: (key) => {
      store.upsertKey(key);
    },
    revokeKey: (key) => {
      if (store.keys.has(key)) store.upsertKey({ key, revoked: true });
    },
    createCollection: (o) => store.createCollection(o),
    deleteCollection: (id = collectionId) => {
      store.deleteCollection(id);
    },
    now: () => store.now(),
    advanceClock: (ms) => store.advanceClock(ms),
    setClock: (ms) => store.setClock(ms),
    collection: (id = collectionId) => store.collectionState(id),
    indicators: (id = collectionId) => store.indicatorsState(id),
    liveValues: (id = collectionId) => store.liveValues(id),
    counters: () => structuredClone(counters),
    requestCount: (route, status) => {
      let n = 0;
      for (const r of route ? [route] : SEKOIA_ROUTES) {
        for (const [s, c] of Object.entries(counters[r]))
          if (status === undefined || s === String(status)) n += c;
      }
      return n;
    },
    resetCounters: () => {
      counters = emptyCounters();
    },
    task: (id) => {
      const t = store.tasks.get(id);
      return t && structuredClone(t);
    },
    tasks: () => [...store.tasks.values()].map((t) => structuredClone(t)),
    flushTasks: () => {
      for (const [id, p] of [...pending]) {
        clearTimeout(p.timer);
        pending.delete(id);
        p.apply();
      }
    },
    clearIndicators: () => store.clearIndicators(),
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const body = await readJson(req);
    const seg = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .slice(1)
      .map(decodeURIComponent);
    const ok = (b: unknown = { ok: true }) => sendRaw(res, json(200, b));
    const method = req.method ?? 'GET';
    const [what, id, sub] = seg;
    const obj = (body ?? {}) as Record<string, unknown>;
    switch (`${method} ${what ?? ''}${id !== undefined ? '/:id' : ''}${sub !== undefined ? `/${sub}` : ''}`) {
      case 'GET state':
        return ok({
          behavior: control.behavior(),
          faults: control.faults(),
          now: store.now(),
          collections: store.collectionIds().map((c) => store.collectionState(c)),
        });
      case 'GET behavior':
        return ok(control.behavior());
      case 'PATCH behavior':
        return ok(control.setBehavior(obj as Partial<SekoiaBehavior>));
      case 'GET faults':
        return ok(control.faults());
      case 'PATCH faults':
        return ok(control.setFaults(obj as Partial<SekoiaFaults>));
      case 'DELETE faults':
        control.resetFaults();
        return ok(control.faults());
      case 'POST keys':
        if (typeof obj.key !== 'string') throw new BadRequest('"key" is required');
        control.setKey(obj as Partial<SimApiKey> & { key: string });
        return ok();
      case 'POST collections':
        return ok({ id: control.createCollection(obj as { id?: string; name?: string }) });
      case 'GET collections/:id':
        return ok(control.collection(id) ?? null);
      case 'DELETE collections/:id':
        control.deleteCollection(id);
        return ok();
      case 'GET collections/:id/indicators':
        return ok(control.indicators(id));
      case 'GET collections/:id/live-values':
        return ok(control.liveValues(id));
      case 'GET indicators':
        return ok(control.indicators());
      case 'GET live-values':
        return ok(control.liveValues());
      case 'GET counters':
        return ok(control.counters());
      case 'DELETE counters':
        control.resetCounters();
        return ok();
      case 'GET tasks':
        return ok(control.tasks());
      case 'GET tasks/:id':
        return ok(control.task(id!) ?? null);
      case 'POST tasks/:id':
        if (id !== 'flush') break;
        control.flushTasks();
        return ok();
      case 'GET clock':
        return ok({ now: store.now() });
      case 'POST clock':
        if (typeof obj.advanceMs === 'number') control.advanceClock(obj.advanceMs);
        if (typeof obj.nowMs === 'number') control.setClock(obj.nowMs);
        return ok({ now: store.now() });
      case 'POST clear':
        control.clearIndicators();
        return ok();
    }
    sendRaw(res, json(404, { message: 'Unknown control route' }));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const work = url.pathname.startsWith('/_sim/')
      ? handleControl(req, res, url)
      : (async () => {
          const match = matchApi(req.method ?? 'GET', url.pathname);
          if (match) return handleApi(req, res, url, match);
          await readBody(req).catch(() => undefined);
          sendRaw(res, json(404, { message: 'Not found' }));
        })();
    work.catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const status = err instanceof BadRequest ? 400 : 500;
      sendRaw(res, json(status, { message: err instanceof Error ? err.message : 'error' }));
    });
  });
  // Longer than typical client idle timeouts, so keep-alive clients rarely race a server-side close.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const host = opts.host ?? '127.0.0.1';

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    apiKey,
    collectionId,
    control,
    close: async () => {
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function emptyCounters(): SimCounters {
  return Object.fromEntries(SEKOIA_ROUTES.map((r) => [r, {}])) as SimCounters;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new BadRequest('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequest('Malformed JSON body');
  }
}

function sendRaw(res: ServerResponse, r: FaultResponse) {
  const body = Buffer.from(r.body);
  res.writeHead(r.status, { 'content-type': r.contentType, 'content-length': body.length, ...r.headers });
  res.end(body);
}

/** Closes the connection with a TCP reset when the platform allows it (no answer at all). */
function reset(socket: Socket) {
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}
