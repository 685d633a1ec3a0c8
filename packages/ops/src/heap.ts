import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the heap grow past what the last full garbage collection kept, in percent. V8's own factor
 * goes up to 4× when collections are fast, and the apps' live heap is small (24–26 MB in heap snapshots at the end of a
 * 30,000-value memory bench, bench/README.md): their resident memory was mostly that slack, kept after
 * bursts of short-lived job objects (worker 239–244 MB at 100,000 values). 1.25× keeps it near the live heap,
 * for more frequent, small full collections (worker 147–148 MB at 100,000 values; packages/ops/README.md).
 */
export const HEAP_GROWING_PERCENT = 25;

/**
 * Caps the heap's growth factor at `percent` (V8's `--heap-growing-percent`, read at every collection, so it
 * applies when set at start-up). A value given on the node command line wins (NODE_OPTIONS refuses this flag).
 * Returns whether it was set here.
 */
export function limitHeapGrowth(
  percent = HEAP_GROWING_PERCENT,
  given: readonly string[] = process.execArgv,
): boolean {
  if (given.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return true;
}
