// Entry point: read config (exit 2 with one line per problem), wire the stream reader to Redis, start.
import { secretsOf, startupConfig } from '@octi-sekoia/config';
import { createLogger, redact } from '@octi-sekoia/logger';
import { connectRedis, listenOrExit, onShutdown, startOpsServer } from '@octi-sekoia/ops';
import { assertNoEviction, createQueues, migrateKeyLayout } from '@octi-sekoia/queue';
import { IngestService } from './ingest-service.ts';
import { ingestMetrics } from './metrics.ts';
import { connectorApi, openCtiClient, streamOpener } from './opencti-adapter.ts';

const { config, warnings } = startupConfig('ingest');
const secrets = secretsOf(config);
const log = createLogger({
  level: config.connector.logLevel,
  name: 'ingest',
  secrets,
  base: { connectorId: config.connector.id },
});
for (const warning of warnings) log.warn(warning);

const redis = connectRedis(config.redis);
redis.on('error', (err) => log.warn({ err: redact(err.message, secrets) }, 'redis connection error'));
try {
  await assertNoEviction(redis);
} catch (err) {
  log.fatal({ err: redact((err as Error).message, secrets) }, 'refusing to start');
  process.exit(2);
}
// An upgrade from the layout before hash tags: the state carries over (docs/redis.md, "Upgrading").
const migrated = await migrateKeyLayout(redis, config.redis.keyPrefix, config.connector.id);
if (migrated.moved + migrated.kept > 0)
  log.info(migrated, 'moved the connector keys to the hash-tagged layout');

const queues = createQueues(redis, config.redis.keyPrefix, config.connector.id);
const ops = await listenOrExit(() =>
  startOpsServer({
    port: config.ingest.httpPort,
    portVariable: 'INGEST_HTTP_PORT',
    readiness: () => service.readiness(),
    info: { app: 'ingest', connectorId: config.connector.id },
  }),
);
const opencti = {
  url: config.opencti.url,
  token: config.opencti.token,
  streamId: config.connector.liveStreamId,
  listenDelete: config.connector.liveStreamListenDelete,
  noDependencies: config.connector.liveStreamNoDependencies,
  withInferences: config.connector.liveStreamWithInferences,
  heartbeatTimeoutMs: config.ingest.heartbeatTimeoutS * 1000,
};
const service = new IngestService({
  redis,
  queues,
  opencti: connectorApi(openCtiClient(opencti)),
  openStream: streamOpener(opencti, log),
  metrics: ingestMetrics(ops.registry),
  redact: (text) => redact(text, secrets),
  log,
  settings: {
    keyPrefix: config.redis.keyPrefix,
    connectorId: config.connector.id,
    connectorName: config.connector.name,
    streamId: config.connector.liveStreamId,
    scope: config.connector.scope,
    batchSize: config.ingest.batchSize,
    lingerMs: 50,
    highWatermark: config.ingest.highWatermark,
    lowWatermark: config.ingest.lowWatermark,
    pingIntervalMs: config.ingest.pingIntervalS * 1000,
    leaseTtlMs: 15_000,
    pollMs: 1000,
    deadLettersMaxBytes: config.redis.deadLettersMaxBytes,
    ...(config.connector.liveStreamStartTimestamp
      ? { startTimestamp: config.connector.liveStreamStartTimestamp }
      : {}),
    ...(config.connector.liveStreamRecoverIsoDate !== undefined
      ? { recoverIsoDate: config.connector.liveStreamRecoverIsoDate }
      : {}),
    normalize: {
      openctiUrl: config.opencti.url,
      descriptionTemplate: config.sekoiaIntel.descriptionTemplate,
      validUntilRounding: config.sekoiaIntel.validUntilRounding,
      extractionMode: config.sekoiaIntel.extractionMode,
      maxEventBytes: config.ingest.maxEventBytes,
    },
  },
});

onShutdown({
  graceMs: 20_000,
  log: (msg, extra) => log.info(extra ?? {}, msg),
  stop: async () => {
    await service.stop();
    await queues.close();
    await ops.close();
    redis.disconnect();
  },
});
service.start();
log.info({ httpPort: ops.port, streamId: config.connector.liveStreamId }, 'started');
