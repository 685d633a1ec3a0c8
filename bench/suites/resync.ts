// Full re-sync of an unchanged collection. The initial sync runs fast (no latency, no budget); then the Sekoia
// latency is set to 20 ms and both workers are replaced by workers with the 5 req/s budget (burst 5), and a
// re-sync is requested the way the CLI does it (SET <prefix>:<connector>:resync-requested to an ISO date; ingest
// polls it and starts generation G+1: recovery from 0-0, then a sweep marker). Measured: Sekoia requests
// (simulator counters, delta) and the time until generation G+1 is swept and the dirty set and the queue are
// empty — and that the collection still equals the oracle.
import { round } from '../lib/children.ts';
import { fmt, loadScenario, type SuiteContext, type SuiteResult } from '../lib/result.ts';
import { Stack } from '../lib/stack.ts';
import { BUDGET, LATENCY_MS } from './initial-sync.ts';
import { NO_BUDGET } from './scaling.ts';

export async function runResync(ctx: SuiteContext, size: number): Promise<SuiteResult> {
  const stack = await Stack.start({
    label: 'resync',
    redis: ctx.redis,
    logDir: ctx.logDir,
    latencyMs: 0,
    budget: NO_BUDGET,
    data: 'shared',
  });
  try {
    const sc = loadScenario(stack.opencti, { values: size, seed: 1, sharedFields: true });
    const expected = stack.expected();
    const values = expected.size;
    const apps = [await stack.startIngest(), await stack.startWorker(), await stack.startWorker()];
    await Promise.all(apps.map((a) => a.waitStarted(120_000)));
    const first = await stack.waitConverged(expected, { timeoutMs: 300_000 + values * 20 });
    if (!first.converged)
      throw new Error(`resync: the initial sync did not converge: ${JSON.stringify(first.diff)}`);
    const g1 = await stack.generation();
    await stack.waitIdle({ timeoutMs: 120_000, swept: g1 });
    const initialRequests = stack.sekoia.control.requestCount();
    // The re-sync runs under the real conditions: 20 ms latency, workers with the 5 req/s budget.
    stack.sekoia.control.setFaults({ latencyMs: LATENCY_MS });
    for (const w of stack.workers) {
      await w.stop();
      stack.apps.splice(stack.apps.indexOf(w), 1);
    }
    const budgetEnv = {
      SEKOIA_INTEL_REQUESTS_PER_SECOND: String(BUDGET.rps),
      SEKOIA_INTEL_REQUEST_BURST: String(BUDGET.burst),
    };
    const workers = [
      await stack.startWorker(undefined, budgetEnv),
      await stack.startWorker(undefined, budgetEnv),
    ];
    await Promise.all(workers.map((w) => w.waitStarted(120_000)));
    // Let the restarted workers settle (their start-up reads) before the re-sync is requested.
    await new Promise((r) => setTimeout(r, 2000));
    ctx.log(
      `resync: initial sync of ${values} values done (${initialRequests} requests); requesting a re-sync`,
    );

    const before = stack.sekoia.control.counters();
    const requestsBefore = stack.sekoia.control.requestCount();
    const sampler = stack.sampleRequests();
    const t0 = Date.now();
    await stack.redis.set(stack.keys.resyncRequested, new Date(t0).toISOString());
    // Bound: room for 0.3 requests per value at the budget plus two minutes (at least 4 minutes). A re-sync that
    // needs more (e.g. one search per value) is reported as not done, with what is left.
    const deadline = t0 + Math.max(240_000, 120_000 + ((values * 0.3) / BUDGET.rps) * 1000);
    let g2 = g1;
    while (g2 <= g1) {
      if (Date.now() > deadline) throw new Error('resync: ingest never started a new generation');
      await new Promise((r) => setTimeout(r, 100));
      g2 = await stack.generation();
    }
    const generationStartedAt = Date.now();
    let lastProgress = Date.now();
    let idle = { idle: false, at: Date.now() };
    while (!idle.idle && Date.now() < deadline) {
      idle = await stack.waitIdle({ timeoutMs: 10_000, swept: g2 });
      if (!idle.idle && Date.now() - lastProgress >= 10_000) {
        lastProgress = Date.now();
        ctx.log(
          `resync: ${stack.sekoia.control.requestCount() - requestsBefore} requests so far, dirty ${await stack.dirty()}, queued ${await stack.queued()}`,
        );
      }
    }
    const sweptLine = stack.apps
      .flatMap((a) => a.logs())
      .filter((l) => l.msg.startsWith('generation swept') && Number(l.generation) === g2)
      .map((l) => l.time)
      .sort((a, b) => a - b)[0];
    const requests = stack.sekoia.control.requestCount() - requestsBefore;
    const dirtyLeft = await stack.dirty();
    const rate = sampler.stop();
    const perWorker: Record<string, Record<string, number>> = {};
    for (const w of stack.workers) {
      const text = await w.metricsText();
      const m: Record<string, number> = {};
      for (const line of text.split('\n')) {
        const hit = /^worker_sekoia_http_requests_total\{endpoint="([^"]+)"\} (\d+)/.exec(line);
        if (hit) m[hit[1]!] = Number(hit[2]);
      }
      perWorker[`${w.name} (pid ${w.pid})`] = m;
    }
    const after = stack.sekoia.control.counters();
    const delta: Record<string, Record<string, number>> = {};
    for (const [route, byStatus] of Object.entries(after)) {
      for (const [status, n] of Object.entries(byStatus)) {
        const d = n - ((before as Record<string, Record<string, number>>)[route]?.[status] ?? 0);
        if (d > 0) delta[route] = { ...delta[route], [status]: d };
      }
    }
    // Requests beyond the ⌈values/100⌉ pages of the collection read: edits, creates, searches (a search is a
    // list request with a term, so it is counted here, not by route), revokes.
    const writes = Math.max(0, requests - Math.ceil(values / 100));
    const still = await stack.waitConverged(expected, { timeoutMs: 10_000 });
    const edited = stack.editedValues(expected, t0);
    const seconds = (idle.at - t0) / 1000;
    const figures = {
      values,
      indicators: sc.indicators,
      done: idle.idle,
      dirtyLeft,
      generations: [g1, g2],
      secondsToDone: round(seconds, 2),
      secondsToGenerationStart: round((generationStartedAt - t0) / 1000, 2),
      secondsToSweep: sweptLine ? round((sweptLine - t0) / 1000, 2) : null,
      requests,
      requestsPerValue: round(requests / values, 4),
      requestsByRoute: delta,
      initialSyncRequests: initialRequests,
      stillConverged: still.converged,
      peakRequestsIn1s: rate.peak1s,
      peakRequestsPerSecondOver10s: rate.peak10sPerSecond,
      requestTimeline: rate.samples,
      httpRequestsPerWorker: perWorker,
      editedIndicators: edited.edited,
      editedIndicatorsWithASharedValue: edited.shared,
      secondsPerValueAtBudget: round(seconds / values, 4),
    };
    return {
      suite: 'resync',
      title: 'Full re-sync of an unchanged collection',
      conditions: {
        values,
        indicators: sc.indicators,
        workers: 2,
        initialSync:
          'no latency, no budget (fast), then workers restarted with the budget and the latency set',
        sekoiaLatencyMs: LATENCY_MS,
        budget: `${BUDGET.rps} req/s, burst ${BUDGET.burst}`,
        data: 'shared fields',
        trigger: 'SET <prefix>:<connector>:resync-requested <ISO date> (what `cli resync` does)',
        done: 'generation G+1 swept, dirty set and queue empty',
      },
      figures,
      rows: [
        {
          figure: 'requests for the re-sync',
          value: `${requests} (${fmt(requests / values, 3)} per value; ${Object.entries(delta)
            .map(([r, s]) => `${r} ${Object.values(s).reduce((a, b) => a + b, 0)}`)
            .join(', ')})`,
          // Issue 18: only the collection read, ⌈values/100⌉ list pages.
          aim: `${Math.ceil(values / 100)} (⌈values/100⌉ list pages, 0 edits, 0 creates, 0 searches)`,
          met: requests <= Math.ceil(values / 100) && writes === 0,
          measure: { value: requests, aim: Math.ceil(values / 100), lowerIsBetter: true },
        },
        {
          figure: 'requests beyond the collection read (edits, creates, searches, revokes)',
          value: String(writes),
          measure: { value: writes, aim: 0, lowerIsBetter: true },
        },
        {
          figure: 'time until swept and idle',
          value: `${fmt(seconds, 1)} s for ${values} values (${fmt((seconds / values) * 1000, 0)} ms per value at 5 req/s)${idle.idle ? '' : ` — NOT done within the time limit: ${dirtyLeft} values still dirty`}`,
        },
        {
          figure: 'edits of the unchanged collection',
          value: `${edited.edited} indicators edited, ${edited.shared} of them hold a value shared by several live indicators`,
        },
        {
          figure: 'budget held (busiest 1 s / 10 s)',
          value: `${rate.peak1s} requests / ${fmt(rate.peak10sPerSecond, 1)} req/s`,
        },
        { figure: 'collection still equals the oracle', value: still.converged ? 'yes' : 'NO' },
      ],
      notes: [`logs: ${stack.logDir}`],
    };
  } finally {
    await stack.close();
  }
}
