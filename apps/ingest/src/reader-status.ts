import { hostname } from 'node:os';
import type { RedisClient } from '@octi-sekoia/queue';
import type { IngestMetrics } from './metrics.ts';
import type { OpenCtiPresence } from './opencti-presence.ts';
import type { StreamStatus } from './ports.ts';

export interface ReaderStatusDeps {
  redis: RedisClient;
  /** `<base>:ingest-status`. */
  key: string;
  /** Only the reader publishes: a standby starting up must not overwrite the leader's state. */
  isReader(): boolean;
  now: () => number;
  metrics: Pick<IngestMetrics, 'reconnects'>;
  auth: Pick<OpenCtiPresence, 'authOk' | 'authProblem'>;
  log: {
    info(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

/** The stream reader's state: logged when an operator must act, published to Redis for `cli status`. */
export class ReaderStatus {
  private status: StreamStatus = { state: 'connecting', message: 'waiting for the reader lease' };

  constructor(private readonly deps: ReaderStatusDeps) {}

  get current(): StreamStatus {
    return this.status;
  }

  /** The reader's state for `cli status` (and operators reading Redis); expires unless refreshed (every ping). */
  publish(state: string, message: string): void {
    if (!this.deps.isReader()) return;
    const body = JSON.stringify({
      state,
      message,
      at: new Date(this.deps.now()).toISOString(),
      host: hostname(),
    });
    void this.deps.redis.set(this.deps.key, body, 'EX', 3600).catch(() => undefined);
  }

  /**
   * Every status change of the stream reader. Ingest logs the ones an operator must act on (the adapter keeps
   * the reader from logging them a second time); reconnects are logged by the reader itself.
   */
  onStatus(st: StreamStatus): void {
    const changed = st.state !== this.status.state || st.httpStatus !== this.status.httpStatus;
    this.status = st;
    if (changed) this.publish(st.state, st.message);
    if (st.state === 'open') {
      if (changed) this.deps.log.info({}, 'stream open');
      this.deps.auth.authOk('stream');
    } else if (st.state === 'retrying' || st.state === 'connecting') {
      this.deps.metrics.reconnects.inc();
    }
    if (st.state === 'unauthorized') this.deps.auth.authProblem('stream', st.message);
    else if (changed && (st.state === 'stopped' || st.state === 'error')) {
      this.deps.log.error({ httpStatus: st.httpStatus }, st.message);
    }
  }
}
