import { createOpenCtiClient, type OpenCtiClient, openStream } from '@octi-sekoia/opencti';
import type { ConnectorApi, OpenStream } from './ports.ts';

export interface OpenCtiSettings {
  url: string;
  token: string;
  streamId: string;
  listenDelete: boolean;
  noDependencies: boolean;
  withInferences: boolean;
  heartbeatTimeoutMs: number;
  /** Reconnect backoff (exponential with jitter): INGEST_STREAM_BACKOFF_MS, INGEST_STREAM_BACKOFF_MAX_MS. */
  backoff: { baseMs: number; maxMs: number };
}

type StreamLogger = NonNullable<Parameters<typeof openStream>[0]['logger']>;

/** Stream states IngestService logs itself (once per episode): the reader's own line for them goes to debug. */
const REPORTED_BY_INGEST = new Set(['unauthorized', 'stopped', 'error']);

/** The connector lifecycle calls, in the shape ingest uses. */
export function connectorApi(client: OpenCtiClient): ConnectorApi {
  return {
    about: () => client.about(),
    async registerConnector(input) {
      const r = await client.registerConnector(input);
      return { state: r.state.kind === 'state' ? r.state.state : null };
    },
    async pingConnector(id, state) {
      const stored = await client.pingConnector(id, state);
      return {
        state: stored.kind === 'state' ? stored.state : null,
        // An empty stored state after we sent one: OpenCTI's UI reset the connector (the flag is now consumed).
        reset: stored.kind === 'reset' && state !== null,
      };
    },
  };
}

export function openCtiClient(s: OpenCtiSettings): OpenCtiClient {
  return createOpenCtiClient({ url: s.url, token: s.token, userAgent: 'octi-sekoia-sync/ingest' });
}

/** The live stream reader with the configured headers. */
export function streamOpener(s: OpenCtiSettings, logger?: StreamLogger): OpenStream {
  return (o) => {
    // The reader reports a status (onStatus) and then logs the same message: for the states ingest reports,
    // that second line is demoted so a 401 gives one line, not two.
    let reported: string | undefined;
    const demoting: StreamLogger | undefined = logger && {
      debug: (obj, msg) => logger.debug(obj, msg),
      info: (obj, msg) => logger.info(obj, msg),
      warn: (obj, msg) => (msg === reported ? logger.debug(obj, msg) : logger.warn(obj, msg)),
      error: (obj, msg) => (msg === reported ? logger.debug(obj, msg) : logger.error(obj, msg)),
    };
    return openStream({
      url: s.url,
      token: s.token,
      streamId: s.streamId,
      lastEventId: o.lastEventId,
      ...(o.recover ? { recover: o.recover } : {}),
      listenDelete: s.listenDelete,
      noDependencies: s.noDependencies,
      withInferences: s.withInferences,
      heartbeatTimeoutMs: s.heartbeatTimeoutMs,
      backoff: s.backoff,
      onMessage: o.onMessage,
      onConnected: o.onConnected,
      onStatus: (st) => {
        reported = REPORTED_BY_INGEST.has(st.state) ? st.message : undefined;
        o.onStatus(st);
      },
      ...(demoting ? { logger: demoting } : {}),
    });
  };
}
