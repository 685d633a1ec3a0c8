// Memory at size: RSS of ingest and of each worker (/proc VmRSS at the end, VmHWM = peak) and Redis memory per
// synced value, after an initial sync of `size` values (shared fields by default so that 100,000 values fit in the
// default run; `--memory-data realistic` for per-indicator fields: one create per value, much slower), no
// latency, no budget, 2 workers. Redis is measured twice:
// the exact memory of every key under the run's prefix (MEMORY USAGE, by category — unaffected by other users of
// the shared Redis) and the INFO used_memory delta (includes allocator overhead, but also whatever other users
// of the same Redis did meanwhile).
import { NODE_FLAGS } from '@octi-sekoia/ops';
import { metricSum, round } from '../lib/children.ts';
import { info, memoryByCategory } from '../lib/redis.ts';
import { fmt, loadScenario, type Row, type SuiteContext, type SuiteResult } from '../lib/result.ts';
import { type DataShape, Stack } from '../lib/stack.ts';
import { NO_BUDGET } from './scaling.ts';

/** Issue 18's aim for a worker's resident memory at 100,000 values (ingest is held to it too, as a yardstick). */
const WORKER_RSS_AIM_MB = 150;

/** RSS, its peak, the V8 heap next to it (live objects and garbage not yet collected) and the CPU it took. */
function appMemory(m: {
  app: string;
  rssMb: number;
  peakRssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  cpuSeconds: number;
}): string {
  return `${m.app} ${fmt(m.rssMb, 0)} MB (peak ${fmt(m.peakRssMb, 0)}, V8 heap used ${fmt(m.heapUsedMb, 0)} of ${fmt(m.heapTotalMb, 0)} MB, ${fmt(m.cpuSeconds, 0)} CPU s)`;
}

export async function runMemory(
  ctx: SuiteContext,
  size: number,
  data: DataShape = 'shared',
): Promise<SuiteResult> {
  const stack = await Stack.start({
    label: 'memory',
    redis: ctx.redis,
    logDir: ctx.logDir,
    latencyMs: 0,
    budget: NO_BUDGET,
    data,
  });
  try {
    const sc = loadScenario(stack.opencti, { values: size, seed: 1, sharedFields: data === 'shared' });
    const expected = stack.expected();
    const values = expected.size;
    ctx.log(`memory: ${sc.indicators} indicators, ${values} values loaded`);
    const before = Number((await info(stack.redis, 'memory')).used_memory);
    const t0 = Date.now();
    const apps = [await stack.startIngest(), await stack.startWorker(), await stack.startWorker()];
    await Promise.all(apps.map((a) => a.waitStarted(120_000)));
    const rssAtStart = apps.map((a) => ({ app: a.name, ...a.memory() }));
    const timeoutMs = 600_000 + size * 30;
    const conv = await stack.waitConverged(expected, {
      timeoutMs,
      onProgress: (live) => ctx.log(`memory: ${live}/${values} live in Sekoia`),
    });
    if (!conv.converged) throw new Error(`memory: no convergence: ${JSON.stringify(conv.diff)}`);
    const idle = await stack.waitIdle({ timeoutMs: 120_000, swept: 1 });
    const rss = await Promise.all(
      apps.map(async (a) => {
        // prom-client's default metrics: is the RSS live heap, or pages the process keeps after a peak?
        const text = await a.metricsText();
        const mb = (name: string) => round(metricSum(text, name) / 2 ** 20, 1);
        return {
          app: a.name,
          ...a.memory(),
          heapUsedMb: mb('nodejs_heap_size_used_bytes'),
          heapTotalMb: mb('nodejs_heap_size_total_bytes'),
          externalMb: mb('nodejs_external_memory_bytes'),
          // CPU of the whole run: what a smaller heap costs in garbage collection (packages/ops heap.ts).
          cpuSeconds: round(a.cpuSeconds(), 1),
        };
      }),
    );
    const after = Number((await info(stack.redis, 'memory')).used_memory);
    const keys = await memoryByCategory(stack.redis, stack.keyPrefix, stack.base);
    const perValue = keys.totalBytes / values;
    const perValueWithoutCompleted =
      (keys.totalBytes -
        (keys.byCategory['queue job hashes']?.bytes ?? 0) -
        (keys.byCategory['queue completed']?.bytes ?? 0) -
        (keys.byCategory['queue events']?.bytes ?? 0)) /
      values;
    const usedDeltaPerValue = (after - before) / values;
    const byCategory = Object.fromEntries(
      Object.entries(keys.byCategory)
        .sort((a, b) => b[1].bytes - a[1].bytes)
        .map(([k, v]) => [k, { ...v, bytesPerValue: round(v.bytes / values, 1) }]),
    );
    const worker = rss.filter((r) => r.app.startsWith('worker'));
    const maxWorkerRss = Math.max(...worker.map((w) => w.rssMb));
    const ingest = rss.find((r) => r.app === 'ingest')!;
    const rows: Row[] = [
      {
        figure: 'Redis bytes per synced value (keys under the prefix)',
        value: `${fmt(perValue, 0)} B (${fmt(keys.totalBytes / 1e6, 1)} MB for ${values} values, ${keys.keys} keys); without the kept completed jobs ${fmt(perValueWithoutCompleted, 0)} B`,
        aim: '≤ 600 B per synced value (issue 17; stretch 300)',
        met: perValue <= 600,
      },
      {
        figure: 'Redis INFO used_memory delta per value',
        value: `${fmt(usedDeltaPerValue, 0)} B (shared Redis: includes other users' changes)`,
      },
      // Every key family, largest first: bytes per value (keys). A family whose key count grows with the events
      // rather than the live values (completed jobs kept by age did) shows here.
      ...Object.entries(byCategory)
        .filter(([, v]) => v.bytesPerValue >= 1)
        .map(([k, v]) => ({
          figure: `  ${k}`,
          value: `${fmt(v.bytesPerValue, 0)} B per value (${v.keys} key${v.keys === 1 ? '' : 's'}, ${fmt(v.bytes / 1e6, 1)} MB)`,
        })),
      {
        figure: '  other key families (each < 1 B per value)',
        value: `${fmt(
          Object.values(byCategory)
            .filter((v) => v.bytesPerValue < 1)
            .reduce((a, v) => a + v.bytes, 0) / values,
          1,
        )} B per value (${Object.values(byCategory).filter((v) => v.bytesPerValue < 1).length} families)`,
      },
      {
        figure: `worker RSS at the end (${values} values)`,
        value: `${worker.map(appMemory).join('; ')}; just after start ${rssAtStart
          .filter((r) => r.app.startsWith('worker'))
          .map((r) => `${fmt(r.rssMb, 0)} MB`)
          .join(', ')}; highest ${fmt(maxWorkerRss / WORKER_RSS_AIM_MB, 2)}× the aim`,
        aim: `≤ ${WORKER_RSS_AIM_MB} MB at 100,000 values`,
        met: values >= 95_000 ? maxWorkerRss <= WORKER_RSS_AIM_MB : null,
      },
      {
        figure: 'ingest RSS at the end',
        value: `${appMemory(ingest)}; ${fmt(ingest.rssMb / WORKER_RSS_AIM_MB, 2)}× the workers' aim`,
      },
    ];
    return {
      suite: 'memory',
      title: 'Memory (RSS, Redis per synced value)',
      conditions: {
        values,
        indicators: sc.indicators,
        streamEvents: sc.events,
        data:
          data === 'shared'
            ? 'shared fields (as initial-sync (a); --memory-data realistic for per-indicator fields)'
            : 'realistic per-indicator fields (default description template, no rounding)',
        workers: 2,
        // As the image's command passes them (packages/ops heap.ts): the young generation's cap is in the RSS.
        workerNodeFlags: NODE_FLAGS.worker.join(' ') || 'none',
        sekoiaLatencyMs: 0,
        budget: `${NO_BUDGET.rps} req/s (no limit in practice)`,
        measuredAt: 'after convergence, queue drained, dirty set empty and generation 1 swept',
      },
      figures: {
        values,
        secondsToConvergence: round((conv.convergedAt - t0) / 1000, 1),
        idle: idle.idle,
        rss,
        rssAtStart,
        redisUsedMemoryBefore: before,
        redisUsedMemoryAfter: after,
        redisUsedMemoryDeltaPerValue: round(usedDeltaPerValue, 1),
        redisKeysTotalBytes: keys.totalBytes,
        redisKeys: keys.keys,
        redisBytesPerValue: round(perValue, 1),
        redisBytesPerValueWithoutCompletedJobs: round(perValueWithoutCompleted, 1),
        byCategory,
      },
      rows,
      notes: [
        ...(values < 95_000
          ? [`worker RSS aim is stated at 100,000 values; this run had ${values} (run with --size 100000)`]
          : []),
        `logs: ${stack.logDir}`,
      ],
    };
  } finally {
    await stack.close();
  }
}
