import type { AppConfig } from '@octi-sekoia/config';
import type { NormalizeConfig } from '@octi-sekoia/model';
import type { OpenCtiSettings } from './opencti-adapter.ts';

/** Everything the ingest service needs, from the configuration (see ingestSettings). */
export interface IngestSettings {
  keyPrefix: string;
  connectorId: string;
  /** Shown by the CLI and the dashboard. */
  streamId: string;
  connectorName: string;
  scope: string[];
  batchSize: number;
  lingerMs: number;
  highWatermark: number;
  lowWatermark: number;
  pingIntervalMs: number;
  leaseTtlMs: number;
  /** First run: `CONNECTOR_LIVE_STREAM_START_TIMESTAMP` (ms) or the start of the stream. */
  startTimestamp?: number;
  /**
   * First run: `CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE`, `false` for no recovery, undefined for the platform's
   * current stream position (see readPlatformPosition in generations.ts).
   */
  recoverIsoDate?: string | false;
  normalize: Omit<NormalizeConfig, 'generation'>;
  /** How often the backlog is polled while paused, and the CLI's resync request and replayed events. */
  pollMs: number;
  /** REDIS_DEAD_LETTERS_MAX_BYTES (0 or absent: no cap). */
  deadLettersMaxBytes?: number;
}

export function ingestSettings(config: AppConfig): IngestSettings {
  const c = config.connector;
  return {
    keyPrefix: config.redis.keyPrefix,
    connectorId: c.id,
    connectorName: c.name,
    streamId: c.liveStreamId,
    scope: c.scope,
    batchSize: config.ingest.batchSize,
    lingerMs: config.ingest.lingerMs,
    highWatermark: config.ingest.highWatermark,
    lowWatermark: config.ingest.lowWatermark,
    pingIntervalMs: config.ingest.pingIntervalS * 1000,
    leaseTtlMs: config.ingest.leaseTtlMs,
    pollMs: config.ingest.pollMs,
    deadLettersMaxBytes: config.redis.deadLettersMaxBytes,
    ...(c.liveStreamStartTimestamp ? { startTimestamp: c.liveStreamStartTimestamp } : {}),
    ...(c.liveStreamRecoverIsoDate !== undefined ? { recoverIsoDate: c.liveStreamRecoverIsoDate } : {}),
    normalize: {
      openctiUrl: config.opencti.url,
      descriptionTemplate: config.sekoiaIntel.descriptionTemplate,
      validUntilRounding: config.sekoiaIntel.validUntilRounding,
      extractionMode: config.sekoiaIntel.extractionMode,
      maxEventBytes: config.ingest.maxEventBytes,
    },
  };
}

/** The OpenCTI client and stream reader settings. */
export function openCtiSettings(config: AppConfig): OpenCtiSettings {
  const c = config.connector;
  return {
    url: config.opencti.url,
    token: config.opencti.token,
    streamId: c.liveStreamId,
    listenDelete: c.liveStreamListenDelete,
    noDependencies: c.liveStreamNoDependencies,
    withInferences: c.liveStreamWithInferences,
    heartbeatTimeoutMs: config.ingest.heartbeatTimeoutS * 1000,
    backoff: { baseMs: config.ingest.streamBackoffMs, maxMs: config.ingest.streamBackoffMaxMs },
  };
}
