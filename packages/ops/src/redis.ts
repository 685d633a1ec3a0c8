import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where Redis is: the three topologies an operator can configure (README, "Redis topologies"). The configuration
 * (packages/config) guarantees exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES was given.
 */
export type RedisTopology =
  | { kind: 'standalone'; url: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; masterName: string; sentinelPassword?: string }
  | { kind: 'cluster'; nodes: HostPort[] };

/**
 * The Redis part of the configuration (AppConfig['redis'], structurally). `username`, `password`, `tls` and
 * `tlsCaFile` apply to every data node of every topology (REDIS_URL's own user/password/`rediss://` only to it).
 */
export interface RedisSettings {
  url: string;
  sentinels?: HostPort[];
  sentinelMaster?: string;
  sentinelPassword?: string;
  clusterNodes?: HostPort[];
  username?: string;
  password?: string;
  tls: boolean;
  tlsCaFile?: string;
}

/** The one place that turns the settings into a topology. */
export function redisTopology(settings: RedisSettings): RedisTopology {
  if (settings.clusterNodes && settings.clusterNodes.length > 0) {
    return { kind: 'cluster', nodes: settings.clusterNodes };
  }
  if (settings.sentinels && settings.sentinels.length > 0) {
    if (!settings.sentinelMaster) throw new Error('REDIS_SENTINELS needs REDIS_SENTINEL_MASTER');
    return {
      kind: 'sentinel',
      sentinels: settings.sentinels,
      masterName: settings.sentinelMaster,
      ...(settings.sentinelPassword ? { sentinelPassword: settings.sentinelPassword } : {}),
    };
  }
  return { kind: 'standalone', url: settings.url };
}

const hostPort = (n: HostPort) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`);

/** Where the app connects, for logs and CLI output: never a password. */
export function describeRedis(settings: RedisSettings): string {
  const t = redisTopology(settings);
  switch (t.kind) {
    case 'standalone': {
      try {
        const u = new URL(t.url);
        if (u.password) u.password = '***';
        return u.toString().replace(/\/$/, '');
      } catch {
        return '(unparsable REDIS_URL)';
      }
    }
    case 'sentinel':
      return `sentinel master "${t.masterName}" via ${t.sentinels.map(hostPort).join(',')}`;
    case 'cluster':
      return `cluster via ${t.nodes.map(hostPort).join(',')}`;
  }
}

/** Reconnect forever with a capped backoff: Redis restarts (or a failover) must not kill the apps. */
const retryStrategy = (times: number) => Math.min(200 * 2 ** Math.min(times, 6), 10_000);

/**
 * Options every topology shares. `maxRetriesPerRequest: null` because BullMQ workers require it and every app
 * shares the setting; commands wait for a reconnect instead of failing.
 */
function baseOptions(settings: RedisSettings, tlsOn: boolean): RedisOptions {
  return {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy,
    ...(settings.username ? { username: settings.username } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    ...(tlsOn ? { tls: tlsOptions(settings) } : {}),
  };
}

function tlsOptions(settings: RedisSettings): ConnectionOptions {
  return settings.tlsCaFile ? { ca: readFileSync(settings.tlsCaFile) } : {};
}

/**
 * A Redis connection from the configuration, whatever the topology.
 *
 * - standalone: REDIS_USERNAME / REDIS_PASSWORD override the user / password in REDIS_URL, REDIS_TLS (or a
 *   `rediss://` URL) turns TLS on, REDIS_TLS_CA_FILE trusts a private CA.
 * - sentinel: ioredis asks the sentinels for the current master of REDIS_SENTINEL_MASTER and follows failovers.
 *   A failover ends with Sentinel killing the old master's clients (CLIENT KILL TYPE normal, part of its
 *   reconfiguration), so the connection comes back to the new master; a READONLY reply (a write that reached
 *   a demoted master first) reconnects and resends too. REDIS_TLS applies to the sentinels as well (a TLS
 *   deployment has TLS sentinels); REDIS_SENTINEL_PASSWORD authenticates to them.
 * - cluster: an ioredis Cluster over the seed nodes, the same credentials and TLS on every node.
 */
export function connectRedis(settings: RedisSettings, extra: RedisOptions = {}): Redis | Cluster {
  const topology = redisTopology(settings);
  switch (topology.kind) {
    case 'standalone': {
      const tlsOn = settings.tls || topology.url.startsWith('rediss://');
      // ioredis lets a user/password in the URL win over the options: drop them when set separately.
      const url = new URL(topology.url);
      if (settings.password) url.password = '';
      if (settings.username) url.username = '';
      return new Redis(url.toString(), { ...baseOptions(settings, tlsOn), ...extra });
    }
    case 'sentinel': {
      const tls = settings.tls ? tlsOptions(settings) : undefined;
      return new Redis({
        ...baseOptions(settings, settings.tls),
        sentinels: topology.sentinels,
        name: topology.masterName,
        ...(topology.sentinelPassword ? { sentinelPassword: topology.sentinelPassword } : {}),
        ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
        // All sentinels unreachable: keep asking, with the same capped backoff as the data connection.
        sentinelRetryStrategy: retryStrategy,
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
        ...extra,
      });
    }
    case 'cluster':
      return new Cluster(
        topology.nodes,
        clusterOptions({ ...baseOptions(settings, settings.tls), ...extra }),
      );
  }
}

/**
 * ioredis Cluster options: node options are `redisOptions`, the reconnect policy is `clusterRetryStrategy`,
 * `lazyConnect` the cluster's.
 * While a failover promotes a replica, the cluster answers CLUSTERDOWN / TRYAGAIN or a node is unreachable:
 * commands are retried (redirections without a limit that would fail them during the election) instead of
 * failing work.
 */
function clusterOptions(options: RedisOptions): ClusterOptions {
  const { retryStrategy: clusterRetryStrategy, enableReadyCheck, lazyConnect, ...node } = options;
  return {
    redisOptions: node,
    // The cluster's own: the node connections are made by the cluster when it connects.
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(clusterRetryStrategy ? { clusterRetryStrategy } : {}),
    enableReadyCheck: enableReadyCheck ?? true,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: 1_000,
    slotsRefreshTimeout: 2_000,
  };
}

/** Node's codes for a server certificate that the configured CA does not vouch for (or that names another host). */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * What is wrong with the Redis settings when a connection error says so (a retry cannot fix it): Redis refused
 * the credentials, or its TLS certificate is not trusted. The message names the variables; undefined for any
 * other error (Redis down, a failover: ioredis retries those). The caller redacts it like every log line.
 */
export function redisSettingsProblem(err: Error & { code?: string }): string | undefined {
  if (/^(WRONGPASS|NOAUTH)\b/.test(err.message))
    return `Redis refused the credentials (REDIS_USERNAME / REDIS_PASSWORD, or those in REDIS_URL): ${err.message}`;
  if (err.code && UNTRUSTED_CERTIFICATE.has(err.code))
    return `Redis's TLS certificate is not trusted (${err.code}): set REDIS_TLS_CA_FILE to the CA that signed it, for the host in the Redis settings`;
  return undefined;
}
