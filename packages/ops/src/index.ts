export { Counter, Gauge, Histogram, Registry } from 'prom-client';
export { type OpsServer, type OpsServerOptions, type Readiness, startOpsServer } from './ops-server.ts';
export { onShutdown, type ShutdownOptions } from './shutdown.ts';
