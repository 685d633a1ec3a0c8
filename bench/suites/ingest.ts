// Ingest throughput alone: `benchIngest` of apps/ingest/bench/ingest.bench.ts (the OpenCTI simulator in its own
// process, the in-process IngestService writing BullMQ jobs to the machine's Redis). Loaded by path from the code
// under test; its result type is restated here so this suite does not depend on that file's types.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getAppRoot } from '../lib/children.ts';
import { fmt, type SuiteContext, type SuiteResult } from '../lib/result.ts';

interface IngestBenchResult {
  events: number;
  batchSize: number;
  seconds: number;
  eventsPerSecond: number;
  cpuCores: number;
  eventsPerCpuSecond: number;
  /** Absent before these figures existed (an older commit under --code). */
  rssMb?: number;
  heapUsedMb?: number;
  heapTotalMb?: number;
}

/** Issue 18's aim: events → jobs per second of one core (apps/ingest/bench/ingest.bench.ts). */
const EVENTS_PER_CPU_SECOND_AIM = 10_000;

export async function runIngest(_ctx: SuiteContext, events: number): Promise<SuiteResult> {
  const file = join(getAppRoot(), 'apps', 'ingest', 'bench', 'ingest.bench.ts');
  if (!existsSync(file)) throw new Error(`${file} not found (apps/ingest has no benchmark at this commit)`);
  const mod = (await import(pathToFileURL(file).href)) as {
    benchIngest: (opts: { events?: number }) => Promise<IngestBenchResult>;
  };
  const r = await mod.benchIngest({ events });
  return {
    suite: 'ingest',
    title: 'Ingest alone (apps/ingest/bench/ingest.bench.ts)',
    conditions: {
      events: r.events,
      batchSize: r.batchSize,
      setup:
        'OpenCTI simulator in its own process (SSE over HTTP), IngestService in the bench process, single-IPv4 indicators, machine Redis',
    },
    figures: r as unknown as Record<string, unknown>,
    rows: [
      {
        figure: 'events → jobs in Redis',
        value: `${fmt(r.eventsPerSecond, 0)} events/s (${r.events} events in ${fmt(r.seconds, 1)} s, ${fmt(r.cpuCores, 2)} cores)`,
      },
      {
        figure: 'events per ingest CPU second',
        value: `${fmt(r.eventsPerCpuSecond, 0)} (${fmt(r.eventsPerCpuSecond / EVENTS_PER_CPU_SECOND_AIM, 2)}× the aim)`,
        aim: `≥ ${fmt(EVENTS_PER_CPU_SECOND_AIM, 0)} per core`,
        met: r.eventsPerCpuSecond >= EVENTS_PER_CPU_SECOND_AIM,
      },
      ...(r.rssMb !== undefined
        ? [
            {
              figure: 'ingest process memory at the last job',
              value: `RSS ${fmt(r.rssMb, 0)} MB, V8 heap used ${fmt(r.heapUsedMb ?? Number.NaN, 0)} of ${fmt(r.heapTotalMb ?? Number.NaN, 0)} MB (the bench process: ingest and the bench harness)`,
            },
          ]
        : []),
    ],
    notes: [],
  };
}
