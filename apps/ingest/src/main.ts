// Entry point: read config (exit 2 with one line per problem), wire the stream reader to Redis, start.
import { secretsOf, startupConfig } from '@octi-sekoia/config';
import { createLogger, redact } from '@octi-sekoia/logger';
import { connectRedis, listenOrExit, onShutdown, startOpsServer } from '@octi-sekoia/ops';
import { assertNoEviction, createQueues } from '@octi-sekoia/queue';
import { IngestService } from './ingest-service.ts';
import { ingestMetrics } from './metrics.ts';
import { connectorApi, openCtiClient, streamOpener } from './opencti-adapter.ts';
import { ingestSettings, openCtiSettings } from './settings.ts';

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
  redact: (text) => redact(text, secrets),
  log,
  settings: ingestSettings(config),
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
