import { OCTI_EXT, type StixObject } from './stix.ts';

/**
 * A live stream's filters, simplified: every given condition must hold (OpenCTI's filter groups are richer;
 * these cover what moves an indicator in or out of a stream in tests).
 */
export interface StreamFilter {
  /** OpenCTI entity types (`Indicator`) or STIX types (`indicator`), case-insensitive; any of them. */
  entityTypes?: string[];
  /** At least one of these labels. */
  labels?: string[];
  /** None of these labels. */
  excludeLabels?: string[];
  /** Extension `score` ≥ this. */
  minScore?: number;
  /** `pattern_type` is one of these. */
  patternTypes?: string[];
  /** `revoked` equals this. */
  revoked?: boolean;
  /** At least one of these marking ids in `object_marking_refs`. */
  markings?: string[];
}

export type StreamPredicate = (obj: StixObject) => boolean;

export function compileFilter(filter: StreamFilter | StreamPredicate | undefined): StreamPredicate {
  if (filter === undefined) return () => true;
  if (typeof filter === 'function') return filter;
  const types = filter.entityTypes?.map((t) => t.toLowerCase());
  return (obj) => {
    const ext = (obj.extensions as Record<string, Record<string, unknown>> | undefined)?.[OCTI_EXT];
    if (
      types &&
      !types.includes(obj.type.toLowerCase()) &&
      !types.includes(String(ext?.type ?? '').toLowerCase())
    ) {
      return false;
    }
    const labels = Array.isArray(obj.labels) ? (obj.labels as string[]) : [];
    if (filter.labels && !filter.labels.some((l) => labels.includes(l))) return false;
    if (filter.excludeLabels?.some((l) => labels.includes(l))) return false;
    if (filter.minScore !== undefined && !(Number(ext?.score ?? -1) >= filter.minScore)) return false;
    if (filter.patternTypes && !filter.patternTypes.includes(String(obj.pattern_type))) return false;
    if (filter.revoked !== undefined && Boolean(obj.revoked) !== filter.revoked) return false;
    const markings = Array.isArray(obj.object_marking_refs) ? (obj.object_marking_refs as string[]) : [];
    if (filter.markings && !filter.markings.some((m) => markings.includes(m))) return false;
    return true;
  };
}
