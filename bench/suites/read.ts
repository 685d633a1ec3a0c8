// A full collection read (issue 18 item 4): offset pages of 100 against the cursor feed (10,000 a page, row 11
// of docs/sekoia-behaviours.md), the same collection, the real read (CollectionReads of packages/sync recording
// every page into Redis) through the real client under the shared request budget. In-process: the Sekoia
// simulator, a SekoiaClient, the operator's Redis under a bench prefix. The collection is filled first without
// latency or budget; each read then runs at 20 ms latency and 5 req/s (burst 5).
import { randomUUID } from 'node:crypto';
import { connectRedis } from '@octi-sekoia/ops';
import { SekoiaClient } from '@octi-sekoia/sekoia';
import { startSekoiaSimulator } from '@octi-sekoia/simulators';
import { CollectionReads, RequestBudget } from '@octi-sekoia/sync';
import { round } from '../lib/children.ts';
import { cleanupPrefix } from '../lib/redis.ts';
import { fmt, type Row, type SuiteContext, type SuiteResult } from '../lib/result.ts';
import { BUDGET, LATENCY_MS } from './initial-sync.ts';

const MODES = [
  { name: 'offset pages', behaviour: {} },
  { name: 'cursor feed', behaviour: { collectionFeed: true } },
] as const;

export async function runRead(ctx: SuiteContext, size: number): Promise<SuiteResult> {
  const sim = await startSekoiaSimulator({ seed: 1 });
  const redis = connectRedis(ctx.redis);
  redis.on('error', () => undefined);
  const prefix = `bench-${Date.now()}-read`;
  try {
    const filler = new SekoiaClient({
      baseUrl: sim.url,
      apiKey: sim.apiKey,
      collectionId: sim.collectionId,
      timeoutMs: 60_000,
    });
    for (let i = 0; i < size; i += 100) {
      const values = Array.from({ length: Math.min(100, size - i) }, (_, k) => ({
        value: `read-${i + k}.bench.example`,
      }));
      await filler.createBatch(
        { description: 'bench read', valid_until: '2030-01-01T00:00:00.000Z' },
        values,
      );
    }
    filler.close();
    ctx.log(`read: collection of ${size} values filled; reading it with offset pages, then the feed`);
    sim.control.setFaults({ latencyMs: LATENCY_MS });

    const results: Record<string, { requests: number; seconds: number; values: number }> = {};
    for (const mode of MODES) {
      const budget = new RequestBudget(redis, {
        keyPrefix: prefix,
        host: `${mode.name}.bench`,
        apiKey: sim.apiKey,
        ratePerSecond: BUDGET.rps,
        burst: BUDGET.burst,
      });
      const client = new SekoiaClient({
        baseUrl: sim.url,
        apiKey: sim.apiKey,
        collectionId: sim.collectionId,
        timeoutMs: 60_000,
        beforeRequest: () => budget.take(),
        behaviour: mode.behaviour,
      });
      const reads = new CollectionReads(redis, { keyPrefix: prefix, connectorId: randomUUID() });
      sim.control.resetCounters();
      const t0 = Date.now();
      const r = await reads.read(1, client);
      const seconds = (Date.now() - t0) / 1000;
      client.close();
      if (r.kind !== 'read') throw new Error(`read: ${mode.name}: the read did not run`);
      results[mode.name] = {
        requests: sim.control.requestCount(),
        seconds: round(seconds, 2),
        values: r.info.values,
      };
      ctx.log(`read: ${mode.name}: ${results[mode.name]!.requests} requests, ${fmt(seconds, 1)} s`);
    }
    const offset = results['offset pages']!;
    const feed = results['cursor feed']!;
    const at500k = (r: { requests: number; seconds: number }) =>
      // Requests scale with the values at the budget; the rest (recording into Redis, latency) per value.
      ((r.requests / size) * 500_000) / BUDGET.rps;
    const rows: Row[] = MODES.map((m) => {
      const r = results[m.name]!;
      return {
        figure: `full read, ${m.name}`,
        value: `${r.requests} requests, ${fmt(r.seconds, 1)} s for ${r.values} values (${fmt((r.seconds / size) * 1e6, 0)} µs per value)`,
        measure: { value: r.requests, lowerIsBetter: true, unit: 'requests' },
      };
    });
    rows.push({
      figure: 'feed ÷ offset pages',
      value: `requests ${fmt(feed.requests / offset.requests, 3)}, time ${fmt(feed.seconds / offset.seconds, 3)}; at 500,000 values the budget alone: ${fmt(at500k(offset) / 60, 1)} min (offset) vs ${fmt(at500k(feed), 0)} s (feed)`,
    });
    return {
      suite: 'read',
      title: 'Full collection read: offset pages vs cursor feed',
      conditions: {
        values: size,
        sekoiaLatencyMs: LATENCY_MS,
        budget: `${BUDGET.rps} req/s, burst ${BUDGET.burst}`,
        read: 'CollectionReads.read of a first generation (every value recorded as found), one reader, in-process',
        feed: 'simulator defaults (indicator objects, pages of up to 10,000, include_revoked=false)',
      },
      figures: {
        ...results,
        requestsRatio: feed.requests / offset.requests,
        timeRatio: feed.seconds / offset.seconds,
      },
      rows,
      notes: [
        'the feed is used by the worker only when `pnpm cli probe` found it usable (docs/sekoia-behaviours.md row 11)',
      ],
    };
  } finally {
    await cleanupPrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await sim.close();
  }
}
