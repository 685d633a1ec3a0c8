/**
 * What ingest needs from OpenCTI, as interfaces: the real adapters come from @octi-sekoia/opencti, and the
 * service stays testable against the simulator without knowing how the client is built.
 */
import type { ConnectedInfo, StreamMessage, StreamStatus } from '@octi-sekoia/opencti';

/** pycti's connector state shape, mirrored to OpenCTI on every ping. */
export interface ConnectorState {
  start_from: string;
  recover_until: string | null;
}

export interface ConnectorApi {
  about(): Promise<{ version: string }>;
  registerConnector(input: {
    id: string;
    name: string;
    type: 'STREAM';
    scope: string[];
  }): Promise<{ state: ConnectorState | null }>;
  /**
   * Sends our state; returns what OpenCTI stores. `reset: true` when OpenCTI answered an empty state although
   * we sent one (a reset from its UI: the flag is consumed by this very ping).
   */
  pingConnector(
    id: string,
    state: ConnectorState | null,
  ): Promise<{ state: ConnectorState | null; reset: boolean }>;
}

export type { ConnectedInfo, StreamMessage, StreamStatus } from '@octi-sekoia/opencti';

export interface StreamOptions {
  lastEventId: string;
  recover?: string;
  onMessage(msg: StreamMessage): void | Promise<void>;
  /** The `connected` frame, in stream order with the messages. */
  onConnected(info: ConnectedInfo): void | Promise<void>;
  onStatus(status: StreamStatus): void;
}

export type OpenStream = (opts: StreamOptions) => { close(): void };
