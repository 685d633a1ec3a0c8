/**
 * How a value can be written only as close to OpenCTI's state as Sekoia allows (docs/sekoia-behaviours.md),
 * recorded once per value by the worker and counted by `pnpm cli status`:
 * - 'custom-kill-chains-dropped': Sekoia refuses phases outside MITRE ATT&CK / Lockheed Martin (row 8);
 * - 'valid-until-kept': OpenCTI removed `valid_until` and the PUT could not clear it (rows 2 and 3).
 */
export type ApproximationMode = 'custom-kill-chains-dropped' | 'valid-until-kept';

export const APPROXIMATION_MODES: readonly ApproximationMode[] = [
  'custom-kill-chains-dropped',
  'valid-until-kept',
];

/**
 * How many values were written under each mode. `keyOf(mode)`: the hash of a mode, value → JSON `{ detail, at }`
 * (first time it was written so): `keys().approximated` of @octi-sekoia/queue.
 */
export async function approximationCounts(
  store: { hlen(key: string): Promise<number> },
  keyOf: (mode: ApproximationMode) => string,
): Promise<Record<ApproximationMode, number>> {
  const counts = await Promise.all(APPROXIMATION_MODES.map((m) => store.hlen(keyOf(m))));
  return Object.fromEntries(APPROXIMATION_MODES.map((m, i) => [m, counts[i] ?? 0])) as Record<
    ApproximationMode,
    number
  >;
}
