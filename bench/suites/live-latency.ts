// Live latency at low load: the stack is running and caught up (a small initial sync first), then indicators are
// created and revoked one at a time in the OpenCTI simulator, a few per second. Latency = from the event's
// append (its stream id's millisecond) to the moment the Sekoia simulator stored the value's create or revoke
// (its `created` / `revoked_at`, same clock — exact, no polling error).
import { eventIdMs } from '@octi-sekoia/opencti/vocabulary';
import { round, sleep } from '../lib/children.ts';
import { fmt, loadScenario, percentile, type SuiteContext, type SuiteResult } from '../lib/result.ts';
import { Stack } from '../lib/stack.ts';
import { BUDGET, LATENCY_MS } from './initial-sync.ts';

const DAY_MS = 86_400_000;

/** A value no scenario uses (the generator's pools stay out of 172.16.0.0/12). */
function liveValue(i: number): string {
  return `172.${20 + ((i >> 16) & 7)}.${(i >> 8) & 255}.${i & 255}`;
}

/** Deterministic pseudo-random stream (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runLiveLatency(ctx: SuiteContext, events: number): Promise<SuiteResult> {
  const preload = 500;
  const stack = await Stack.start({
    label: 'live',
    redis: ctx.redis,
    logDir: ctx.logDir,
    latencyMs: LATENCY_MS,
    budget: BUDGET,
    data: 'shared',
  });
  try {
    loadScenario(stack.opencti, { values: preload, seed: 3, sharedFields: true });
    const apps = [await stack.startIngest(), await stack.startWorker(), await stack.startWorker()];
    await Promise.all(apps.map((a) => a.waitStarted(120_000)));
    const pre = await stack.waitConverged(stack.expected(), { timeoutMs: 300_000 });
    if (!pre.converged)
      throw new Error(`live-latency: the pre-load did not converge: ${JSON.stringify(pre.diff)}`);
    await stack.waitIdle({ timeoutMs: 60_000, swept: 1 });
    // Let the budget bucket refill and the drainer go idle: "caught up, low load".
    await sleep(2000);
    ctx.log(`live-latency: caught up (${preload} values pre-loaded); ${events} live events, ~4/s`);

    const requestsBefore = stack.sekoia.control.requestCount();
    const random = rng(42);
    const dayStart = Date.now() - (Date.now() % DAY_MS);
    const live: Array<{ internalId: string; value: string }> = [];
    const sent: Array<{ kind: 'create' | 'revoke'; value: string; appendedAt: number }> = [];
    let n = 0;
    const t0 = Date.now();
    for (let i = 0; i < events; i++) {
      const revoke = live.length >= 5 && random() < 0.4;
      if (revoke) {
        const victim = live.splice(Math.floor(random() * live.length), 1)[0]!;
        const ref = stack.opencti.control.revokeIndicator({ internalId: victim.internalId });
        sent.push({ kind: 'revoke', value: victim.value, appendedAt: eventIdMs(ref.eventId) });
      } else {
        const value = liveValue(n++);
        const ref = stack.opencti.control.createIndicator({
          pattern: `[ipv4-addr:value = '${value}']`,
          validFrom: new Date(dayStart).toISOString(),
          validUntil: new Date(dayStart + 90 * DAY_MS).toISOString(),
          labels: ['malicious-activity'],
          killChainPhases: [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
        });
        live.push({ internalId: ref.internalId, value });
        sent.push({ kind: 'create', value, appendedAt: eventIdMs(ref.eventId) });
      }
      await sleep(150 + random() * 200);
    }
    const sendSeconds = (Date.now() - t0) / 1000;
    const conv = await stack.waitConverged(stack.expected(), { timeoutMs: 120_000 });
    const requests = stack.sekoia.control.requestCount() - requestsBefore;

    const byValue = new Map<string, { created: number; revokedAt: number | null }>();
    for (const ind of stack.sekoia.control.indicators()) {
      byValue.set(ind.canonical, {
        created: Date.parse(ind.created),
        revokedAt: ind.revoked_at ? Date.parse(ind.revoked_at) : null,
      });
    }
    const latencies: number[] = [];
    const byKind: Record<string, number[]> = { create: [], revoke: [] };
    let unmatched = 0;
    // A value revoked before its create was sent is never written at all (the desired state it would have had is
    // already gone: nothing to do is the right outcome, and its latency is that of the revoke's decision):
    // counted apart, not as lost.
    const revokedValues = new Set(sent.filter((s) => s.kind === 'revoke').map((s) => s.value));
    let coalesced = 0;
    for (const s of sent) {
      const rec = byValue.get(s.value);
      if (!rec && revokedValues.has(s.value) && conv.converged) {
        coalesced++;
        continue;
      }
      const at = s.kind === 'create' ? rec?.created : (rec?.revokedAt ?? undefined);
      if (at === undefined) {
        unmatched++;
        continue;
      }
      latencies.push(at - s.appendedAt);
      byKind[s.kind]!.push(at - s.appendedAt);
    }
    const stats = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return {
        count: sorted.length,
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted.at(-1) ?? Number.NaN,
        meanMs: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), 1),
      };
    };
    const all = stats(latencies);
    const figures = {
      events,
      creates: sent.filter((s) => s.kind === 'create').length,
      revokes: sent.filter((s) => s.kind === 'revoke').length,
      eventsPerSecond: round(events / sendSeconds, 2),
      converged: conv.converged,
      unmatched,
      createdAndRevokedBeforeWritten: coalesced,
      all,
      create: stats(byKind.create!),
      revoke: stats(byKind.revoke!),
      requestsDuringLivePhase: requests,
    };
    return {
      suite: 'live-latency',
      title: 'Live latency (event append in OpenCTI → value created/revoked in Sekoia)',
      conditions: {
        preloadedValues: preload,
        events,
        rate: `${fmt(figures.eventsPerSecond)} events/s, one at a time (150–350 ms apart), ~60 % creates / 40 % revokes`,
        workers: 2,
        sekoiaLatencyMs: LATENCY_MS,
        budget: `${BUDGET.rps} req/s, burst ${BUDGET.burst}`,
        data: 'single-IPv4 indicators, shared fields',
      },
      figures,
      rows: [
        {
          figure: 'latency p50 / p95 / p99 (all events)',
          value: `${all.p50Ms} / ${all.p95Ms} / ${all.p99Ms} ms (max ${all.maxMs} ms, n = ${all.count})`,
          aim: 'p99 ≤ 1 s at 20 ms API latency',
          met: conv.converged && unmatched === 0 ? all.p99Ms <= 1000 : false,
          measure: { value: all.p99Ms, aim: 1000, lowerIsBetter: true, unit: 'ms (p99)' },
        },
        {
          figure: 'creates p50 / p95 / p99',
          value: `${figures.create.p50Ms} / ${figures.create.p95Ms} / ${figures.create.p99Ms} ms`,
        },
        {
          figure: 'revokes p50 / p95 / p99',
          value: `${figures.revoke.p50Ms} / ${figures.revoke.p95Ms} / ${figures.revoke.p99Ms} ms`,
        },
      ],
      notes: [
        ...(unmatched > 0 ? [`${unmatched} events never reached Sekoia within the time limit`] : []),
        ...(coalesced > 0
          ? [`${coalesced} events of values revoked before their create was sent: nothing written, not timed`]
          : []),
        `logs: ${stack.logDir}`,
      ],
    };
  } finally {
    await stack.close();
  }
}
