import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisSettings {
  url: string;
  password?: string;
  tls: boolean;
  tlsCaFile?: string;
}

/**
 * A Redis connection from the configuration: REDIS_PASSWORD overrides a password in the URL, REDIS_TLS (or a
 * `rediss://` URL) turns TLS on, REDIS_TLS_CA_FILE trusts a private CA. `maxRetriesPerRequest: null` because
 * BullMQ workers require it and every app shares the setting; commands wait for a reconnect instead of failing.
 */
export function connectRedis(settings: RedisSettings, extra: RedisOptions = {}): Redis {
  const tlsOn = settings.tls || settings.url.startsWith('rediss://');
  const options: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    // Reconnect forever with a capped backoff: Redis restarts must not kill the apps.
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 10_000),
    ...(settings.password ? { password: settings.password } : {}),
    ...(tlsOn ? { tls: settings.tlsCaFile ? { ca: readFileSync(settings.tlsCaFile) } : {} } : {}),
    ...extra,
  };
  // ioredis lets a password in the URL win over the option: drop it when REDIS_PASSWORD is set.
  const url = new URL(settings.url);
  if (settings.password) url.password = '';
  return new Redis(url.toString(), options);
}
