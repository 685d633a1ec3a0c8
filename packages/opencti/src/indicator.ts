/**
 * An indicator as OpenCTI streams it (docs/opencti-api.md "The indicator as streamed"): the fields the product
 * reads, and the extension holding its internal id — the indicator's identity, stable across pattern (and so
 * STIX id) changes.
 */

/** OpenCTI's property extension on every streamed object. */
export const OPENCTI_EXTENSION = 'extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba';

/** What the product reads in `extensions[OPENCTI_EXTENSION]`. */
export interface OpenCtiIndicatorExtension {
  /** The internal id (a UUID). */
  id: string;
  score?: number;
  main_observable_type?: string;
}

/**
 * What normalization (packages/model normalize.ts) and the simulators' oracle read of an indicator in an event's
 * `data` (or a merge source in `context.sources`). Empty fields are omitted by OpenCTI.
 */
export interface OpenCtiIndicator {
  type: 'indicator';
  /** `indicator--<uuidv5>` of the pattern: changes with the pattern. */
  id: string;
  created?: string;
  revoked?: boolean;
  name?: string;
  description?: string;
  labels?: string[];
  pattern?: string;
  /** Open vocabulary: `stix`, `yara`, `sigma`…; only `stix` (any case) exports values. */
  pattern_type?: string;
  pattern_version?: string;
  valid_from?: string;
  valid_until?: string;
  kill_chain_phases?: Array<{ kill_chain_name: string; phase_name: string }>;
  extensions?: { [OPENCTI_EXTENSION]?: OpenCtiIndicatorExtension };
}

/** As received from the stream: any field may be missing or of another type until it is checked. */
export type Unchecked<T> = { [K in keyof T]?: unknown };

/** The internal id of a streamed object (`extensions[OPENCTI_EXTENSION].id`), when it is a non-empty string. */
export function openCtiInternalId(obj: Unchecked<OpenCtiIndicator>): string | undefined {
  const ext = isRecord(obj.extensions) ? obj.extensions[OPENCTI_EXTENSION] : undefined;
  const id = isRecord(ext) ? ext.id : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
