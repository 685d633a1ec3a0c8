export { jsonLogEntries, startEntryPoint, tempConfigFile } from './entry-point.ts';
export { freePort } from './ports.ts';
export { type ManagedProcess, startProcess } from './process.ts';
export { REDIS_TEST_URL, type TestRedis, testRedis } from './redis.ts';
export { type RedisCluster, startRedisCluster } from './redis-cluster.ts';
export { type SentinelSet, startSentinelSet } from './redis-sentinel.ts';
export { type RedisServer, startRedisServer } from './redis-server.ts';
export { startTlsRedisServer, type TlsRedisServer } from './redis-tls.ts';
export { waitFor } from './wait-for.ts';
