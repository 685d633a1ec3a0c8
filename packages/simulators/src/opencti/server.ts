/**
 * The OpenCTI simulator: HTTP server (GraphQL, live streams, `/_sim` control API) and the in-process control
 * handle. Start it with `startOpenCtiSimulator()`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { compileFilter, type StreamFilter, type StreamPredicate } from './filter.ts';
import {
  ALL_CAPABILITIES,
  type Capability,
  type GraphqlHost,
  type GraphqlUser,
  handleGraphql,
  resetConnector,
  type SimConnector,
} from './graphql.ts';
import { parameterToStreamId, type StreamId } from './ids.ts';
import {
  type ConnectionInfo,
  type CutOptions,
  DEFAULT_SWITCHES,
  maskHeaders,
  type OpenCtiSimSwitches,
  SseConnection,
  type SseHost,
} from './sse.ts';
import { ADMIN_USER_ID, type IndicatorInput, type StixObject } from './stix.ts';
import { seededUuids } from './uuid.ts';
import { type Entity, type IndicatorRef, type Origin, type StreamInfo, World } from './world.ts';

export interface OpenCtiSimulatorOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** API token with every capability. Default: a random UUID. */
  token?: string;
  /** Id of the live stream created at start. Default: a random UUID. */
  streamId?: string;
  /** Filters of that stream. Default `{ entityTypes: ['Indicator'] }` (the usual Sekoia stream). */
  streamFilter?: StreamFilter | StreamPredicate;
  /** `about { version }`. Default 6.8.10. */
  version?: string;
  /** Heartbeat period (OpenCTI `app:live_stream:heartbeat_period`). Default 5000. */
  heartbeatMs?: number;
  /** Idle time after which the server's blocking read yields a synthetic `<now>-0` id. Default = heartbeatMs. */
  idleReadMs?: number;
  /** Seed of the internal-id generator (same seed, same ids). Default 1. */
  seed?: number;
  /** Clock (ms). Default Date.now. */
  now?: () => number;
  /**
   * The platform's clock minus the clock of the process under test (ms, either sign): stream ids, timestamps
   * and synthetic heartbeat ids all come from `now() + clockSkewMs`. Default 0.
   */
  clockSkewMs?: number;
  /**
   * A slow recovery: the listing pauses this long after each listed object (OpenCTI reads the database page by
   * page; heartbeats go on meanwhile, carrying the last listed id). Default 0.
   */
  recoveryItemDelayMs?: number;
  /** Keep at most this many events (Redis trimming). Default unlimited. */
  retain?: number;
  switches?: Partial<OpenCtiSimSwitches>;
  /** `origin` of live envelopes (the author's context). */
  origin?: Origin;
}

export interface OpenCtiSimulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (OPENCTI_URL). */
  url: string;
  token: string;
  streamId: string;
  control: OpenCtiSimControl;
  close(): Promise<void>;
}

interface SimStream {
  id: string;
  filterSpec: StreamFilter | StreamPredicate | undefined;
  filter: StreamPredicate;
  live: boolean;
  public: boolean;
}

interface SimToken {
  userId: string;
  capabilities: Capability[];
  revoked: boolean;
}

interface ForcedFailure {
  /** HTTP status, or 'reset' to destroy the socket without an answer. */
  status: number | 'reset';
  statusMessage?: string;
  body?: string;
  remaining: number;
  target: 'stream' | 'graphql' | 'all';
}

export interface ConnectionAttempt {
  at: string;
  streamId: string | null;
  status: number | 'reset';
  statusMessage: string;
  /** Request headers, `authorization` masked. */
  headers: Record<string, string>;
  url: string;
  connectionId?: string;
}

export interface GraphqlRequestRecord {
  at: string;
  fields: string[];
  headers: Record<string, string>;
  variables: unknown;
  errors: string[];
}

export interface IndicatorView {
  internalId: string;
  stixId: string;
  deleted: boolean;
  revoked: boolean;
  stix: StixObject;
}

const MAX_LOG = 2000;
const DEFAULT_FILTER: StreamFilter = { entityTypes: ['Indicator'] };

function pushBounded<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_LOG) list.splice(0, list.length - MAX_LOG);
}

/** The in-process control handle (the same operations are served at `POST /_sim/<method>` with a JSON body). */
export class OpenCtiSimControl {
  /** @internal */
  constructor(private readonly sim: SimulatorCore) {}

  // ---- data ----
  /** Creates an indicator (one `create` event). */
  createIndicator(input: IndicatorInput): IndicatorRef {
    return this.sim.world.createIndicator(input);
  }
  /** Changes top-level fields (`set`/`unset`) and/or OpenCTI extension fields; `set.pattern` = changePattern. */
  updateIndicator(input: Parameters<World['updateIndicator']>[0]): IndicatorRef {
    return this.sim.world.updateIndicator(input);
  }
  /** New pattern → new STIX id (same internal id), or a merge into the indicator that already has that id. */
  changePattern(input: Parameters<World['changePattern']>[0]): IndicatorRef {
    return this.sim.world.changePattern(input);
  }
  revokeIndicator(input: { internalId: string; at?: string }): IndicatorRef {
    return this.sim.world.setRevoked({ ...input, revoked: true });
  }
  unrevokeIndicator(input: { internalId: string; at?: string }): IndicatorRef {
    return this.sim.world.setRevoked({ ...input, revoked: false });
  }
  /** Deletes an indicator or any object (its relationships first). */
  deleteIndicator(input: { internalId: string; at?: string }): IndicatorRef {
    return this.sim.world.deleteObject(input);
  }
  mergeIndicators(input: { targetId: string; sourceIds: string[]; at?: string }): IndicatorRef {
    return this.sim.world.merge(input);
  }
  /** Any other STIX object (identity, marking, relationship, malware…), one `create`. */
  addObject(input: { object: Record<string, unknown>; at?: string; internalId?: string }) {
    return this.sim.world.addObject(input);
  }
  /** Imports a STIX bundle (object or array) as OpenCTI would: one `create` per object. */
  loadBundle(input: { bundle: unknown; at?: string }): { indicators: IndicatorRef[]; objects: number } {
    return this.sim.world.loadBundle(input);
  }
  loadBundleFile(input: { path: string; at?: string }): { indicators: IndicatorRef[]; objects: number } {
    return this.sim.world.loadBundle({ bundle: JSON.parse(readFileSync(input.path, 'utf8')), at: input.at });
  }
  /** Appends a raw event, delivered verbatim to every connection (no filters). `data` may be a string. */
  appendEvent(input: { event: string; data: unknown; id?: string; noId?: boolean }): { id: string } {
    return { id: this.sim.world.appendRaw(input).id };
  }
  getObject(input: { internalId: string }): StixObject | undefined {
    return this.sim.world.get(input.internalId)?.stix;
  }
  listIndicators(): IndicatorView[] {
    const out: IndicatorView[] = [];
    for (const e of this.sim.world.objects()) {
      if (e.stix.type !== 'indicator') continue;
      out.push(view(e));
    }
    return out;
  }
  /** Retained events, lightweight (`after` exclusive). */
  events(
    input: { after?: string } = {},
  ): Array<{ id: string; event: string; type?: string; stixId?: string }> {
    const world = this.sim.world;
    const after = input.after ? parameterToStreamId(input.after) : undefined;
    const from = after && after !== 'invalid' ? world.indexAfter(after) : 0;
    return world
      .entries()
      .slice(from)
      .map((e) => ({ id: e.id, event: e.event, type: e.envelope?.type, stixId: e.envelope?.data.id }));
  }
  streamInfo(): StreamInfo {
    return this.sim.world.info();
  }
  /** Every retained event with its `data:` payload (what a client reading from 0-0 without recovery gets). */
  entries(): ReadonlyArray<{ id: string; event: string; payload: string; noId?: boolean }> {
    return this.sim.world.entries();
  }

  // ---- streams ----
  /** Redis XTRIM: keep the last `maxLength` events and/or drop ids below `minId`; firstEventId advances. */
  trim(input: { maxLength?: number; minId?: string }): StreamInfo {
    return this.sim.world.trim(input);
  }
  /** `stream_live=false`: open connections end (clean EOF), new ones get 410. */
  stopStream(input: { streamId?: string } = {}): void {
    const s = this.sim.stream(input.streamId);
    s.live = false;
    this.sim.endConnections(s.id);
  }
  startStream(input: { streamId?: string } = {}): void {
    this.sim.stream(input.streamId).live = true;
  }
  /** Deleted stream: open connections end, new ones get 401 (not 404, like OpenCTI). */
  deleteStream(input: { streamId?: string } = {}): void {
    const s = this.sim.stream(input.streamId);
    this.sim.streams.delete(s.id);
    this.sim.endConnections(s.id);
  }
  createStream(input: { id?: string; filter?: StreamFilter; public?: boolean } = {}): { id: string } {
    const id = input.id ?? randomUUID();
    this.sim.streams.set(id, {
      id,
      filterSpec: input.filter,
      filter: compileFilter(input.filter),
      live: true,
      public: input.public ?? false,
    });
    return { id };
  }
  setStreamFilter(input: { streamId?: string; filter: StreamFilter | StreamPredicate | null }): void {
    const s = this.sim.stream(input.streamId);
    s.filterSpec = input.filter ?? undefined;
    s.filter = compileFilter(input.filter ?? undefined);
  }

  // ---- faults ----
  /** Cuts the open stream connections; returns how many were cut (or armed, for mid-message). */
  cutConnections(input: CutOptions & { streamId?: string } = { mode: 'destroy' }): number {
    let n = 0;
    for (const c of [...this.sim.connections]) {
      if (input.streamId && c.params.streamId !== input.streamId) continue;
      c.cut(input);
      n++;
    }
    return n;
  }
  /** The next `count` (default 1) requests get this status with an empty body (or a reset socket). */
  failNextConnections(input: {
    status: number | 'reset';
    statusMessage?: string;
    body?: string;
    count?: number;
    target?: 'stream' | 'graphql' | 'all';
  }): void {
    this.sim.failures.push({
      status: input.status,
      statusMessage: input.statusMessage,
      body: input.body,
      remaining: input.count ?? 1,
      target: input.target ?? 'stream',
    });
  }
  clearFailures(): void {
    this.sim.failures.length = 0;
  }
  /** Silent connections: no heartbeat at all while paused. */
  pauseHeartbeats(input: { paused: boolean } = { paused: true }): void {
    this.sim.switches.heartbeatsPaused = input.paused;
  }
  /** [7.x] `event: error` on every open connection, then the response ends. */
  sendErrorEvent(input: { message?: string } = {}): number {
    let n = 0;
    for (const c of [...this.sim.connections]) {
      c.inject(
        undefined,
        'error',
        JSON.stringify({ stream: c.params.streamId, message: input.message ?? 'Simulated stream error' }),
      );
      c.terminate('end');
      n++;
    }
    return n;
  }
  /** Writes a frame to every open connection now (not stored in the stream). */
  broadcast(input: { event: string; data: unknown; id?: string }): number {
    const payload = typeof input.data === 'string' ? input.data : JSON.stringify(input.data);
    let n = 0;
    for (const c of this.sim.connections) {
      c.inject(input.id, input.event, payload);
      n++;
    }
    return n;
  }
  setSwitches(input: Partial<OpenCtiSimSwitches>): OpenCtiSimSwitches {
    Object.assign(this.sim.switches, input);
    return { ...this.sim.switches };
  }

  // ---- auth ----
  /** The token is refused from now on (401 on connect, AUTH_REQUIRED in GraphQL); open streams stay open. */
  revokeToken(input: { token?: string } = {}): void {
    this.sim.tokenRecord(input.token).revoked = true;
  }
  restoreToken(input: { token?: string } = {}): void {
    this.sim.tokenRecord(input.token).revoked = false;
  }
  addToken(input: { token: string; capabilities?: Capability[] }): void {
    this.sim.tokens.set(input.token, {
      userId: randomUUID(),
      capabilities: input.capabilities ?? [...ALL_CAPABILITIES],
      revoked: false,
    });
  }

  // ---- connectors ----
  /** What the UI reset does: state "", reset flag set (consumed by the next ping). */
  resetConnectorState(input: { id: string }): SimConnector {
    const c = this.sim.connectors.get(input.id);
    if (!c) throw new Error(`no connector ${input.id}`);
    resetConnector(c, new Date(this.sim.now()).toISOString());
    return structuredClone(c);
  }
  connectors(): SimConnector[] {
    return [...this.sim.connectors.values()].map((c) => structuredClone(c));
  }
  connector(input: { id: string }): SimConnector | undefined {
    const c = this.sim.connectors.get(input.id);
    return c ? structuredClone(c) : undefined;
  }
  /** Removes a connector as if deleted in the UI (its next ping gets FUNCTIONAL_ERROR). */
  removeConnector(input: { id: string }): boolean {
    return this.sim.connectors.delete(input.id);
  }

  // ---- inspection ----
  /** Open stream connections. */
  connections(): ConnectionInfo[] {
    return [...this.sim.connections].map((c) => c.describe());
  }
  /** Every stream request so far (newest last, bounded), with its answer. */
  connectionLog(): ConnectionAttempt[] {
    return [...this.sim.attempts];
  }
  /** Every GraphQL request so far (newest last, bounded). */
  graphqlLog(): GraphqlRequestRecord[] {
    return [...this.sim.graphqlRequests];
  }
  switches(): OpenCtiSimSwitches {
    return { ...this.sim.switches };
  }
}

function view(e: Entity): IndicatorView {
  return {
    internalId: e.internalId,
    stixId: e.stix.id,
    deleted: e.deleted,
    revoked: e.stix.revoked === true,
    stix: e.stix,
  };
}

const CONTROL_METHODS = new Set(
  Object.getOwnPropertyNames(OpenCtiSimControl.prototype).filter((m) => m !== 'constructor'),
);

class SimulatorCore implements SseHost, GraphqlHost {
  readonly world: World;
  readonly switches: OpenCtiSimSwitches;
  readonly heartbeatMs: number;
  readonly idleReadMs: number;
  readonly version: string;
  readonly streams = new Map<string, SimStream>();
  readonly tokens = new Map<string, SimToken>();
  readonly connectors = new Map<string, SimConnector>();
  readonly connections = new Set<SseConnection>();
  readonly failures: ForcedFailure[] = [];
  readonly attempts: ConnectionAttempt[] = [];
  readonly graphqlRequests: GraphqlRequestRecord[] = [];
  readonly now: () => number;
  readonly recoveryItemDelayMs: number;

  constructor(
    opts: OpenCtiSimulatorOptions,
    readonly defaultToken: string,
    readonly defaultStreamId: string,
  ) {
    const clock = opts.now ?? Date.now;
    const skew = opts.clockSkewMs ?? 0;
    this.now = skew === 0 ? clock : () => clock() + skew;
    this.recoveryItemDelayMs = opts.recoveryItemDelayMs ?? 0;
    this.switches = { ...DEFAULT_SWITCHES, ...opts.switches };
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.idleReadMs = opts.idleReadMs ?? this.heartbeatMs;
    this.version = opts.version ?? '6.8.10';
    this.world = new World({
      now: this.now,
      uuid: seededUuids(opts.seed ?? 1),
      origin: {
        socket: 'query',
        ip: '::ffff:127.0.0.1',
        user_id: ADMIN_USER_ID,
        group_ids: ['9c746e48-2ea5-4f2e-8b3a-0a4b1f9d6c21'],
        organization_ids: [],
        user_metadata: {},
        ...opts.origin,
      },
      retain: opts.retain,
      mergeDeletesSources: () => this.switches.mergeDeletesSources,
    });
    this.tokens.set(defaultToken, {
      userId: ADMIN_USER_ID,
      capabilities: [...ALL_CAPABILITIES],
      revoked: false,
    });
    const filterSpec = opts.streamFilter ?? DEFAULT_FILTER;
    this.streams.set(defaultStreamId, {
      id: defaultStreamId,
      filterSpec,
      filter: compileFilter(filterSpec),
      live: true,
      public: false,
    });
  }

  stream(id: string | undefined): SimStream {
    const s = this.streams.get(id ?? this.defaultStreamId);
    if (!s) throw new Error(`no stream ${id ?? this.defaultStreamId}`);
    return s;
  }

  tokenRecord(token: string | undefined): SimToken {
    const t = this.tokens.get(token ?? this.defaultToken);
    if (!t) throw new Error('unknown token');
    return t;
  }

  streamCollection(id: string): { id: string; live: boolean; public: boolean } | undefined {
    const s = this.streams.get(id);
    return s && { id: s.id, live: s.live, public: s.public };
  }

  isStreamLive(streamId: string): boolean {
    if (streamId === 'live' || streamId === '') return true;
    return this.streams.get(streamId)?.live === true;
  }

  userOf(token: string | undefined): GraphqlUser | undefined {
    if (!token) return undefined;
    const t = this.tokens.get(token);
    return t && !t.revoked ? { id: t.userId, capabilities: t.capabilities } : undefined;
  }

  endConnections(streamId: string): void {
    for (const c of [...this.connections]) if (c.params.streamId === streamId) c.terminate('end');
  }

  takeFailure(target: 'stream' | 'graphql'): ForcedFailure | undefined {
    const i = this.failures.findIndex((f) => f.target === target || f.target === 'all');
    if (i < 0) return undefined;
    const f = this.failures[i] as ForcedFailure;
    f.remaining--;
    if (f.remaining <= 0) this.failures.splice(i, 1);
    return f;
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  // Case-sensitive `Bearer ` like OpenCTI.
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === '' ? undefined : s;
}

function readBody(req: IncomingMessage, limit = 256 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload ?? null);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** An error answer as OpenCTI sends it: empty body, the reason only in the status text. */
function sendStatus(res: ServerResponse, status: number, reason: string, body?: string): void {
  res.statusCode = status;
  res.statusMessage = reason;
  if (body !== undefined) {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(body);
  } else res.end();
}

export async function startOpenCtiSimulator(opts: OpenCtiSimulatorOptions = {}): Promise<OpenCtiSimulator> {
  const token = opts.token ?? randomUUID();
  const streamId = opts.streamId ?? randomUUID();
  const sim = new SimulatorCore(opts, token, streamId);
  const control = new OpenCtiSimControl(sim);
  const sockets = new Set<Socket>();

  const handleStream = (req: IncomingMessage, res: ServerResponse, url: URL, id: string | null) => {
    const attempt: ConnectionAttempt = {
      at: new Date(sim.now()).toISOString(),
      streamId: id,
      status: 200,
      statusMessage: 'OK',
      headers: maskHeaders(req.headers),
      url: req.url ?? '',
    };
    pushBounded(sim.attempts, attempt);
    const fail = (status: number, reason: string) => {
      attempt.status = status;
      attempt.statusMessage = reason;
      sendStatus(res, status, reason);
    };
    const forced = sim.takeFailure('stream');
    if (forced) {
      if (forced.status === 'reset') {
        attempt.status = 'reset';
        attempt.statusMessage = '';
        req.socket.destroy();
        return;
      }
      attempt.status = forced.status;
      attempt.statusMessage = forced.statusMessage ?? '';
      sendStatus(res, forced.status, forced.statusMessage ?? 'Simulated failure', forced.body);
      return;
    }
    const user = sim.userOf(bearer(req));
    const notAuthenticated = 'You are not authenticated, please check your credentials';
    const notAuthorized = 'You are not authorized, please check your credentials';
    let filter: () => StreamPredicate = () => () => true;
    if (id === null) {
      if (!user) return fail(401, notAuthenticated);
      if (!user.capabilities.includes('BYPASS'))
        return fail(401, 'Consume generic stream is only authorized for bypass user');
    } else if (id === 'live') {
      if (!user) return fail(401, notAuthenticated);
      if (!user.capabilities.includes('BYPASS')) return fail(401, notAuthorized);
    } else {
      const stream = sim.streams.get(id);
      // An unknown or deleted stream is a 401, not a 404 (OpenCTI 6.x/7.x).
      if (!stream) return fail(401, user ? notAuthorized : notAuthenticated);
      if (!stream.live) return fail(410, 'This live stream is stopped');
      if (!stream.public) {
        if (!user) return fail(401, notAuthenticated);
        if (!user.capabilities.includes('TAXIIAPI') && !user.capabilities.includes('BYPASS')) {
          return fail(401, notAuthorized);
        }
      }
      filter = () => stream.filter;
    }
    const q = (name: string) => url.searchParams.get(name) || undefined;
    // Precedence: query > header (> Last-Event-ID for from; > recover-date for recover).
    const fromParam = q('from') ?? header(req, 'from') ?? header(req, 'last-event-id');
    const recoverParam = q('recover') ?? header(req, 'recover') ?? header(req, 'recover-date');
    const startParsed = parameterToStreamId(fromParam);
    const recoverParsed = parameterToStreamId(recoverParam);
    // An unparseable value is ignored by OpenCTI (converted to undefined).
    const start: StreamId | undefined = startParsed === 'invalid' ? undefined : startParsed;
    const recover: StreamId | undefined = recoverParsed === 'invalid' ? undefined : recoverParsed;
    const generic = id === null;
    if (!generic && recover && !start) {
      return fail(500, `Error in stream ${id}: Recovery mode is only possible with a start date.`);
    }
    const noDeps =
      (q('no-dependencies') ??
        header(req, 'no-dependencies') ??
        q('no-relationships') ??
        header(req, 'no-relationships')) === 'true';
    const listenDelete = q('listen-delete') ?? header(req, 'listen-delete');
    const withInferences = q('with-inferences') ?? header(req, 'with-inferences');
    const conn = new SseConnection(
      sim,
      {
        streamId: id ?? '',
        start,
        recover,
        publishDeletion: listenDelete !== 'false',
        noDependencies: generic || noDeps,
        withInferences: withInferences === 'true',
        filter,
        generic,
      },
      req,
      res,
      (c) => sim.connections.delete(c),
    );
    attempt.connectionId = conn.id;
    sim.connections.add(conn);
    conn.start();
  };

  const handleGraphqlRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const forced = sim.takeFailure('graphql');
    if (forced) {
      if (forced.status === 'reset') {
        req.socket.destroy();
        return;
      }
      sendStatus(res, forced.status, forced.statusMessage ?? 'Simulated failure', forced.body);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      sendJson(res, 400, { errors: [{ message: 'Invalid JSON body', extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    const { status, payload } = handleGraphql(sim, bearer(req), body);
    const b = body as { query?: unknown; variables?: unknown };
    const p = payload as {
      data?: Record<string, unknown>;
      errors?: Array<{ extensions?: { code?: string } }>;
    };
    pushBounded(sim.graphqlRequests, {
      at: new Date(sim.now()).toISOString(),
      fields: Object.keys(p.data ?? {}),
      headers: maskHeaders(req.headers),
      variables: b?.variables ?? null,
      errors: (p.errors ?? []).map((e) => e.extensions?.code ?? 'UNKNOWN'),
    });
    sendJson(res, status, payload);
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, method: string) => {
    if (!CONTROL_METHODS.has(method)) {
      sendJson(res, 404, { error: `unknown control method ${method}` });
      return;
    }
    try {
      const text = req.method === 'POST' ? await readBody(req) : '';
      const arg = text.trim() === '' ? {} : JSON.parse(text);
      const fn = (control as unknown as Record<string, (a: unknown) => unknown>)[method] as (
        a: unknown,
      ) => unknown;
      const result = fn.call(control, arg);
      sendJson(res, 200, result === undefined ? { ok: true } : result);
    } catch (err) {
      sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const path = url.pathname;
    const run = async () => {
      if (path === '/graphql' && req.method === 'POST') return handleGraphqlRequest(req, res);
      if (req.method === 'GET' && path === '/stream') return handleStream(req, res, url, null);
      const streamMatch = /^\/stream\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && streamMatch) {
        return handleStream(req, res, url, decodeURIComponent(streamMatch[1] ?? ''));
      }
      if (req.method === 'POST' && /^\/stream\/connection\/[^/]+$/.test(path)) {
        // 6.x legacy throttle; [7.x] a no-op.
        await readBody(req);
        return sendJson(res, 200, { message: 'ok' });
      }
      const controlMatch = /^\/_sim\/([A-Za-z]+)$/.exec(path);
      if (controlMatch) return handleControl(req, res, controlMatch[1] ?? '');
      sendJson(res, 404, { error: 'not found' });
    };
    run().catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    token,
    streamId,
    control,
    close: async () => {
      for (const c of [...sim.connections]) c.terminate('destroy');
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
