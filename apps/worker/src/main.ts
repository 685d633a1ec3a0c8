// Entry point: read config (exit 2 with one line per problem), wire the worker to Redis and Sekoia, start.
import { secretsOf, startupConfig } from '@octi-sekoia/config';
import { createLogger, redact } from '@octi-sekoia/logger';
import { connectRedis, listenOrExit, onShutdown, startOpsServer } from '@octi-sekoia/ops';
import { assertNoEviction } from '@octi-sekoia/queue';
import { prepareCollection } from './adopt-on-start.ts';
import { type WorkerSettings, workerSettings } from './settings.ts';
import { WorkerService } from './worker-service.ts';

const { config, warnings } = startupConfig('worker');
const secrets = secretsOf(config);
const log = createLogger({
  level: config.connector.logLevel,
  name: 'worker',
  secrets,
  base: { connectorId: config.connector.id },
});
for (const warning of warnings) log.warn(warning);

let settings: WorkerSettings;
try {
  settings = workerSettings(config, process.env);
} catch (err) {
  process.stderr.write(`config error: ${(err as Error).message}\n`);
  process.exit(2);
}

const redis = connectRedis(config.redis);
redis.on('error', (err) => log.warn({ err: redact(err.message, secrets) }, 'redis connection error'));
try {
  await assertNoEviction(redis);
} catch (err) {
  log.fatal({ err: redact((err as Error).message, secrets) }, 'refusing to start');
  process.exit(2);
}

let service: WorkerService | undefined;
const ops = await listenOrExit(() =>
  startOpsServer({
    port: config.worker.httpPort,
    portVariable: 'WORKER_HTTP_PORT',
    readiness: () => service?.readiness() ?? { ready: false, reason: 'starting' },
    info: { app: 'worker', connectorId: config.connector.id },
  }),
);
service = new WorkerService({
  redis,
  connect: () => connectRedis(config.redis),
  settings,
  log,
  registry: ops.registry,
  redact: (text) => redact(text, secrets),
});

onShutdown({
  graceMs: settings.tuning.shutdownGraceMs,
  log: (msg, extra) => log.info(extra ?? {}, msg),
  stop: async () => {
    await service?.stop();
    await ops.close();
    redis.disconnect();
  },
});
await service.migrateState(); // sync state of an older release, before anything reads or writes it
await prepareCollection({ redis, settings, log, service }); // config identity, adoption, collection reads
await service.start();
log.info(
  { httpPort: ops.port, collection: config.sekoiaIntel.iocCollectionUuid, concurrency: settings.concurrency },
  'started',
);
