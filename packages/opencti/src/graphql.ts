/**
 * OpenCTI GraphQL client for what a stream connector needs (docs/opencti-api.md), with pycti's query shapes.
 * Errors: HTTP 200 + `errors[]` → typed errors by `extensions.code`; anything at the transport level → retryable.
 */
import {
  ConnectorNotFoundError,
  OpenCtiAuthError,
  OpenCtiGraphqlError,
  OpenCtiTransportError,
  redactSecret,
} from './errors.ts';
import {
  type ConnectorState,
  parseConnectorState,
  type StoredState,
  serializeConnectorState,
} from './state.ts';

export interface OpenCtiClientOptions {
  /** OPENCTI_URL (base, without /graphql). */
  url: string;
  token: string;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  userAgent?: string;
  fetch?: typeof fetch;
}

export type ConnectorType =
  | 'STREAM'
  | 'EXTERNAL_IMPORT'
  | 'INTERNAL_IMPORT_FILE'
  | 'INTERNAL_ENRICHMENT'
  | 'INTERNAL_ANALYSIS'
  | 'INTERNAL_EXPORT_FILE';

export interface RegisterConnectorInput {
  id: string;
  name: string;
  type: ConnectorType;
  scope: string[];
  auto?: boolean;
  auto_update?: boolean;
  enrichment_resolution?: string;
  only_contextual?: boolean;
  playbook_compatible?: boolean;
  listen_callback_uri?: string | null;
}

export interface RegisteredConnector {
  id: string;
  connectorUserId: string | null;
  /** The state OpenCTI holds for this connector (kept across re-registrations). */
  state: StoredState;
}

export interface ConnectorInfo {
  run_and_terminate: boolean;
  buffering: boolean;
  queue_threshold: number;
  queue_messages_size: number;
  next_run_datetime: string | null;
  last_run_datetime: string | null;
}

export const DEFAULT_CONNECTOR_INFO: ConnectorInfo = {
  run_and_terminate: false,
  buffering: false,
  queue_threshold: 500,
  queue_messages_size: 0,
  next_run_datetime: null,
  last_run_datetime: null,
};

const ABOUT = 'query { about { version } }';
const ME = 'query { me { id capabilities { name } } }';
const STREAM = 'query StreamCollection($id: String!) { streamCollection(id: $id) { id name stream_live } }';
const REGISTER = `mutation RegisterConnector($input: RegisterConnectorInput) {
  registerConnector(input: $input) { id connector_state connector_user_id }
}`;
const PING = `mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) {
  pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) {
    id connector_state
    connector_info { run_and_terminate buffering queue_threshold queue_messages_size next_run_datetime last_run_datetime }
  }
}`;
const DELETE = 'mutation ConnectorDeletionMutation($id: ID!) { deleteConnector(id: $id) }';

interface GqlError {
  message?: string;
  extensions?: { code?: string; data?: { http_status?: number } };
}

export interface OpenCtiClient {
  about(): Promise<{ version: string }>;
  registerConnector(input: RegisterConnectorInput): Promise<RegisteredConnector>;
  /**
   * Records liveness and (unless a reset is pending) stores `state`; returns what OpenCTI holds afterwards.
   * `kind: 'reset'` (empty string) means the connector was reset in the UI: the sent state was NOT stored.
   */
  pingConnector(id: string, state: ConnectorState | null, info?: ConnectorInfo): Promise<StoredState>;
  deleteConnector(id: string): Promise<void>;
  /** Capability names of the token's user (`me { capabilities { name } }`). */
  me(): Promise<{ capabilities: string[] }>;
  /** A live stream by id, or null when it does not exist (or the user cannot see it). */
  streamCollection(id: string): Promise<{ id: string; name: string; live: boolean } | null>;
}

export function createOpenCtiClient(opts: OpenCtiClientOptions): OpenCtiClient {
  const endpoint = `${opts.url.replace(/\/+$/, '')}/graphql`;
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const clean = (text: string) => redactSecret(text, opts.token);

  async function call<T>(
    field: string,
    query: string,
    variables: Record<string, unknown>,
    id?: string,
  ): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${opts.token}`,
          'user-agent': opts.userAgent ?? 'octi-sekoia-sync',
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}${causeText(err)}` : String(err);
      throw new OpenCtiTransportError(clean(`OpenCTI ${field}: request to ${endpoint} failed (${reason})`));
    }
    const text = await res.text().catch(() => '');
    if (res.status !== 200) {
      throw new OpenCtiTransportError(
        clean(`OpenCTI ${field}: HTTP ${res.status} ${res.statusText} from ${endpoint}`),
        res.status,
      );
    }
    let body: { data?: Record<string, unknown> | null; errors?: GqlError[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new OpenCtiTransportError(
        clean(`OpenCTI ${field}: the answer from ${endpoint} is not JSON`),
        res.status,
      );
    }
    const err = body.errors?.[0];
    if (err) {
      const code = err.extensions?.code ?? 'UNKNOWN';
      const message = clean(err.message ?? 'unknown error');
      if (code === 'AUTH_REQUIRED' || code === 'FORBIDDEN_ACCESS') {
        const hint =
          code === 'AUTH_REQUIRED'
            ? 'check OPENCTI_TOKEN (invalid or expired)'
            : 'the token\'s user lacks the capability (a connector needs "Connectors API" / CONNECTORAPI)';
        throw new OpenCtiAuthError(`OpenCTI ${field}: ${code} — ${message}: ${hint}`, code);
      }
      if (code === 'FUNCTIONAL_ERROR' && /no connector found/i.test(err.message ?? '') && id !== undefined) {
        throw new ConnectorNotFoundError(id);
      }
      throw new OpenCtiGraphqlError(`OpenCTI ${field}: ${code} — ${message}`, code);
    }
    if (!body.data || !(field in body.data)) {
      throw new OpenCtiTransportError(clean(`OpenCTI ${field}: the answer has no data.${field}`), res.status);
    }
    return body.data[field] as T;
  }

  return {
    async about() {
      const about = await call<{ version?: unknown } | null>('about', ABOUT, {});
      if (!about || typeof about.version !== 'string') {
        throw new OpenCtiTransportError('OpenCTI about: no version in the answer');
      }
      return { version: about.version };
    },
    async registerConnector(input) {
      const c = await call<{ id: string; connector_state: string | null; connector_user_id?: string | null }>(
        'registerConnector',
        REGISTER,
        {
          input: {
            auto: false,
            auto_update: false,
            enrichment_resolution: 'none',
            only_contextual: false,
            playbook_compatible: false,
            listen_callback_uri: null,
            ...input,
          },
        },
      );
      return {
        id: c.id,
        connectorUserId: c.connector_user_id ?? null,
        state: parseConnectorState(c.connector_state),
      };
    },
    async pingConnector(id, state, info = DEFAULT_CONNECTOR_INFO) {
      const c = await call<{ connector_state: string | null } | null>(
        'pingConnector',
        PING,
        { id, state: serializeConnectorState(state), connectorInfo: info },
        id,
      );
      if (!c) throw new ConnectorNotFoundError(id);
      return parseConnectorState(c.connector_state);
    },
    async deleteConnector(id) {
      await call<unknown>('deleteConnector', DELETE, { id }, id);
    },
    async me() {
      const me = await call<{ capabilities?: Array<{ name?: unknown }> | null } | null>('me', ME, {});
      if (!me || !Array.isArray(me.capabilities)) {
        throw new OpenCtiTransportError('OpenCTI me: no capabilities in the answer');
      }
      return { capabilities: me.capabilities.map((c) => String(c?.name)) };
    },
    async streamCollection(id) {
      const s = await call<{ id: string; name?: string; stream_live?: unknown } | null>(
        'streamCollection',
        STREAM,
        { id },
      );
      return s ? { id: s.id, name: s.name ?? '', live: s.stream_live === true } : null;
    },
  };
}

function causeText(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error)
    return ` — ${(cause as { code?: string }).code ?? cause.name}: ${cause.message}`;
  return '';
}
