import {
  ConnectorNotFoundError,
  isVersionBelow,
  OpenCtiAuthError,
  TESTED_OPENCTI_VERSION,
} from '@octi-sekoia/opencti';
import type { IngestMetrics } from './metrics.ts';
import type { ConnectorApi, ConnectorState } from './ports.ts';
import type { IngestSettings } from './settings.ts';

/** The channel on which OpenCTI refuses the token: the live stream (401) or GraphQL (AUTH_REQUIRED…). */
export type AuthChannel = 'stream' | 'graphql';

export interface PresenceLog {
  debug?(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface OpenCtiPresenceDeps {
  api: ConnectorApi;
  settings: Pick<IngestSettings, 'connectorId' | 'connectorName' | 'scope' | 'pingIntervalMs'>;
  metrics: Pick<IngestMetrics, 'pings'>;
  log: PresenceLog;
  redact: (text: string) => string;
  /** The state to mirror to OpenCTI; undefined: not the reader (or nothing loaded yet), so no ping. */
  state(): ConnectorState | undefined;
  /** Right before each ping (the reader refreshes its published status). */
  beforePing(): void;
  /** OpenCTI answered that its UI reset the connector (the flag is consumed by that ping). */
  onReset(): Promise<void>;
}

/**
 * The connector as OpenCTI sees it: version check, registration, periodic pings carrying the checkpoint, and
 * whether OpenCTI accepts the token (for `/readyz`).
 */
export class OpenCtiPresence {
  /** OpenCTI refuses our token (stream 401 / GraphQL AUTH_REQUIRED or FORBIDDEN_ACCESS), by channel. */
  private readonly authFailing = new Map<AuthChannel, string>();
  /** Last ping failure logged (repeats of the same failure are not logged again). */
  private pingFailure: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: OpenCtiPresenceDeps) {}

  /** Warns when OpenCTI is older than the oldest version this connector is tested against. */
  async checkVersion(): Promise<void> {
    const about = await this.deps.api.about().catch((err: unknown) => {
      this.deps.log.warn({ err: this.deps.redact((err as Error).message) }, 'OpenCTI about{version} failed');
      return undefined;
    });
    if (about && isVersionBelow(about.version, TESTED_OPENCTI_VERSION)) {
      this.deps.log.warn(
        { version: about.version },
        `OpenCTI is older than ${TESTED_OPENCTI_VERSION}: this connector is tested against ${TESTED_OPENCTI_VERSION} and later`,
      );
    }
  }

  async register(): Promise<void> {
    const s = this.deps.settings;
    try {
      await this.deps.api.registerConnector({
        id: s.connectorId,
        name: s.connectorName,
        type: 'STREAM',
        scope: s.scope,
      });
      this.deps.log.info({ name: s.connectorName }, 'connector registered in OpenCTI');
    } catch (err) {
      this.deps.log.error(
        { err: this.deps.redact((err as Error).message) },
        'connector registration failed; will retry on the next ping',
      );
    }
  }

  /** Pings now, then every ping interval. */
  async startPinging(): Promise<void> {
    await this.ping();
    this.stopPinging();
    this.timer = setInterval(() => void this.ping(), this.deps.settings.pingIntervalMs);
    this.timer.unref();
  }

  stopPinging(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One ping; a failure is counted and logged (never rejects). */
  ping(): Promise<void> {
    return this.pingOnce().catch((err: unknown) => this.pingFailed(err));
  }

  /** One ping; rejects on failure (the last ping at shutdown ignores it). */
  async pingOnce(): Promise<void> {
    const sent = this.deps.state();
    if (!sent) return;
    this.deps.beforePing();
    const res = await this.deps.api.pingConnector(this.deps.settings.connectorId, sent);
    this.pingSucceeded();
    if (res.reset) await this.deps.onReset();
  }

  /**
   * OpenCTI refuses our token: one error line for the whole episode, whichever channel (stream or GraphQL) sees
   * it first; `/readyz` fails with that message until both channels work again.
   */
  authProblem(channel: AuthChannel, message: string): void {
    const first = this.authFailing.size === 0;
    this.authFailing.set(channel, message);
    if (first) this.deps.log.error({ channel }, message);
    else this.deps.log.debug?.({ channel }, message);
  }

  authOk(channel: AuthChannel): void {
    if (!this.authFailing.delete(channel)) return;
    if (this.authFailing.size === 0) this.deps.log.info({ channel }, 'OpenCTI accepts the token again');
  }

  /** The first refusal still in force (the `/readyz` reason), if any. */
  authFailure(): string | undefined {
    return this.authFailing.values().next().value;
  }

  private pingFailed(err: unknown): void {
    const e = err as Error & { code?: string };
    this.deps.metrics.pings.inc({ outcome: 'failed' });
    // The client's class (FUNCTIONAL_ERROR "No connector found…", docs/opencti-api.md); the message too, in case
    // another OpenCTI version answers it under another code (an assumption, kept from before).
    if (err instanceof ConnectorNotFoundError || /No connector found/.test(e.message)) {
      this.deps.log.warn(
        {},
        'OpenCTI no longer knows this connector (deleted in the UI?): registering again',
      );
      void this.register();
      return;
    }
    const message = this.deps.redact(e.message);
    if (err instanceof OpenCtiAuthError) {
      this.authProblem('graphql', `OpenCTI refused the connector's GraphQL calls (${message}); retrying`);
      return;
    }
    // One line per kind of failure, not one per ping: the operator saw it.
    if (message !== this.pingFailure)
      this.deps.log.warn({ err: message }, 'ping to OpenCTI failed; retrying');
    this.pingFailure = message;
  }

  private pingSucceeded(): void {
    this.deps.metrics.pings.inc({ outcome: 'ok' });
    this.authOk('graphql');
    if (this.pingFailure !== undefined) this.deps.log.info({}, 'ping to OpenCTI works again');
    this.pingFailure = undefined;
  }
}
