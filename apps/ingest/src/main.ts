// Entry point: boot (config, logger, Redis: exit 2 on a problem), wire the stream reader to Redis, start.
import { bootApp, listenOrExit, onShutdown, startOpsServer } from '@octi-sekoia/ops';
import { assertNoEviction, createQueues, migrateKeyLayout } from '@octi-sekoia/queue';
import { IngestService } from './ingest-service.ts';
import { ingestMetrics } from './metrics.ts';
import { connectorApi, openCtiClient, streamOpener } from './opencti-adapter.ts';
import { ingestSettings, openCtiSettings } from './settings.ts';

const { config, log, redact, redis } = await bootApp('ingest', { checkRedis: assertNoEviction });
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
const opencti = openCtiSettings(config);
const service = new IngestService({
  redis,
  queues,
  opencti: connectorApi(openCtiClient(opencti)),
  openStream: streamOpener(opencti, log),
  metrics: ingestMetrics(ops.registry),
  redact,
  log,
  settings: ingestSettings(config),
});

onShutdown({
  graceMs: config.ingest.shutdownGraceMs,
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
