/**
 * Throughput of the OpenCTI simulator to one real SSE client (eventsource 4.1.1): full indicator envelopes,
 * replayed from `0-0` (history) and appended while connected (live). Run: `tsx bench/opencti-sim.bench.ts`.
 */
import { pathToFileURL } from 'node:url';
import { EventSource } from 'eventsource';
import { startOpenCtiSimulator } from '../src/opencti/index.ts';

export interface OpenCtiSimBenchResult {
  events: number;
  /** Average size of one event frame on the wire. */
  bytesPerEvent: number;
  replay: { seconds: number; eventsPerSecond: number; mbPerSecond: number };
  live: { seconds: number; eventsPerSecond: number; mbPerSecond: number };
}

function ipOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

async function receive(
  url: string,
  token: string,
  lastEventId: string,
  expected: number,
  onOpen?: () => void,
) {
  let count = 0;
  let bytes = 0;
  let started = 0;
  await new Promise<void>((resolve, reject) => {
    const es = new EventSource(url, {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          headers: {
            ...(init?.headers as Record<string, string>),
            authorization: `Bearer ${token}`,
            'last-event-id': lastEventId,
            'no-dependencies': 'true',
          },
        }),
    });
    es.addEventListener('connected', () => {
      started = performance.now();
      onOpen?.();
    });
    const onEvent = (ev: MessageEvent) => {
      // Count the indicator events only (the two dependency creates are sent first on a connection).
      if (!(ev.data as string).startsWith('{"version"')) return;
      count++;
      bytes += (ev.data as string).length;
      if (count === expected) {
        es.close();
        resolve();
      }
    };
    es.addEventListener('create', onEvent);
    es.onerror = (e) => {
      es.close();
      reject(new Error(`SSE error: ${(e as { message?: string }).message}`));
    };
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, bytes, count };
}

export async function benchOpenCtiSim(opts: { events?: number } = {}): Promise<OpenCtiSimBenchResult> {
  const events = opts.events ?? 40_000;
  const sim = await startOpenCtiSimulator({ heartbeatMs: 5000 });
  try {
    const input = (i: number) => ({
      pattern: `[ipv4-addr:value = '${ipOf(i)}']`,
      labels: ['bench'],
      validUntil: '2030-01-01T00:00:00.000Z',
      killChainPhases: [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
    });
    for (let i = 0; i < events; i++) sim.control.createIndicator(input(i));
    const url = `${sim.url}/stream/${sim.streamId}`;
    const replay = await receive(url, sim.token, '0-0', events);

    // Live: connected from the current end, then the same number of events appended in bursts.
    const last = sim.control.streamInfo().lastEventId;
    const live = await receive(url, sim.token, last, events, () => {
      let i = events;
      const burst = () => {
        const end = Math.min(2 * events, i + 2000);
        for (; i < end; i++) sim.control.createIndicator(input(i));
        if (i < 2 * events) setImmediate(burst);
      };
      setImmediate(burst);
    });
    const rate = (r: { seconds: number; bytes: number; count: number }) => ({
      seconds: Number(r.seconds.toFixed(3)),
      eventsPerSecond: Math.round(r.count / r.seconds),
      mbPerSecond: Number((r.bytes / r.seconds / 1e6).toFixed(1)),
    });
    return {
      events,
      bytesPerEvent: Math.round(replay.bytes / replay.count),
      replay: rate(replay),
      live: rate(live),
    };
  } finally {
    await sim.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const events = process.argv[2] ? Number(process.argv[2]) : undefined;
  console.log(JSON.stringify(await benchOpenCtiSim({ events }), null, 2));
}
