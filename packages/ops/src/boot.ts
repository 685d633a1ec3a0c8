import { writeSync } from 'node:fs';
import { type AppConfig, type AppName, secretsOf, startupConfig } from '@octi-sekoia/config';
import { createLogger, type Logger, redact } from '@octi-sekoia/logger';
import type { Cluster, Redis } from 'ioredis';
import { HEAP_GROWING_PERCENT, limitHeapGrowth, missingNodeFlags } from './heap.ts';
import { connectRedis, redisSettingsProblem } from './redis.ts';

/** What every app starts with: its checked configuration and settings, its logger and its Redis connection. */
export interface BootedApp<S = undefined> {
  config: AppConfig;
  /** What `settings` derived from the configuration. */
  settings: S;
  log: Logger;
  /** Removes the configured secrets (tokens, keys, passwords) from a text. */
  redact: (text: string) => string;
  redis: Redis | Cluster;
}

export interface BootOptions<S> {
  /**
   * The app's settings from the configuration, checked before Redis is contacted: a thrown error's message is
   * one `config error:` line on stderr, exit 2.
   */
  settings?: (config: AppConfig) => S;
  /**
   * A check of the Redis connection that must pass before the app starts (the apps pass the queue package's
   * `assertNoEviction`): a failure is logged as fatal (redacted) and exits 2.
   */
  checkRedis?: (redis: Redis | Cluster) => Promise<void>;
}

/**
 * The start-up prologue of an app's main.ts: the heap's growth limited (limitHeapGrowth), the configuration and
 * the app's settings (one `config error:` line per problem, exit 2), a JSON logger that redacts the configured
 * secrets, the configuration's warnings logged, the Redis connection (its errors logged redacted, never fatal:
 * ioredis reconnects) and `checkRedis`.
 */
export async function bootApp<S = undefined>(
  name: AppName,
  opts: BootOptions<S> = {},
): Promise<BootedApp<S>> {
  limitHeapGrowth(HEAP_GROWING_PERCENT[name]);
  const { config, warnings } = startupConfig(name);
  let settings: S;
  try {
    settings = opts.settings ? opts.settings(config) : (undefined as S);
  } catch (err) {
    // Synchronous write: nothing may be lost to the exit that follows.
    writeSync(2, `config error: ${(err as Error).message}\n`);
    process.exit(2);
  }
  // Every app redacts every configured secret, also ones it does not use (compose hands one .env to all).
  const secrets = secretsOf(config);
  const log = createLogger({
    level: config.connector.logLevel,
    name,
    secrets,
    base: { connectorId: config.connector.id },
  });
  for (const warning of warnings) log.warn(warning);
  const missing = missingNodeFlags(name);
  if (missing.length > 0)
    log.warn(
      { missing },
      `started without ${missing.join(' ')} on the node command line (as the image's command passes it): more resident memory (packages/ops README, "Memory")`,
    );
  const redis = connectRedis(config.redis);
  let booting = true;
  redis.once('ready', () => {
    booting = false;
  });
  redis.on('error', (err) => {
    // Until Redis first answers, credentials or a CA that it refuses are a configuration error: one line, exit 2
    // (not a warning per reconnect, forever). Later (a rotation) the app keeps retrying, as for Redis down.
    const problem = booting ? redisSettingsProblem(err) : undefined;
    if (problem) {
      log.fatal({ err: redact(problem, secrets) }, 'refusing to start');
      process.exit(2);
    }
    log.warn({ err: redact(err.message, secrets) }, 'redis connection error');
  });
  if (opts.checkRedis) {
    try {
      await opts.checkRedis(redis);
    } catch (err) {
      const e = err as Error;
      log.fatal({ err: redact(redisSettingsProblem(e) ?? e.message, secrets) }, 'refusing to start');
      process.exit(2);
    }
  }
  return { config, settings, log, redact: (text) => redact(text, secrets), redis };
}
