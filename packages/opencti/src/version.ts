/** Compares OpenCTI versions numerically part by part (`6.8.10` < `6.9.0` < `7.260224.0`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.isFinite(pa[i]) ? (pa[i] as number) : 0;
    const y = Number.isFinite(pb[i]) ? (pb[i] as number) : 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/** The oldest OpenCTI version this connector is tested against (ingest warns below it; the probe notes it). */
export const TESTED_OPENCTI_VERSION = '6.8';

/** True when `version` is older than `minimum` (e.g. warn below 6.8). */
export function isVersionBelow(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) < 0;
}
