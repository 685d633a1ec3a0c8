// Scaling without latency or budget (SEKOIA_INTEL_REQUESTS_PER_SECOND=1000 — the configured maximum — burst 1000): ingest alone fills
// the queue (no worker: jobs enqueued/s), then 1 or 2 workers drain the pre-filled queue until the collection
// equals the oracle. CPU seconds from /proc/<pid>/stat (utime + stime) of each child, start-up excluded.

import { type ExpectedIoc, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type App, machineCpu, metricSum, round } from '../lib/children.ts';
import { info } from '../lib/redis.ts';
import { fmt, loadScenario, type Row, type SuiteContext, type SuiteResult } from '../lib/result.ts';
import { Stack } from '../lib/stack.ts';

// The configuration caps SEKOIA_INTEL_REQUESTS_PER_SECOND at 1000: with batches of up to 100 values that is far
// above what the processes reach here, so it is no limit in practice.
export const NO_BUDGET = { rps: 1000, burst: 1000 };

async function redisCpuSeconds(stack: Stack): Promise<number> {
  const c = await info(stack.redis, 'cpu');
  return Number(c.used_cpu_user ?? 0) + Number(c.used_cpu_sys ?? 0);
}

async function waitForLog(app: App, msg: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = app.logs().find((l) => l.msg.startsWith(msg));
    if (line) return line.time;
    if (!app.running) throw new Error(`${app.name} exited (${app.exited})`);
    if (Date.now() > deadline) throw new Error(`${app.name}: no '${msg}' within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface IngestFill {
  events: number;
  jobs: number;
  values: number;
  seconds: number;
  eventsPerSecond: number;
  jobsPerSecond: number;
  valuesPerSecond: number;
  cpuSeconds: number;
  cpuSecondsPer1000Values: number;
  rssMb: number;
}

/** Starts ingest alone and waits until the whole recovery is enqueued (its sweep marker). */
export async function fillQueue(stack: Stack, values: number, timeoutMs: number): Promise<IngestFill> {
  const ingest = await stack.startIngest();
  const started = await ingest.waitStarted(120_000);
  const cpu0 = ingest.cpuSeconds();
  const done = await waitForLog(ingest, 'recovery enqueued', timeoutMs);
  const cpu = ingest.cpuSeconds() - cpu0;
  const text = await ingest.metricsText();
  const jobs =
    metricSum(text, 'ingest_jobs_enqueued_total') -
    metricSum(text, 'ingest_jobs_enqueued_total', { op: 'sweep' });
  const events = metricSum(text, 'ingest_stream_events_total');
  const seconds = (done - started) / 1000;
  return {
    events,
    jobs,
    values,
    seconds: round(seconds, 2),
    eventsPerSecond: round(events / seconds, 1),
    jobsPerSecond: round(jobs / seconds, 1),
    valuesPerSecond: round(values / seconds, 1),
    cpuSeconds: round(cpu, 2),
    cpuSecondsPer1000Values: round((cpu / values) * 1000, 3),
    rssMb: ingest.memory().rssMb,
  };
}

export interface Drain {
  workers: number;
  seconds: number;
  secondsIncludingStartup: number;
  valuesPerSecond: number;
  cpuSeconds: number[];
  cpuSecondsPer1000Values: number;
  requests: number;
  requestsPerValue: number;
  rssMb: number[];
  peakRssMb: number[];
  /**
   * Where the CPU went while draining: the machine's busy share (all users), cores used by the workers, by Redis
   * (INFO cpu: includes other users of a shared Redis) and by the bench process (simulators, polling).
   */
  cpuWindow: {
    seconds: number;
    machineBusyShare: number;
    workersCores: number;
    redisCores: number;
    benchProcessCores: number;
  };
  /** [seconds since the workers were spawned, live values in Sekoia]. */
  timeline: Array<[number, number]>;
  workerWrites: Awaited<ReturnType<Stack['workerStats']>>;
}

/** Starts `n` workers on the pre-filled queue and waits for convergence. */
export async function drainQueue(
  stack: Stack,
  n: number,
  timeoutMs: number,
  expected: Map<string, ExpectedIoc> = stack.expected(),
): Promise<Drain> {
  const t0 = Date.now();
  const workers: App[] = [];
  for (let i = 0; i < n; i++) workers.push(await stack.startWorker());
  const started = Math.max(...(await Promise.all(workers.map((w) => w.waitStarted(120_000)))));
  const cpu0 = workers.map((w) => w.cpuSeconds());
  const machine0 = machineCpu();
  const redis0 = await redisCpuSeconds(stack);
  const bench0 = process.cpuUsage();
  const conv = await stack.waitConverged(expected, { timeoutMs });
  if (!conv.converged)
    throw new Error(`scaling: ${n} worker(s) did not converge: ${JSON.stringify(conv.diff)}`);
  const cpu = workers.map((w, i) => round(w.cpuSeconds() - cpu0[i]!, 2));
  const machine1 = machineCpu();
  const redisCpu = (await redisCpuSeconds(stack)) - redis0;
  const benchCpu = process.cpuUsage(bench0);
  const windowSeconds = (Date.now() - started) / 1000;
  const mem = workers.map((w) => w.memory());
  const seconds = (conv.convergedAt - started) / 1000;
  const requests = stack.sekoia.control.requestCount();
  const workerWrites = await stack.workerStats();
  return {
    workers: n,
    seconds: round(seconds, 2),
    secondsIncludingStartup: round((conv.convergedAt - t0) / 1000, 2),
    valuesPerSecond: round(expected.size / seconds, 1),
    cpuSeconds: cpu,
    cpuSecondsPer1000Values: round((cpu.reduce((a, b) => a + b, 0) / expected.size) * 1000, 3),
    requests,
    requestsPerValue: round(requests / expected.size, 4),
    rssMb: mem.map((m) => m.rssMb),
    peakRssMb: mem.map((m) => m.peakRssMb),
    cpuWindow: {
      seconds: round(windowSeconds, 2),
      machineBusyShare: round((machine1.busy - machine0.busy) / (machine1.total - machine0.total), 3),
      workersCores: round(cpu.reduce((a, b) => a + b, 0) / windowSeconds, 2),
      redisCores: round(redisCpu / windowSeconds, 2),
      benchProcessCores: round((benchCpu.user + benchCpu.system) / 1e6 / windowSeconds, 2),
    },
    timeline: conv.timeline.map(([t, v]) => [round(t + (started - t0) / 1000, 1), v] as [number, number]),
    workerWrites,
  };
}

export async function runScaling(ctx: SuiteContext, size: number, repeat = 2): Promise<SuiteResult> {
  const fills: IngestFill[] = [];
  const drains: Drain[] = [];
  // One OpenCTI simulator loaded once; every run gets a fresh Sekoia simulator, connector id and key prefix.
  const opencti = await startOpenCtiSimulator({ heartbeatMs: 1000 });
  let values = 0;
  let indicators = 0;
  try {
    const sc = loadScenario(opencti, { values: size, seed: 1, sharedFields: true });
    indicators = sc.indicators;
    let expected: Map<string, ExpectedIoc> | undefined;
    for (let r = 0; r < repeat; r++) {
      for (const n of r % 2 === 0 ? [1, 2] : [2, 1]) {
        const stack = await Stack.start({
          label: `scale-${n}`,
          redis: ctx.redis,
          logDir: ctx.logDir,
          latencyMs: 0,
          budget: NO_BUDGET,
          data: 'shared',
          opencti,
          // No worker while ingest fills the queue: no backpressure pause.
          env: {
            INGEST_HIGH_WATERMARK: String(10 * size + 100_000),
            INGEST_LOW_WATERMARK: String(10 * size + 99_999),
          },
        });
        try {
          expected ??= stack.expected();
          values = expected.size;
          const timeoutMs = 300_000 + size * 20;
          const fill = await fillQueue(stack, values, timeoutMs);
          fills.push(fill);
          ctx.log(
            `scaling: ingest alone enqueued ${fill.jobs} jobs in ${fill.seconds} s (${fill.jobsPerSecond} jobs/s)`,
          );
          const drain = await drainQueue(stack, n, timeoutMs, expected);
          drains.push(drain);
          ctx.log(
            `scaling: ${n} worker(s) drained ${values} values in ${drain.seconds} s (${drain.valuesPerSecond} values/s)`,
          );
        } finally {
          await stack.close();
        }
      }
    }
  } finally {
    await opencti.close();
  }
  // Best run of each kind: on a shared machine the fastest run is the least disturbed one.
  const bestOf = (n: number) =>
    drains.filter((d) => d.workers === n).reduce((a, b) => (b.valuesPerSecond > a.valuesPerSecond ? b : a));
  const one = bestOf(1);
  const two = bestOf(2);
  const speedup = two.valuesPerSecond / one.valuesPerSecond;
  const runs = (n: number) =>
    drains
      .filter((d) => d.workers === n)
      .map((d) => fmt(d.valuesPerSecond, 0))
      .join(', ');
  const best = fills.reduce((a, b) => (b.jobsPerSecond > a.jobsPerSecond ? b : a));
  const rows: Row[] = [
    {
      figure: 'ingest alone (no worker): jobs enqueued/s',
      value: `best ${fmt(best.jobsPerSecond, 0)} jobs/s = ${fmt(best.valuesPerSecond, 0)} values/s (${fmt(best.eventsPerSecond, 0)} events/s); runs: ${fills.map((f) => fmt(f.jobsPerSecond, 0)).join(', ')} jobs/s`,
    },
    {
      figure: 'ingest CPU s per 1,000 values',
      value: fills.map((f) => fmt(f.cpuSecondsPer1000Values, 3)).join(', '),
    },
    {
      figure: '1 worker: values/s (pre-filled queue → converged), best of runs',
      value: `${fmt(one.valuesPerSecond, 0)} (${fmt(one.seconds, 1)} s; CPU ${fmt(one.cpuSecondsPer1000Values, 3)} s per 1,000 values); runs: ${runs(1)}`,
    },
    {
      figure: '2 workers: values/s, best of runs',
      value: `${fmt(two.valuesPerSecond, 0)} (${fmt(two.seconds, 1)} s; CPU ${fmt(two.cpuSecondsPer1000Values, 3)} s per 1,000 values); runs: ${runs(2)}`,
    },
    {
      figure: 'CPU while draining (best runs: 1 worker / 2 workers)',
      value: [one, two]
        .map(
          (d) =>
            `machine ${fmt(d.cpuWindow.machineBusyShare * 100, 0)} % busy, workers ${fmt(d.cpuWindow.workersCores, 2)} cores, Redis ${fmt(d.cpuWindow.redisCores, 2)}, bench+simulators ${fmt(d.cpuWindow.benchProcessCores, 2)}`,
        )
        .join(' / '),
    },
    {
      figure: '2 workers ÷ 1 worker (best runs)',
      value: `${fmt(speedup, 2)}×`,
      aim: '≥ 1.6×',
      met: speedup >= 1.6,
    },
  ];
  return {
    suite: 'scaling',
    title: 'Scaling (no latency, no budget)',
    conditions: {
      values,
      indicators,
      data: 'shared fields (as initial-sync (a))',
      sekoiaLatencyMs: 0,
      budget: `${NO_BUDGET.rps} req/s, burst ${NO_BUDGET.burst} (no limit in practice)`,
      method:
        'per run a fresh stack (Sekoia simulator, connector id, key prefix; the loaded OpenCTI simulator is shared): ingest alone enqueues the whole snapshot (until its sweep marker), then the workers are started; time from the workers’ `started` log line to convergence; CPU = /proc utime+stime over the same window; runs alternate 1,2 / 2,1; the best run of each kind is compared',
      repeat,
      cores: 'the 2 cores are shared by ingest, the workers, Redis, both simulators and the bench process',
    },
    figures: { ingestAlone: fills, drains, twoOverOne: round(speedup, 3), bestIngest: best, repeat },
    rows,
    notes: [],
  };
}
