// Soak (only with --soak): mixed traffic for a long time (default 60 minutes) with Sekoia faults, stream cuts and
// a worker crash, then convergence at the end and memory drift. Realistic per-indicator fields, 20 ms latency
// (+ up to 10 ms jitter), budget 5 req/s, 2 workers. The generator's default mix (creates, edits, pattern
// changes, revokes, deletes, merges, noise) is applied to the OpenCTI simulator at a steady rate.
import { applyScenario, controlTarget, generateScenario } from '@octi-sekoia/simulators';
import { round, sleep } from '../lib/children.ts';
import { info, memoryByCategory } from '../lib/redis.ts';
import { fmt, type SuiteContext, type SuiteResult } from '../lib/result.ts';
import { Stack } from '../lib/stack.ts';
import { BUDGET, LATENCY_MS } from './initial-sync.ts';

interface Sample {
  minute: number;
  rssMb: Record<string, number>;
  redisPrefixBytes: number;
  redisUsedMemory: number;
  dirty: number;
  queued: number;
  requests: number;
  errors: number;
  stepsApplied: number;
}

export async function runSoak(ctx: SuiteContext, minutes: number): Promise<SuiteResult> {
  const stepsPerSecond = 1.5;
  const preloadSteps = 1500;
  const totalSteps = preloadSteps + Math.ceil(stepsPerSecond * minutes * 60);
  const stack = await Stack.start({
    label: 'soak',
    redis: ctx.redis,
    logDir: ctx.logDir,
    latencyMs: LATENCY_MS,
    budget: BUDGET,
    data: 'realistic',
  });
  const faults = {
    jitterMs: 10,
    errorRate: 0.02,
    dropBeforeRate: 0.005,
    dropAfterRate: 0.005,
    rules: [{ probability: 0.005, action: { kind: 'rate-limit' as const, seconds: 2 } }],
  };
  try {
    // ~1.9 steps per created indicator with the default mix.
    const scenario = generateScenario({
      seed: 11,
      indicators: Math.ceil(totalSteps / 1.85) + 10,
      sharedFields: false,
    });
    const steps = Math.min(totalSteps, scenario.steps.length);
    const target = controlTarget(stack.opencti.control);
    applyScenario(target, scenario, { from: 0, to: preloadSteps });
    let applied = preloadSteps;
    stack.sekoia.control.setFaults(faults);
    await stack.startIngest();
    await stack.startWorker();
    await stack.startWorker();
    await Promise.all(stack.apps.map((a) => a.waitStarted(120_000)));
    ctx.log(`soak: ${minutes} min, ${stepsPerSecond} steps/s, faults ${JSON.stringify(faults)}`);

    const samples: Sample[] = [];
    const sample = async (minute: number) => {
      const rssMb: Record<string, number> = {};
      stack.apps.forEach((a) => {
        if (a.running) rssMb[a.name] = a.memory().rssMb;
      });
      const keys = await memoryByCategory(stack.redis, stack.keyPrefix, stack.base);
      samples.push({
        minute,
        rssMb,
        redisPrefixBytes: keys.totalBytes,
        redisUsedMemory: Number((await info(stack.redis, 'memory')).used_memory),
        dirty: await stack.dirty(),
        queued: await stack.queued(),
        requests: stack.sekoia.control.requestCount(),
        errors: Object.values(stack.sekoia.control.counters())
          .flatMap((byStatus) => Object.entries(byStatus))
          .filter(([s]) => !/^2/.test(s))
          .reduce((a, [, n]) => a + n, 0),
        stepsApplied: applied,
      });
    };

    const t0 = Date.now();
    const end = t0 + minutes * 60_000;
    let nextSample = t0;
    let nextCut = t0 + 10 * 60_000;
    let crashed = false;
    const events: string[] = [];
    while (Date.now() < end && applied < steps) {
      const due = Math.min(steps, preloadSteps + Math.floor(((Date.now() - t0) / 1000) * stepsPerSecond));
      if (due > applied) {
        applyScenario(target, scenario, { from: applied, to: due });
        applied = due;
      }
      if (Date.now() >= nextSample) {
        await sample(round((Date.now() - t0) / 60_000, 1));
        nextSample += 60_000;
      }
      if (Date.now() >= nextCut) {
        const n = stack.opencti.control.cutConnections({ mode: 'destroy' });
        events.push(`minute ${fmt((Date.now() - t0) / 60_000, 1)}: stream connection cut (${n})`);
        nextCut += 10 * 60_000;
      }
      if (!crashed && Date.now() >= t0 + (minutes * 60_000) / 3) {
        crashed = true;
        const victim = stack.workers[1]!;
        victim.proc.kill('SIGKILL');
        await new Promise((r) => victim.proc.once('exit', r));
        stack.apps.splice(stack.apps.indexOf(victim), 1);
        await (await stack.startWorker()).waitStarted(120_000);
        events.push(`minute ${fmt((Date.now() - t0) / 60_000, 1)}: worker SIGKILLed and replaced`);
      }
      stack.assertAppsAlive();
      await sleep(250);
    }
    const trafficSeconds = (Date.now() - t0) / 1000;
    await sample(round(trafficSeconds / 60, 1));
    ctx.log(`soak: traffic over (${applied} steps); waiting for convergence (faults still on)`);
    const expected = stack.expected();
    const conv = await stack.waitConverged(expected, { timeoutMs: 15 * 60_000 });
    const idle = await stack.waitIdle({ timeoutMs: 5 * 60_000 });
    await sample(round((Date.now() - t0) / 60_000, 1));

    // Drift: the first sample after a sixth of the run (warm) against the last one.
    const warm = samples.find((s) => s.minute >= minutes / 6) ?? samples[0]!;
    const last = samples.at(-1)!;
    const rssDrift: Record<string, number> = {};
    for (const [app, mb] of Object.entries(last.rssMb)) {
      if (warm.rssMb[app] !== undefined) rssDrift[app] = round(mb - warm.rssMb[app]!, 1);
    }
    const figures = {
      minutes,
      stepsApplied: applied,
      stepsPerSecond,
      expectedValues: expected.size,
      converged: conv.converged,
      secondsToConvergeAfterTraffic: conv.converged
        ? round((conv.convergedAt - t0) / 1000 - trafficSeconds, 1)
        : null,
      diff: conv.diff,
      idle: idle.idle,
      requests: stack.sekoia.control.requestCount(),
      counters: stack.sekoia.control.counters(),
      events,
      rssDriftMb: rssDrift,
      redisPrefixBytesDrift: last.redisPrefixBytes - warm.redisPrefixBytes,
      redisBytesPerExpectedValue: round(last.redisPrefixBytes / Math.max(1, expected.size), 1),
      samples,
    };
    return {
      suite: 'soak',
      title: `Soak: ${minutes} min of mixed traffic with faults`,
      conditions: {
        minutes,
        stepsPerSecond,
        preloadSteps,
        data: 'generateScenario default mix, realistic fields',
        workers: 2,
        sekoiaLatencyMs: `${LATENCY_MS} + jitter < 10`,
        budget: `${BUDGET.rps} req/s, burst ${BUDGET.burst}`,
        faults,
        disturbances:
          'stream connection cut every 10 min; one worker SIGKILLed and replaced at a third of the run',
      },
      figures,
      rows: [
        {
          figure: 'converged at the end',
          value: conv.converged
            ? `yes, ${fmt(figures.secondsToConvergeAfterTraffic ?? Number.NaN, 1)} s after the traffic stopped (${expected.size} values)`
            : `NO: ${JSON.stringify(conv.diff)}`,
        },
        {
          figure: 'RSS drift (warm → end)',
          value: Object.entries(rssDrift)
            .map(([a, d]) => `${a} ${d >= 0 ? '+' : ''}${fmt(d, 1)} MB`)
            .join('; '),
        },
        {
          figure: 'Redis (keys under the prefix) drift',
          value: `${fmt(figures.redisPrefixBytesDrift / 1e6, 2)} MB (${fmt(figures.redisBytesPerExpectedValue, 0)} B per expected value at the end)`,
        },
      ],
      notes: [...events, `logs: ${stack.logDir}`],
    };
  } finally {
    await stack.close();
  }
}
