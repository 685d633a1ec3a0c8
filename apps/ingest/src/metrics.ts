import { Counter, Gauge, Histogram, type Registry } from '@octi-sekoia/ops';

export function ingestMetrics(registry: Registry, now: () => number = Date.now) {
  const r = [registry];
  /** Millisecond part of the last id read (data or heartbeat); undefined when this replica does not read. */
  let lastReadMs: number | undefined;
  const events = new Counter({
    name: 'ingest_stream_events_total',
    help: 'Stream messages read, by SSE event type',
    labelNames: ['type'],
    registers: r,
  });
  /** Counter children by label, so the per-message path does not hash label objects. */
  const eventCounters = new Map<string, { inc(): void }>();
  return {
    /**
     * The stream position this replica has read up to. Heartbeats count: an idle OpenCTI sends ids that keep
     * advancing (`<now>-0`, docs/opencti-api.md), so a reader that is caught up shows a lag of seconds, and
     * one that reads nothing (stalled, disconnected) shows a lag that grows at every scrape.
     */
    streamRead(idMs: number | undefined): void {
      lastReadMs = idMs;
    },
    /** One stream message of SSE event type `type`. */
    countEvent(type: string): void {
      let c = eventCounters.get(type);
      if (!c) {
        c = events.labels({ type });
        if (eventCounters.size < 100) eventCounters.set(type, c);
      }
      c.inc();
    },
    skipped: new Counter({
      name: 'ingest_skipped_total',
      help: 'Messages that produced no job, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    deadLettersRefused: new Counter({
      name: 'ingest_dead_letters_refused_total',
      help: 'Dead letters not stored because their total reached REDIS_DEAD_LETTERS_MAX_BYTES, by kind',
      labelNames: ['kind'],
      registers: r,
    }),
    frameProblems: new Counter({
      name: 'ingest_frame_problems_total',
      help: 'Frames whose SSE id is missing, not a <ms>-<seq> id, or below the previous one, by problem',
      labelNames: ['problem'],
      registers: r,
    }),
    findings: new Counter({
      name: 'ingest_findings_total',
      help: 'Indicator notes (invalid pattern, non-STIX pattern, value skipped)',
      labelNames: ['kind'],
      registers: r,
    }),
    jobs: new Counter({
      name: 'ingest_jobs_enqueued_total',
      help: 'Jobs enqueued, by operation',
      labelNames: ['op'],
      registers: r,
    }),
    batchSize: new Histogram({
      name: 'ingest_batch_size',
      help: 'Jobs per bulk enqueue',
      buckets: [1, 10, 50, 100, 250, 500, 1000],
      registers: r,
    }),
    lagSeconds: new Gauge({
      name: 'ingest_stream_lag_seconds',
      help: 'Now minus the time of the last stream id read (heartbeats included); 0 on a standby replica',
      registers: r,
      collect() {
        this.set(lastReadMs === undefined ? 0 : Math.max(0, (now() - lastReadMs) / 1000));
      },
    }),
    reconnects: new Counter({
      name: 'ingest_stream_reconnects_total',
      help: 'Stream reconnect attempts',
      registers: r,
    }),
    checkpointMs: new Gauge({
      name: 'ingest_checkpoint_timestamp_ms',
      help: 'Millisecond part of the committed checkpoint',
      registers: r,
    }),
    generation: new Gauge({ name: 'ingest_generation', help: 'Current sync generation', registers: r }),
    backlog: new Gauge({
      name: 'ingest_backlog_jobs',
      help: 'Jobs waiting in the indicators queue',
      registers: r,
    }),
    paused: new Gauge({
      name: 'ingest_paused',
      help: '1 while reading is paused by backpressure',
      registers: r,
    }),
    pings: new Counter({
      name: 'ingest_pings_total',
      help: 'pingConnector calls to OpenCTI (only the lease holder pings), by outcome',
      labelNames: ['outcome'],
      registers: r,
    }),
    leader: new Gauge({
      name: 'ingest_leader',
      help: '1 on the replica that holds the reader lease',
      registers: r,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof ingestMetrics>;
