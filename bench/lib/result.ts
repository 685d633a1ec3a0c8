import type { AppConfig } from '@octi-sekoia/config';
import {
  applyScenario,
  controlTarget,
  generateScenario,
  type OpenCtiSimulator,
} from '@octi-sekoia/simulators';
import { round } from './children.ts';

/** One line of the markdown table. */
export interface Row {
  figure: string;
  value: string;
  /** The aim, when the issue sets one. */
  aim?: string;
  /** true met, false missed, null not measurable in this run. */
  met?: boolean | null;
  /**
   * The figure as a number, for its ratio to the aim and the comparison with the previous run (the runner
   * prints both). `lowerIsBetter`: a latency, a request count.
   */
  measure?: { value: number; aim?: number; lowerIsBetter?: boolean; unit?: string };
}

export interface SuiteResult {
  suite: string;
  title: string;
  /** Sizes, latency, budget, data shape… everything needed to reproduce or extrapolate the figures. */
  conditions: Record<string, unknown>;
  /** Every figure measured (the JSON file keeps them all; the table shows `rows`). */
  figures: Record<string, unknown>;
  rows: Row[];
  notes: string[];
  /** Wall time of the suite, set by the runner. */
  wallSeconds?: number;
  error?: string;
}

export interface SuiteContext {
  /** The operator's Redis (REDIS_URL, REDIS_SENTINELS…, REDIS_CLUSTER_NODES: the apps' settings and rules). */
  redis: AppConfig['redis'];
  logDir: string;
  /** Progress lines (stderr). */
  log: (msg: string) => void;
}

/** Created indicators per value wanted: the generator's default mix exports ~1.19 values per create. */
export const VALUES_PER_INDICATOR = 1.19;

/** Loads a seeded scenario of about `values` values into the stack's OpenCTI simulator. */
export function loadScenario(
  opencti: OpenCtiSimulator,
  opts: { values: number; seed: number; sharedFields: boolean },
): { indicators: number; steps: number; events: number; seconds: number } {
  const t = performance.now();
  const indicators = Math.max(1, Math.ceil(opts.values / VALUES_PER_INDICATOR));
  // Shared fields are shaped like a real feed: valid_from per indicator, validity from decay rules.
  const scenario = generateScenario({
    seed: opts.seed,
    indicators,
    sharedFields: opts.sharedFields,
    feedValidity: opts.sharedFields,
  });
  applyScenario(controlTarget(opencti.control), scenario);
  return {
    indicators,
    steps: scenario.steps.length,
    events: opencti.control.entries().length,
    seconds: round((performance.now() - t) / 1000, 1),
  };
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  return round(n, digits).toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function pct(n: number): string {
  return Number.isFinite(n) ? `${fmt(n * 100, 1)} %` : String(n);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
