import { readFileSync } from 'node:fs';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

export interface RedisSettings {
  url: string;
  /** REDIS_CLUSTER_NODES: seed nodes of a Redis Cluster; REDIS_URL then only lends its credentials and TLS. */
  clusterNodes?: { host: string; port: number }[];
  password?: string;
  tls: boolean;
  tlsCaFile?: string;
}

/** Reconnect forever with a capped backoff: Redis restarts (or a cluster failover) must not kill the apps. */
const retryStrategy = (times: number) => Math.min(200 * 2 ** Math.min(times, 6), 10_000);

/**
 * A Redis connection from the configuration: REDIS_PASSWORD overrides a password in the URL, REDIS_TLS (or a
 * `rediss://` URL) turns TLS on, REDIS_TLS_CA_FILE trusts a private CA. `maxRetriesPerRequest: null` because
 * BullMQ workers require it and every app shares the setting; commands wait for a reconnect instead of failing.
 * With REDIS_CLUSTER_NODES, an ioredis Cluster over those seeds, the same credentials and TLS on every node
 * (docs/redis.md, "Redis Cluster").
 */
export function connectRedis(settings: RedisSettings, extra: RedisOptions = {}): Redis | Cluster {
  const url = new URL(settings.url);
  const tlsOn = settings.tls || url.protocol === 'rediss:';
  const options: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy,
    ...(settings.password ? { password: settings.password } : {}),
    ...(tlsOn ? { tls: settings.tlsCaFile ? { ca: readFileSync(settings.tlsCaFile) } : {} } : {}),
    ...extra,
  };
  if (settings.clusterNodes && settings.clusterNodes.length > 0) {
    return new Cluster(settings.clusterNodes, clusterOptions(url, options));
  }
  // ioredis lets a password in the URL win over the option: drop it when REDIS_PASSWORD is set.
  if (settings.password) url.password = '';
  return new Redis(url.toString(), options);
}

/**
 * ioredis Cluster options: node options are `redisOptions` (with the URL's ACL user and password, unless
 * REDIS_PASSWORD), the reconnect policy is `clusterRetryStrategy`. While a failover promotes a replica, the
 * cluster answers CLUSTERDOWN / TRYAGAIN or a node is unreachable: commands are retried (redirections without a
 * limit that would fail them during the election) instead of failing work.
 */
function clusterOptions(url: URL, options: RedisOptions): ClusterOptions {
  const { retryStrategy: clusterRetryStrategy, enableReadyCheck, ...node } = options;
  return {
    redisOptions: {
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password && !options.password ? { password: decodeURIComponent(url.password) } : {}),
      ...node,
    },
    ...(clusterRetryStrategy ? { clusterRetryStrategy } : {}),
    enableReadyCheck: enableReadyCheck ?? true,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: 1_000,
    slotsRefreshTimeout: 2_000,
  };
}
