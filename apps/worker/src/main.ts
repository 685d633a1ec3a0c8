// Entry point: boot (config, logger, Redis: exit 2 on a problem), wire the worker to Redis and Sekoia, start.
import { bootApp, connectRedis, listenOrExit, onShutdown, startOpsServer } from '@octi-sekoia/ops';
import { assertNoEviction, migrateKeyLayout } from '@octi-sekoia/queue';
import { prepareCollection } from './adopt-on-start.ts';
import { workerSettings } from './settings.ts';
import { WorkerService } from './worker-service.ts';

const { config, settings, log, redact, redis } = await bootApp('worker', {
  settings: workerSettings,
  checkRedis: assertNoEviction,
});
// An upgrade from the layout before hash tags: the state carries over (docs/redis.md, "Upgrading").
const migrated = await migrateKeyLayout(redis, config.redis.keyPrefix, config.connector.id);
if (migrated.moved + migrated.kept > 0)
  log.info(migrated, 'moved the connector keys to the hash-tagged layout');

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
  redact,
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
