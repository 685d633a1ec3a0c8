import { setFlagsFromString } from 'node:v8';
import type { AppName } from '@octi-sekoia/config';

/**
 * How far V8 lets the heap grow past what the last full garbage collection kept, in percent, per app. V8's own
 * factor goes up to 4× when collections are fast, and the apps' live heap is small (24–26 MB in heap snapshots at
 * the end of a 30,000-value memory bench): their resident memory was mostly that slack, kept after bursts of
 * short-lived job objects (worker 220–244 MB at 100,000 values). The worker's aim is its memory (its pace is the
 * Sekoia budget's): 1.25× gives 147–148 MB for the same CPU seconds. Ingest's aim is events per CPU second:
 * 1.25× cost it ~20 % of them in its bench, 1.5× ~9 % (RSS ~155 MB instead of ~210). packages/ops/README.md.
 */
export const HEAP_GROWING_PERCENT: Readonly<Record<AppName, number>> = {
  worker: 25,
  dashboard: 25,
  cli: 25,
  ingest: 50,
};

/**
 * Caps the heap's growth factor at `percent` (V8's `--heap-growing-percent`, read at every collection, so it
 * applies when set at start-up). A value given on the node command line wins (NODE_OPTIONS refuses this flag).
 * Returns whether it was set here.
 */
export function limitHeapGrowth(percent: number, given: readonly string[] = process.execArgv): boolean {
  if (given.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return true;
}

/**
 * V8 flags each app is started with, because they size the heap when the isolate is created: unlike the growth
 * factor above, a running app cannot set them for itself (`setFlagsFromString` of them has no effect). Every start
 * command passes them — Dockerfile.worker's CMD (compose's worker service uses it), `pnpm start` (package.json),
 * `pnpm demo`, `pnpm bench` — and `bootApp` warns when one is missing (`missingNodeFlags`).
 *
 * Worker: `--max-semi-space-size=4` (MB). V8's default lets each of the young generation's two semi-spaces grow to
 * 16 MB, and a worker's bursts of short-lived objects (claims of 500 values, jobs in flight, Redis replies) grew it
 * there: 32 MB of young generation resident for good. At 4 MB per semi-space (8 MB), the memory bench (100,777
 * values, 2 workers, bundles, same run) ended at 115 MB (peak 127) for that worker against 145 MB (peak 162) for the
 * other with V8's default, for 2.5 % more CPU per value (29 s for 50.6k values against 28 s for 50.1k); through tsx
 * 132 (peak 145) against 173 (peak 177), 9 % more CPU per value. The worker's pace is the Sekoia budget's. bench/README.md "Worker memory". Ingest keeps V8's default: its aim is
 * events per CPU second.
 */
export const NODE_FLAGS: Readonly<Record<AppName, readonly string[]>> = {
  worker: ['--max-semi-space-size=4'],
  dashboard: [],
  cli: [],
  ingest: [],
};

/** A V8/node flag's name, dashes and underscores alike: `--max_semi_space_size=4` → `max-semi-space-size`. */
function flagName(arg: string): string {
  return arg.replace(/^--?/, '').split('=')[0]!.replaceAll('_', '-');
}

/**
 * The flags of `NODE_FLAGS[app]` that the process was started without, by name: a flag given on the command line
 * (`given`) or in NODE_OPTIONS with any value counts as given (the operator's value wins).
 */
export function missingNodeFlags(
  app: AppName,
  given: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): string[] {
  const names = new Set(
    [...given, ...nodeOptions.split(/\s+/)].filter((a) => a.startsWith('-')).map(flagName),
  );
  return NODE_FLAGS[app].filter((flag) => !names.has(flagName(flag)));
}
