/**
 * Throughput of the Sekoia simulator on loopback, no injected latency: keep-alive connections, N concurrent
 * requests in flight. Run: `pnpm --filter @octi-sekoia/simulators exec tsx bench/sekoia-sim.bench.ts`.
 * The simulator must never be the bottleneck of a test (target: >= 5,000 requests/s).
 */
import { Agent, request } from 'node:http';
import { pathToFileURL } from 'node:url';
import { startSekoiaSimulator } from '../src/sekoia/index.ts';

export interface BenchFigure {
  scenario: string;
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
}

export interface BenchOptions {
  /** Per scenario (default 3000 ms). */
  durationMs?: number;
  /** Requests in flight (default 64). */
  concurrency?: number;
  /** Only these scenarios (default all). */
  scenarios?: string[];
}

interface Req {
  method: string;
  path: string;
  body?: string;
}

function ipv4(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

export async function benchSekoiaSimulator(opts: BenchOptions = {}): Promise<BenchFigure[]> {
  const durationMs = opts.durationMs ?? 3000;
  const concurrency = opts.concurrency ?? 64;
  const sim = await startSekoiaSimulator({ behavior: { textDelayMs: 0 } });
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const base = `/api/v2/inthreat/ioc-collections/${sim.collectionId}`;
  const url = new URL(sim.url);
  let n = 0;
  // Preload so searches and edits run against a collection of 10,000 indicators (creates run last).
  for (let b = 0; b < 100; b++) {
    const indicators = Array.from({ length: 100 }, () => ({ value: ipv4(n++) }));
    await send({
      method: 'POST',
      path: `${base}/indicators`,
      body: JSON.stringify({ default_fields: {}, indicators }),
    });
  }
  const ids = sim.control.indicators().map((i) => i.id);

  const scenarios: Record<string, () => Req> = {
    'get-collection': () => ({ method: 'GET', path: base }),
    'count-total-iocs': () => ({ method: 'GET', path: '/api/v2/inthreat/ioc-collections/count-total-iocs' }),
    'search-exact-term': () => ({
      method: 'GET',
      path: `${base}/indicators?term=${ipv4(n++ % 10_000)}&limit=100`,
    }),
    edit: () => ({
      method: 'PUT',
      path: `${base}/indicators/${ids[n++ % ids.length]}`,
      body: JSON.stringify({ description: `edit ${n}` }),
    }),
    'create-batch-1': () => ({
      method: 'POST',
      path: `${base}/indicators`,
      body: JSON.stringify({ default_fields: { description: 'bench' }, indicators: [{ value: ipv4(n++) }] }),
    }),
    'create-batch-100': () => ({
      method: 'POST',
      path: `${base}/indicators`,
      body: JSON.stringify({
        default_fields: { description: 'bench' },
        indicators: Array.from({ length: 100 }, () => ({ value: ipv4(n++) })),
      }),
    }),
  };

  function send(r: Req): Promise<number> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: r.method,
          path: r.path,
          agent,
          headers: {
            authorization: `Bearer ${sim.apiKey}`,
            'content-type': 'application/json',
            ...(r.body ? { 'content-length': Buffer.byteLength(r.body) } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(r.body);
    });
  }

  const figures: BenchFigure[] = [];
  try {
    for (const [name, make] of Object.entries(scenarios)) {
      if (opts.scenarios && !opts.scenarios.includes(name)) continue;
      let requests = 0;
      let errors = 0;
      const start = performance.now();
      const deadline = start + durationMs;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            const status = await send(make());
            requests++;
            if (status < 200 || status >= 300) errors++;
          }
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      figures.push({
        scenario: name,
        requests,
        errors,
        seconds,
        requestsPerSecond: Math.round(requests / seconds),
      });
    }
  } finally {
    agent.destroy();
    await sim.close();
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await benchSekoiaSimulator();
  console.table(figures);
}
