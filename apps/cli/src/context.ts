import { type AppConfig, type AppName, ConfigError, loadConfig, secretsOf } from '@octi-sekoia/config';
import type { Job } from '@octi-sekoia/model';
import { connectRedis, describeRedis } from '@octi-sekoia/ops';
import {
  assertNoEviction,
  type ConnectorQueues,
  keys as connectorKeys,
  createQueues,
  type DeadLetter,
  migrateKeyLayout,
  QUEUE_DEAD_LETTERS,
  QUEUE_INDICATORS,
  type RedisClient,
} from '@octi-sekoia/queue';
import { SyncState } from '@octi-sekoia/sync';
import { Queue } from 'bullmq';
import { short } from './format.ts';
import { CommandError, EXIT_ATTENTION, EXIT_USAGE, type Io } from './io.ts';

/** How long the CLI waits for Redis before giving up (it never retries forever like the apps). */
const CONNECT_TIMEOUT_MS = 5_000;

/** The CLI's configuration (CONNECTOR_ID and the Redis settings), or `config error:` lines and exit 2. */
export function cliConfig(io: Io): AppConfig {
  return appConfig(io, 'cli');
}

/**
 * An app's configuration, for the commands that act as that app (`adopt` reads Sekoia as the worker does and,
 * with `--dry-run`, the stream as ingest does), or `config error:` lines and exit 2.
 */
export function appConfig(io: Io, app: AppName): AppConfig {
  try {
    const { config, warnings } = loadConfig(app, { env: io.env });
    io.addSecrets(secretsOf(config));
    for (const w of warnings) io.err(`config warning: ${w}`);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.err(`config error: ${p.line}`);
    throw new CommandError('', EXIT_USAGE);
  }
}

/** One plain line for a Redis failure; authentication problems are configuration errors (exit 2). */
function redisFailure(config: AppConfig, err: unknown): CommandError {
  const message = err instanceof Error ? err.message : String(err);
  const where = describeRedis(config.redis);
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)) {
    return new CommandError(
      `Redis at ${where} refused the credentials (${short(message, 100)}): check REDIS_USERNAME / REDIS_PASSWORD / REDIS_URL`,
      EXIT_USAGE,
    );
  }
  return new CommandError(`cannot reach Redis at ${where}: ${short(message, 160)}`, EXIT_ATTENTION);
}

export interface Connection {
  config: AppConfig;
  redis: RedisClient;
  keys: ReturnType<typeof connectorKeys>;
  close(): Promise<void>;
}

/** Connects once (no endless reconnect: an operator command fails fast with one line). */
export async function connect(config: AppConfig): Promise<Connection> {
  const redis = connectRedis(config.redis, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    maxRetriesPerRequest: 1,
  });
  // Failures surface as rejected commands; the event would otherwise crash the process. The event carries
  // the cause (ECONNREFUSED, WRONGPASS…) where the rejected command only says "Connection is closed".
  let cause: unknown;
  redis.on('error', (err: unknown) => {
    cause ??= err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw redisFailure(config, cause ?? err);
  }
  return {
    config,
    redis,
    keys: connectorKeys(config.redis.keyPrefix, config.connector.id),
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Runs `fn` with a connection and always closes it; Redis errors become one line (exit 1). */
export async function withConnection<T>(
  io: Io,
  fn: (c: Connection) => Promise<T>,
  config: AppConfig = cliConfig(io),
): Promise<T> {
  const c = await connect(config);
  try {
    return await fn(c);
  } catch (err) {
    if (err instanceof CommandError) throw err;
    if (err instanceof Error && /connection|ECONN|ETIMEDOUT|EPIPE|closed/i.test(err.message)) {
      throw redisFailure(config, err);
    }
    throw err;
  } finally {
    await c.close();
  }
}

/**
 * `withConnection` for the commands that write (replay, resync, adopt, discard): refused on a Redis that may
 * evict keys, with the apps' own check and sentence (ingest and workers refuse to start there), exit 2.
 */
export async function withWritingConnection<T>(
  io: Io,
  fn: (c: Connection) => Promise<T>,
  config: AppConfig = cliConfig(io),
): Promise<T> {
  return withConnection(
    io,
    async (c) => {
      await refuseEvictingRedis(c);
      // An upgrade from the layout before hash tags, when the CLI writes before any app ran (docs/redis.md).
      await migrateKeyLayout(c.redis, c.config.redis.keyPrefix, c.config.connector.id);
      return fn(c);
    },
    config,
  );
}

/** The check of withWritingConnection, for a command that manages its connection itself (probe). */
export async function refuseEvictingRedis(c: Connection): Promise<void> {
  try {
    await assertNoEviction(c.redis);
  } catch (err) {
    throw new CommandError(`refusing to write: ${(err as Error).message}`, EXIT_USAGE);
  }
}

/**
 * The connector's queues for reading only: `skipMetasUpdate` so that looking (possibly at a mistyped
 * CONNECTOR_ID) writes nothing to Redis. Same keys as createQueues.
 */
export function readQueues(c: Connection): ConnectorQueues {
  const opts = { connection: c.redis, prefix: c.keys.bullPrefix, skipMetasUpdate: true };
  const indicators = new Queue<Job>(QUEUE_INDICATORS, opts);
  const deadLetters = new Queue<DeadLetter>(QUEUE_DEAD_LETTERS, opts);
  for (const q of [indicators, deadLetters]) q.on('error', () => undefined);
  return {
    keys: c.keys,
    redis: c.redis,
    indicators,
    deadLetters,
    async close() {
      await Promise.all([indicators.close(), deadLetters.close()]);
    },
  };
}

/** The connector's queues as the apps create them (for writes: replay re-enqueues jobs). */
export function writeQueues(c: Connection): ConnectorQueues {
  const q = createQueues(c.redis, c.config.redis.keyPrefix, c.config.connector.id);
  for (const queue of [q.indicators, q.deadLetters]) queue.on('error', () => undefined);
  return q;
}

export function syncState(c: Connection): SyncState {
  return new SyncState(c.redis, { keyPrefix: c.config.redis.keyPrefix, connectorId: c.config.connector.id });
}
