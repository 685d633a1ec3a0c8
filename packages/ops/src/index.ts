export { Counter, Gauge, Histogram, Registry } from 'prom-client';
export { bootApp } from './boot.ts';
export { coalesceWrites } from './coalesce-writes.ts';
export { NODE_FLAGS } from './heap.ts';

export { ListenError, type ListenTarget, listenOn, listenOrExit } from './listen.ts';
export { type Readiness, startOpsServer } from './ops-server.ts';
export { connectRedis, describeRedis } from './redis.ts';
export { onShutdown } from './shutdown.ts';
