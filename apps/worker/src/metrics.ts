import { Counter, Gauge, Histogram, type Registry } from '@octi-sekoia/ops';

/** The worker's Prometheus metrics (registered on the ops server's registry). */
export function workerMetrics(registry: Registry) {
  const r = [registry];
  return {
    jobs: new Counter({
      name: 'worker_jobs_total',
      help: 'Jobs handled, by kind (indicator, sweep) and outcome (applied, stale, duplicate, stale-generation, lock-lost, swept, sweep-deferred, retry, failed, handed-back)',
      labelNames: ['kind', 'outcome'],
      registers: r,
    }),
    sekoiaRequests: new Counter({
      name: 'worker_sekoia_requests_total',
      help: 'Sekoia.io calls by endpoint and status (HTTP status, or ok / a network error code)',
      labelNames: ['endpoint', 'status'],
      registers: r,
    }),
    sekoiaHttpRequests: new Counter({
      name: 'worker_sekoia_http_requests_total',
      help: 'HTTP requests sent to Sekoia.io by endpoint (a paged search is one call, several requests)',
      labelNames: ['endpoint'],
      registers: r,
    }),
    sekoiaLatency: new Histogram({
      name: 'worker_sekoia_request_duration_seconds',
      help: 'Duration of Sekoia.io calls by endpoint (a paged search counts all its pages)',
      labelNames: ['endpoint'],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    batchSize: new Histogram({
      name: 'worker_create_batch_size',
      help: 'Values per create request (POST …/indicators)',
      buckets: [1, 2, 5, 10, 25, 50, 75, 100],
      registers: r,
    }),
    values: new Counter({
      name: 'worker_values_total',
      help: 'Reconcile outcomes per value: created, edited, revoked, force-deleted, searched, rejected',
      labelNames: ['action'],
      registers: r,
    }),
    dirty: new Gauge({
      name: 'worker_dirty_values',
      help: 'Values in the dirty set (waiting to be reconciled, or waiting for a retry)',
      registers: r,
    }),
    dirtyDue: new Gauge({
      name: 'worker_dirty_values_due',
      help: 'Dirty values due now',
      registers: r,
    }),
    deadLetters: new Counter({
      name: 'worker_dead_letters_total',
      help: 'Dead letters written by this worker, by kind (job, value)',
      labelNames: ['kind'],
      registers: r,
    }),
    circuitOpen: new Gauge({
      name: 'worker_circuit_open',
      help: '1 while the circuit is open (401/403/collection gone: no job taken), by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    budgetPauses: new Counter({
      name: 'worker_budget_pauses_total',
      help: 'Request-budget pauses caused by a 429 or a WAF block',
      labelNames: ['source'],
      registers: r,
    }),
    budgetPausedSeconds: new Gauge({
      name: 'worker_budget_paused_seconds',
      help: 'Remaining pause of the shared request budget',
      registers: r,
    }),
    collectionIocs: new Gauge({
      name: 'worker_collection_iocs',
      help: 'IOC quota of the community (count-total-iocs): used and max',
      labelNames: ['kind'],
      registers: r,
    }),
    collectionIndicators: new Gauge({
      name: 'worker_collection_indicators',
      help: 'Live indicators in the IOC collection (GET collection, indicators_count)',
      registers: r,
    }),
    quotaFull: new Gauge({
      name: 'worker_quota_full',
      help: '1 while creates are stopped because the IOC quota is used up',
      registers: r,
    }),
    sweepKept: new Gauge({
      name: 'worker_sweep_kept_indicators',
      help: 'Indicators the last sweep kept although not seen in its generation, because a dead letter names them (replay or discard it)',
      registers: r,
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof workerMetrics>;
