/**
 * The slice of OpenCTI's GraphQL API a stream connector uses (docs/opencti-api.md). No GraphQL engine: the
 * operation's top-level field names are matched, arguments come from `variables` (what pycti sends) or simple
 * inline literals. Errors are HTTP 200 with an `errors` array, as OpenCTI's plugin forces.
 */
import { randomUUID } from 'node:crypto';

export type Capability = 'BYPASS' | 'CONNECTORAPI' | 'TAXIIAPI' | 'MODULES_MODMANAGE';
export const ALL_CAPABILITIES: Capability[] = ['BYPASS', 'CONNECTORAPI', 'TAXIIAPI', 'MODULES_MODMANAGE'];

export interface ConnectorPing {
  at: string;
  /** The `state` variable as sent (JSON text, 'null' or null). */
  state: string | null;
  connectorInfo: unknown;
  /** True when this ping consumed the reset flag (its state was not stored). */
  consumedReset: boolean;
}

export interface SimConnector {
  id: string;
  name: string;
  type: string;
  scope: string[];
  auto: boolean;
  only_contextual: boolean;
  playbook_compatible: boolean;
  /** Stored state: JSON text, '' after a reset, or null. */
  state: string | null;
  resetFlag: boolean;
  stateTimestamp: string | null;
  registrations: number;
  pings: ConnectorPing[];
  connectorInfo: unknown;
  userId: string;
  updatedAt: string;
}

export interface GraphqlUser {
  id: string;
  capabilities: Capability[];
}

export interface GraphqlHost {
  version: string;
  userOf(token: string | undefined): GraphqlUser | undefined;
  connectors: Map<string, SimConnector>;
  now(): number;
  /** A live stream by id (`streamCollection`), or undefined. */
  streamCollection(id: string): { id: string; live: boolean; public: boolean } | undefined;
}

interface GqlError {
  message: string;
  locations?: Array<{ line: number; column: number }>;
  path?: string[];
  extensions: { code: string; data?: Record<string, unknown> };
}

class GqlFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly data: Record<string, unknown>,
  ) {
    super(message);
  }
}

const authRequired = () =>
  new GqlFailure('You must be logged in to do this.', 'AUTH_REQUIRED', {
    http_status: 401,
    genre: 'TECHNICAL',
  });
const forbidden = () =>
  new GqlFailure('You are not allowed to do this.', 'FORBIDDEN_ACCESS', {
    http_status: 403,
    genre: 'TECHNICAL',
  });
const notFound = (id: string) =>
  new GqlFailure('No connector found with the specified ID', 'FUNCTIONAL_ERROR', {
    http_status: 400,
    genre: 'BUSINESS',
    id,
  });
const validation = (message: string, field: string) =>
  new GqlFailure(message, 'VALIDATION_ERROR', { http_status: 400, genre: 'BUSINESS', field });

const FIELDS = [
  'about',
  'registerConnector',
  'pingConnector',
  'resetStateConnector',
  'deleteConnector',
  'connector',
  'connectors',
  'me',
  'streamCollection',
] as const;
type Field = (typeof FIELDS)[number];

/** Top-level fields of the operation, in order, with their position (for inline-argument parsing). */
function operationFields(query: string): Array<{ field: Field; index: number }> {
  const body = query.replace(/#[^\n]*/g, '');
  const open = body.indexOf('{');
  if (open < 0) return [];
  const out: Array<{ field: Field; index: number }> = [];
  let depth = 0;
  let inString = false;
  for (let i = open; i < body.length; i++) {
    const ch = body[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}') depth--;
    else if (ch === '(') {
      // Skip argument lists: they are not selections.
      let d = 1;
      for (i++; i < body.length && d > 0; i++) {
        if (body[i] === '(') d++;
        else if (body[i] === ')') d--;
        else if (body[i] === '"')
          for (i++; i < body.length && body[i] !== '"'; i++) if (body[i] === '\\') i++;
      }
      i--;
    } else if (depth === 1 && /[A-Za-z_]/.test(ch ?? '') && !/[A-Za-z0-9_]/.test(body[i - 1] ?? '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(body.slice(i));
      const word = m?.[0] ?? '';
      // An alias `x: field` selects `field`.
      const after = body.slice(i + word.length);
      const alias = /^\s*:\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(after);
      const name = alias ? (alias[1] ?? '') : word;
      if ((FIELDS as readonly string[]).includes(name)) out.push({ field: name as Field, index: i });
      i += word.length - 1 + (alias ? alias[0].length : 0);
    }
  }
  return out;
}

function inlineArg(query: string, from: number, arg: string): string | undefined {
  const paren = query.indexOf('(', from);
  const brace = query.indexOf('{', from);
  if (paren < 0 || (brace >= 0 && brace < paren)) return undefined;
  const close = query.indexOf(')', paren);
  const args = query.slice(paren, close);
  const m = new RegExp(`\\b${arg}\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(args);
  return m ? JSON.parse(`"${m[1]}"`) : undefined;
}

function connectorView(c: SimConnector) {
  return {
    id: c.id,
    name: c.name,
    connector_type: c.type,
    connector_scope: c.scope,
    auto: c.auto,
    only_contextual: c.only_contextual,
    playbook_compatible: c.playbook_compatible,
    active: true,
    connector_state: c.state,
    connector_state_reset: c.resetFlag,
    connector_state_timestamp: c.stateTimestamp,
    connector_user_id: c.userId,
    connector_info: c.connectorInfo ?? null,
    updated_at: c.updatedAt,
    // RabbitMQ settings pycti reads for other connector types; placeholders here.
    config: {
      connection: { host: 'rabbitmq', vhost: '/', use_ssl: false, port: 5672, user: 'guest', pass: 'guest' },
      listen: `listen_${c.id}`,
      listen_routing: `listen_routing_${c.id}`,
      listen_exchange: 'amqp.connector.exchange',
      push: `push_${c.id}`,
      push_routing: `push_routing_${c.id}`,
      push_exchange: 'amqp.worker.exchange',
    },
  };
}

export function handleGraphql(
  host: GraphqlHost,
  token: string | undefined,
  body: unknown,
): { status: number; payload: unknown } {
  const req = body as { query?: unknown; variables?: unknown };
  if (!req || typeof req.query !== 'string') {
    return {
      status: 400,
      payload: { errors: [{ message: 'Must provide query string.', extensions: { code: 'BAD_REQUEST' } }] },
    };
  }
  const query = req.query;
  const vars = (req.variables && typeof req.variables === 'object' ? req.variables : {}) as Record<
    string,
    unknown
  >;
  const fields = operationFields(query);
  if (fields.length === 0) {
    return {
      status: 200,
      payload: {
        errors: [
          {
            message: 'Cannot query this field on the OpenCTI simulator',
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
          },
        ],
      },
    };
  }
  const user = host.userOf(token);
  const data: Record<string, unknown> = {};
  const errors: GqlError[] = [];
  const arg = (index: number, name: string): unknown => vars[name] ?? inlineArg(query, index, name);
  for (const { field, index } of fields) {
    try {
      if (!user) throw authRequired();
      data[field] = resolve(host, user, field, (name) => arg(index, name));
    } catch (err) {
      if (!(err instanceof GqlFailure)) throw err;
      data[field] = null;
      errors.push({
        message: err.message,
        locations: [{ line: 1, column: index + 1 }],
        path: [field],
        extensions: { code: err.code, data: err.data },
      });
    }
  }
  return { status: 200, payload: errors.length > 0 ? { errors, data } : { data } };
}

function need(user: GraphqlUser, cap: Capability): void {
  if (!user.capabilities.includes('BYPASS') && !user.capabilities.includes(cap)) throw forbidden();
}

function resolve(
  host: GraphqlHost,
  user: GraphqlUser,
  field: Field,
  arg: (name: string) => unknown,
): unknown {
  const now = new Date(host.now()).toISOString();
  switch (field) {
    case 'about':
      return { version: host.version, dependencies: [] };
    case 'registerConnector': {
      need(user, 'CONNECTORAPI');
      const input = (arg('input') ?? {}) as Record<string, unknown>;
      const id = input.id;
      if (typeof id !== 'string' || id === '') throw validation('Connector id is required', 'id');
      const name = typeof input.name === 'string' ? input.name : '';
      if (name.trim().length < 2) throw validation('Connector name must have at least 2 characters', 'name');
      const types = [
        'STREAM',
        'EXTERNAL_IMPORT',
        'INTERNAL_IMPORT_FILE',
        'INTERNAL_ENRICHMENT',
        'INTERNAL_ANALYSIS',
        'INTERNAL_EXPORT_FILE',
      ];
      if (typeof input.type !== 'string' || !types.includes(input.type)) {
        throw validation(`Invalid connector type ${String(input.type)}`, 'type');
      }
      const existing = host.connectors.get(id);
      const c: SimConnector = existing ?? {
        id,
        name,
        type: input.type,
        scope: [],
        auto: false,
        only_contextual: false,
        playbook_compatible: false,
        state: null,
        resetFlag: false,
        stateTimestamp: null,
        registrations: 0,
        pings: [],
        connectorInfo: null,
        userId: user.id,
        updatedAt: now,
      };
      // Re-registering the same id updates it and keeps its state.
      c.name = name;
      c.type = input.type;
      c.scope = Array.isArray(input.scope) ? input.scope.map(String) : [];
      c.auto = input.auto === true;
      c.only_contextual = input.only_contextual === true;
      c.playbook_compatible = input.playbook_compatible === true;
      c.registrations++;
      c.updatedAt = now;
      host.connectors.set(id, c);
      return connectorView(c);
    }
    case 'pingConnector': {
      need(user, 'CONNECTORAPI');
      const id = String(arg('id') ?? '');
      const c = host.connectors.get(id);
      if (!c) throw notFound(id);
      const raw = arg('state');
      const state = raw === undefined || raw === null ? null : String(raw);
      const consumedReset = c.resetFlag;
      // A pending reset is consumed by this ping: the flag is cleared and the sent state is NOT stored.
      if (c.resetFlag) c.resetFlag = false;
      else {
        c.state = state;
        c.stateTimestamp = now;
      }
      c.connectorInfo = arg('connectorInfo') ?? c.connectorInfo;
      c.pings.push({ at: now, state, connectorInfo: arg('connectorInfo') ?? null, consumedReset });
      c.updatedAt = now;
      return connectorView(c);
    }
    case 'resetStateConnector': {
      need(user, 'MODULES_MODMANAGE');
      const id = String(arg('id') ?? '');
      const c = host.connectors.get(id);
      if (!c) throw notFound(id);
      resetConnector(c, now);
      return connectorView(c);
    }
    case 'deleteConnector': {
      // pycti deletes its own registration on a clean stop, with the connector's token.
      if (!user.capabilities.includes('MODULES_MODMANAGE')) need(user, 'CONNECTORAPI');
      const id = String(arg('id') ?? '');
      if (!host.connectors.delete(id)) throw notFound(id);
      return id;
    }
    case 'connector': {
      const id = String(arg('id') ?? '');
      const c = host.connectors.get(id);
      return c ? connectorView(c) : null;
    }
    case 'connectors':
      return [...host.connectors.values()].map(connectorView);
    case 'me':
      // The token's user; OpenCTI's MeUser lists capabilities as `{name}` objects.
      return { id: user.id, capabilities: user.capabilities.map((name) => ({ name })) };
    case 'streamCollection': {
      const s = host.streamCollection(String(arg('id') ?? ''));
      return s ? { id: s.id, name: `Stream ${s.id}`, stream_live: s.live, stream_public: s.public } : null;
    }
  }
}

/** UI-style reset: state "", flag set, timestamp bumped (the queues OpenCTI purges do not exist here). */
export function resetConnector(c: SimConnector, now: string): void {
  c.state = '';
  c.resetFlag = true;
  c.stateTimestamp = now;
}

export function newUserId(): string {
  return randomUUID();
}
