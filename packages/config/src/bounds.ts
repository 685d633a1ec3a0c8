/**
 * Settings bounded by another setting (a maximum by its base, a low watermark by the high one): one table, one
 * check. load.ts applies it only when both sides were valid (a fallback default would make a misleading line).
 */

export interface SettingBound {
  /** The setting reported when the pair is out of order. */
  setting: string;
  /** below: strictly less than `other`; at-least: greater than or equal to `other`. */
  must: 'below' | 'at-least';
  other: string;
}

export const SETTING_BOUNDS: readonly SettingBound[] = [
  { setting: 'INGEST_LOW_WATERMARK', must: 'below', other: 'INGEST_HIGH_WATERMARK' },
  { setting: 'WORKER_BACKOFF_MAX_MS', must: 'at-least', other: 'WORKER_BACKOFF_MS' },
  { setting: 'INGEST_STREAM_BACKOFF_MAX_MS', must: 'at-least', other: 'INGEST_STREAM_BACKOFF_MS' },
];

/** Pure: what is wrong with `value` against `otherValue` (the problem text after the name, and what is expected). */
export function boundProblem(
  bound: SettingBound,
  value: number,
  otherValue: number,
): { what: string; expected: string } | undefined {
  if (bound.must === 'below') {
    if (value < otherValue) return undefined;
    return {
      what: `= '${value}' is not below ${bound.other} (${otherValue})`,
      expected: `an integer less than ${bound.other}`,
    };
  }
  if (value >= otherValue) return undefined;
  return {
    what: `= '${value}' is below ${bound.other} (${otherValue})`,
    expected: `an integer ≥ ${bound.other}`,
  };
}
