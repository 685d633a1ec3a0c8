export { Counter, Gauge, Histogram, Registry } from 'prom-client';
export { type BootedApp, type BootOptions, bootApp } from './boot.ts';
export { HEAP_GROWING_PERCENT, limitHeapGrowth } from './heap.ts';
export { ListenError, type ListenTarget, listenOn, listenOrExit, listenProblem } from './listen.ts';
export { type OpsServer, type OpsServerOptions, type Readiness, startOpsServer } from './ops-server.ts';
export {
  connectRedis,
  describeRedis,
  type HostPort,
  type RedisSettings,
  type RedisTopology,
  redisTopology,
} from './redis.ts';
export { onShutdown, type ShutdownOptions } from './shutdown.ts';
