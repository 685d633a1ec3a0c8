/**
 * STIX 2.1 objects shaped as OpenCTI streams them (docs/opencti-api.md): key order, the OpenCTI extension,
 * deterministic standard ids, millisecond timestamps.
 */
import { OPENCTI_EXTENSION } from '@octi-sekoia/opencti/vocabulary';
import { identityStandardId, indicatorStandardId } from './uuid.ts';

export type StixObject = Record<string, unknown> & { id: string; type: string };

/** OpenCTI's property extension (packages/opencti indicator.ts). */
export const OCTI_EXT = OPENCTI_EXTENSION;
export const MITRE_EXT = 'extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b';
/** OpenCTI's admin user id (the creator in every public sample). */
export const ADMIN_USER_ID = '88ec0c6a-13ce-5e39-b486-354fe4a7084f';

/** OpenCTI's built-in TLP marking ids. */
export const TLP = {
  CLEAR: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  GREEN: 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  AMBER: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  AMBER_STRICT: 'marking-definition--826578e1-40ad-459f-bc73-ede076f81f37',
  RED: 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
} as const;

export interface KillChainPhaseInput {
  kill_chain_name: string;
  phase_name: string;
}

export interface ObservableValue {
  type: string;
  value?: string;
  hashes?: Record<string, string>;
}

export type OctiExtension = Record<string, unknown> & {
  extension_type: 'property-extension';
  id: string;
  type: string;
  created_at: string;
  updated_at: string;
};

export function octiExt(obj: StixObject): OctiExtension {
  const ext = (obj.extensions as Record<string, OctiExtension> | undefined)?.[OCTI_EXT];
  if (!ext) throw new Error(`${obj.id} has no OpenCTI extension`);
  return ext;
}

/** Millisecond-precision ISO string (OpenCTI stores dates with ms precision). */
export function isoMs(value: string | number | Date): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`invalid date: ${String(value)}`);
  return d.toISOString();
}

const OBSERVABLE_TYPES: Record<string, string> = {
  'ipv4-addr': 'IPv4-Addr',
  'ipv6-addr': 'IPv6-Addr',
  'domain-name': 'Domain-Name',
  hostname: 'Hostname',
  url: 'Url',
  'email-addr': 'Email-Addr',
  'mac-addr': 'Mac-Addr',
  file: 'StixFile',
  'autonomous-system': 'Autonomous-System',
  'x509-certificate': 'X509-Certificate',
  'windows-registry-key': 'Windows-Registry-Key',
  'user-agent': 'User-Agent',
  'email-message': 'Email-Message',
  directory: 'Directory',
  mutex: 'Mutex',
  process: 'Process',
  software: 'Software',
  'network-traffic': 'Network-Traffic',
};

// `object:path = 'value'` comparisons; path may contain quoted keys (`hashes.'SHA-256'`).
const COMPARISON_RE =
  /([a-z0-9-]+):((?:[A-Za-z0-9_-]+|'[^']*')(?:\.(?:[A-Za-z0-9_-]+|'[^']*'))*)\s*=\s*'((?:[^'\\]|\\.)*)'/g;

/**
 * `observable_values` and `main_observable_type` as OpenCTI derives them from a STIX pattern (equality
 * comparisons only; hashes keyed as written in the pattern). Non-STIX patterns → none, "Unknown".
 */
export function observablesOfPattern(
  pattern: string,
  patternType = 'stix',
): { values: ObservableValue[]; mainType: string } {
  if (patternType !== 'stix') return { values: [], mainType: 'Unknown' };
  const values: ObservableValue[] = [];
  const types = new Set<string>();
  for (const m of pattern.matchAll(COMPARISON_RE)) {
    const objectType = m[1] ?? '';
    const path = m[2] ?? '';
    const value = (m[3] ?? '').replace(/\\(.)/g, '$1');
    const type = OBSERVABLE_TYPES[objectType];
    if (!type) continue;
    types.add(type);
    const hash = /^hashes\.(?:'([^']*)'|([A-Za-z0-9_-]+))$/.exec(path);
    if (objectType === 'file' && hash) values.push({ type, hashes: { [hash[1] ?? hash[2] ?? '']: value } });
    else values.push({ type, value });
  }
  const [only] = types;
  return { values, mainType: types.size === 1 && only ? only : 'Unknown' };
}

export interface IndicatorInput {
  pattern: string;
  /** Default `stix`. */
  patternType?: string;
  /** Default: the single observable value, else the pattern. */
  name?: string;
  description?: string;
  /** Default: the event time. */
  validFrom?: string;
  /** Omitted when absent. */
  validUntil?: string;
  labels?: string[];
  killChainPhases?: KillChainPhaseInput[];
  indicatorTypes?: string[];
  /** Extension `score`, default 50. */
  score?: number;
  /** Extension `detection`, default true. */
  detection?: boolean;
  confidence?: number;
  revoked?: boolean;
  /** Default: the simulator's author identity; null for none. */
  createdByRef?: string | null;
  /** Default: TLP:CLEAR. */
  markingRefs?: string[];
  externalReferences?: Array<Record<string, unknown>>;
  /** Computed from the pattern unless given. */
  mainObservableType?: string;
  isInferred?: boolean;
  /** Internal id (default: the simulator's seeded generator). */
  internalId?: string;
  /** STIX id override (default: OpenCTI's uuidv5 of the pattern). */
  stixId?: string;
  /** Extension `stix_ids` (ids the object was imported with). */
  stixIds?: string[];
  /** STIX `created` (default: the event time). */
  created?: string;
  /** Time of the change (updated_at / modified); default now. */
  at?: string;
  /** Extra top-level STIX properties, appended last. */
  extra?: Record<string, unknown>;
  /** Extra OpenCTI extension fields. */
  extension?: Record<string, unknown>;
}

export function buildIndicator(
  input: IndicatorInput,
  ctx: { internalId: string; at: string; author: string | null; creatorId: string },
): StixObject {
  const patternType = input.patternType ?? 'stix';
  const obs = observablesOfPattern(input.pattern, patternType);
  const validFrom = isoMs(input.validFrom ?? ctx.at);
  let validUntil = input.validUntil === undefined ? undefined : isoMs(input.validUntil);
  // OpenCTI outputs valid_from + 1 s when both are equal (§6).
  if (validUntil !== undefined && validUntil === validFrom) validUntil = isoMs(Date.parse(validFrom) + 1000);
  const singleValue = obs.values.length === 1 ? obs.values[0] : undefined;
  const defaultName =
    singleValue?.value ??
    (singleValue?.hashes ? Object.values(singleValue.hashes)[0] : undefined) ??
    input.pattern;
  const ext: Record<string, unknown> = {
    extension_type: 'property-extension',
    id: ctx.internalId,
    type: 'Indicator',
    created_at: ctx.at,
    updated_at: ctx.at,
    ...(input.stixIds && input.stixIds.length > 0 ? { stix_ids: input.stixIds } : {}),
    is_inferred: input.isInferred ?? false,
    creator_ids: [ctx.creatorId],
    detection: input.detection ?? true,
    score: input.score ?? 50,
    main_observable_type: input.mainObservableType ?? obs.mainType,
    ...(obs.values.length > 0 ? { observable_values: obs.values } : {}),
    ...input.extension,
  };
  const author = input.createdByRef === undefined ? ctx.author : input.createdByRef;
  const markings = input.markingRefs ?? [TLP.CLEAR];
  const obj: Record<string, unknown> = {
    id: input.stixId ?? indicatorStandardId(input.pattern),
    spec_version: '2.1',
    type: 'indicator',
    extensions: { [OCTI_EXT]: ext, [MITRE_EXT]: { extension_type: 'property-extension' } },
    created: isoMs(input.created ?? ctx.at),
    modified: ctx.at,
    revoked: input.revoked ?? false,
    confidence: input.confidence ?? 75,
    lang: 'en',
    labels: input.labels,
    object_marking_refs: markings,
    created_by_ref: author ?? undefined,
    external_references: input.externalReferences,
    name: input.name ?? defaultName,
    description: input.description,
    indicator_types: input.indicatorTypes,
    pattern: input.pattern,
    pattern_type: patternType,
    valid_from: validFrom,
    valid_until: validUntil,
    kill_chain_phases: input.killChainPhases,
    ...input.extra,
  };
  return compact(obj) as StixObject;
}

/** Drops undefined/null and empty arrays or strings, as OpenCTI omits empty fields (§6). */
export function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (v === '') continue;
    out[k] = v;
  }
  return out;
}

export function buildIdentity(input: {
  name: string;
  identityClass?: string;
  internalId: string;
  at: string;
  creatorId: string;
}): StixObject {
  const identityClass = input.identityClass ?? 'organization';
  return {
    id: identityStandardId(input.name, identityClass),
    spec_version: '2.1',
    type: 'identity',
    extensions: {
      [OCTI_EXT]: {
        extension_type: 'property-extension',
        id: input.internalId,
        type:
          identityClass === 'individual'
            ? 'Individual'
            : identityClass === 'class'
              ? 'Sector'
              : 'Organization',
        created_at: input.at,
        updated_at: input.at,
        is_inferred: false,
        creator_ids: [input.creatorId],
      },
    },
    created: input.at,
    modified: input.at,
    revoked: false,
    confidence: 100,
    lang: 'en',
    name: input.name,
    identity_class: identityClass,
  };
}

export function buildTlpMarking(level: keyof typeof TLP, internalId: string, at: string): StixObject {
  const tlp = level === 'AMBER_STRICT' ? 'amber+strict' : level.toLowerCase();
  return {
    id: TLP[level],
    spec_version: '2.1',
    type: 'marking-definition',
    extensions: {
      [OCTI_EXT]: {
        extension_type: 'property-extension',
        id: internalId,
        type: 'Marking-Definition',
        created_at: at,
        updated_at: at,
        is_inferred: false,
        creator_ids: [ADMIN_USER_ID],
      },
    },
    created: at,
    modified: at,
    name: `TLP:${tlp.toUpperCase()}`,
    definition_type: 'TLP',
    definition: { tlp },
  };
}

/** OpenCTI entity type name of a STIX type (extension `type`). */
export function entityTypeOf(stixType: string): string {
  const special: Record<string, string> = {
    indicator: 'Indicator',
    identity: 'Organization',
    'marking-definition': 'Marking-Definition',
    relationship: 'stix-core-relationship',
    sighting: 'stix-sighting-relationship',
    'attack-pattern': 'Attack-Pattern',
    'course-of-action': 'Course-Of-Action',
    'intrusion-set': 'Intrusion-Set',
    'observed-data': 'Observed-Data',
    'malware-analysis': 'Malware-Analysis',
    'threat-actor': 'Threat-Actor',
  };
  return (
    special[stixType] ??
    stixType
      .split('-')
      .map((p) => (p[0] ?? '').toUpperCase() + p.slice(1))
      .join('-')
  );
}

/** Every id an object refers to (top-level `*_ref` / `*_refs`), like OpenCTI's stixRefsExtractor. */
export function refsOf(obj: StixObject): string[] {
  const refs: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'id') continue;
    if (k.endsWith('_ref') && typeof v === 'string') refs.push(v);
    else if (k.endsWith('_refs') && Array.isArray(v))
      for (const r of v) if (typeof r === 'string') refs.push(r);
  }
  return refs;
}

/** Human text OpenCTI puts in `message` (wording illustrative, §6). */
export function displayName(obj: StixObject): string {
  const name = obj.name ?? obj.value ?? obj.pattern ?? obj.id;
  return String(name);
}
