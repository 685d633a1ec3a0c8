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
