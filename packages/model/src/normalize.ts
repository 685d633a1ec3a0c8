import {
  classifyEvent,
  type EventKind,
  isEventId,
  OPENCTI_EXTENSION,
  type OpenCtiIndicator,
  type OpenCtiIndicatorExtension,
  openCtiInternalId,
  type StreamMessage,
  type Unchecked,
} from '@octi-sekoia/opencti/vocabulary';
import { type ExtractionMode, extractObservables, type SkipNote } from '@octi-sekoia/stix';
import {
  canonicalValidFrom,
  normalizeKillChainPhases,
  roundValidUntil,
  type ValidUntilRounding,
} from './attributes.ts';
import { type DescriptionVars, renderDescription, templatePlaceholders } from './description.ts';
import type { IndicatorJob, IocAttributes } from './job.ts';

export interface NormalizeConfig {
  /** For the description's `{opencti_url}` (a trailing slash is dropped). */
  openctiUrl: string;
  /** Default `DEFAULT_DESCRIPTION_TEMPLATE`; validate with `validateDescriptionTemplate`. */
  descriptionTemplate: string;
  validUntilRounding: ValidUntilRounding;
  extractionMode: ExtractionMode;
  generation: number;
  /** UTF-8 bytes of `data` above which an indicator event is a dead letter instead of being parsed. */
  maxEventBytes: number;
}

/** Why a message produced no job; counted, never an error. */
export type SkipReason =
  /** A control frame (packages/opencti stream-message.ts classifyEvent). */
  | Exclude<EventKind, 'data'>
  /** Identities, markings, relationships (dependency messages) and any other non-indicator object. */
  | 'not-indicator';

export type FindingKind =
  /** pattern_type is not `stix` (yara, sigma, …): the indicator exports nothing. */
  | 'non-stix-pattern'
  /** A `stix` pattern that does not parse: exports nothing. */
  | 'invalid-pattern'
  /** A `stix` indicator without a pattern: exports nothing. */
  | 'missing-pattern'
  /** One comparison of a valid pattern that yields no value (operator, path, hash algorithm…). */
  | 'value-skipped'
  /** A valid stix pattern with no exportable value at all (e.g. a pure AND in strict mode). */
  | 'nothing-exportable'
  /** A merge source without an OpenCTI internal id: it cannot be removed. */
  | 'merge-source-without-id';

/** A per-indicator note the service logs and counts; the job is produced anyway. */
export interface Finding {
  kind: FindingKind;
  indicatorId: string;
  stixId?: string;
  message: string;
  patternType?: string;
  /** invalid-pattern: offset of the syntax error. */
  position?: number;
  /** value-skipped: what the extractor reported. */
  skip?: SkipNote;
}

export type NormalizeResult =
  | { outcome: 'jobs'; jobs: IndicatorJob[]; findings: Finding[] }
  /** `detail`: the event name or object type, for logs and metric labels. */
  | { outcome: 'skipped'; reason: SkipReason; detail?: string }
  /** Becomes a dead letter of kind `event`. */
  | { outcome: 'malformed'; reason: string };

/**
 * `data.type` of an indicator as JSON.stringify writes it. The pattern `"type":"indicator"` cannot occur inside a
 * JSON string (its quotes would be escaped), so its absence proves the message holds no indicator object.
 */
const INDICATOR_TYPE_RE = /"type"\s*:\s*"indicator"/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

const skipped = (reason: SkipReason, detail?: string): NormalizeResult =>
  detail === undefined ? { outcome: 'skipped', reason } : { outcome: 'skipped', reason, detail };
const malformed = (reason: string): NormalizeResult => ({ outcome: 'malformed', reason });

/**
 * Pure: one SSE message → the jobs it implies. The SSE event name decides upsert vs remove, not the envelope's
 * `type`: OpenCTI sends an update that moves an object out of the stream filters as `event: delete` and one
 * that moves it in as `event: create`, both with `type: "update"` (docs/opencti-api.md).
 */
export function normalizeMessage(msg: StreamMessage, config: NormalizeConfig): NormalizeResult {
  const kind = classifyEvent(msg.event);
  if (kind !== 'data') return skipped(kind, kind === 'unknown-event' ? msg.event : undefined);

  if (msg.id === undefined || msg.id === '') return malformed(`\`${msg.event}\` event without an id`);
  if (!isEventId(msg.id)) return malformed(`event id ${JSON.stringify(msg.id)} is not a <ms>-<seq> id`);

  if (typeof msg.data !== 'string') return malformed(`\`${msg.event}\` event without data`);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most events are under the limit without counting their bytes.
  const bytes = msg.data.length * 3 <= config.maxEventBytes ? 0 : Buffer.byteLength(msg.data, 'utf8');
  if (bytes > config.maxEventBytes) {
    // Not parsed (that is the point of the limit). A huge report or container on a broad stream is skipped
    // like any other non-indicator rather than filling the dead letters with megabytes.
    if (!INDICATOR_TYPE_RE.test(msg.data)) return skipped('not-indicator', 'oversize');
    return malformed(`event data is ${bytes} bytes, above the limit of ${config.maxEventBytes} bytes`);
  }

  let envelope: unknown;
  try {
    envelope = JSON.parse(msg.data);
  } catch (e) {
    return malformed(`data is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(envelope)) return malformed('data is not a JSON object (event envelope expected)');
  const data = envelope.data;
  if (!isObject(data)) return malformed('event envelope has no `data` object');
  if (data.type !== 'indicator') return skipped('not-indicator', str(data.type) ?? typeof data.type);
  // Dependency messages (origin.referer `init-dependencies`) are handled like any create: on a stream filtered
  // on containers they are how the contained indicators arrive, and during recovery OpenCTI does not resend an
  // object it already sent as a dependency. Caveat: with dependencies on (`no-dependencies: false`), the other
  // end of a relationship touching a streamed object arrives too, even when it is outside the filters.

  const context = isObject(envelope.context) ? envelope.context : undefined;
  const reversePatch = Array.isArray(context?.reverse_patch) ? context.reverse_patch : undefined;
  const removed = msg.event === 'delete' || data.revoked === true;

  const target = indicatorJob(data, removed ? 'remove' : 'upsert', msg.id, config, reversePatch);
  if ('malformed' in target) return malformed(target.malformed);
  const jobs = [target.job];
  const findings = target.findings;

  if (msg.event === 'merge') {
    // Sources are absorbed into the target. Whether OpenCTI also emits a delete per source is UNCONFIRMED
    // (docs/opencti-api.md), so they are removed here; a later delete is then a harmless duplicate.
    const seen = new Set([target.job.indicatorId]);
    const sources = Array.isArray(context?.sources) ? context.sources : [];
    for (const source of sources) {
      if (!isObject(source) || (source.type !== undefined && source.type !== 'indicator')) continue;
      const job = indicatorJob(source, 'remove', msg.id, config, undefined);
      if ('malformed' in job) {
        findings.push({
          kind: 'merge-source-without-id',
          indicatorId: target.job.indicatorId,
          message: `merge source ${str(source.id) ?? '(no id)'} cannot be removed: ${job.malformed}`,
        });
        continue;
      }
      if (seen.has(job.job.indicatorId)) continue;
      seen.add(job.job.indicatorId);
      jobs.push(job.job);
    }
  }
  return { outcome: 'jobs', jobs, findings };
}

interface PatternFields {
  pattern: unknown;
  patternType: unknown;
  patternVersion: unknown;
}

interface Export {
  values: string[];
  findings: Omit<Finding, 'indicatorId' | 'stixId'>[];
}

function patternTypeOf(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * What a pattern exports: canonical values, de-duplicated and sorted (stable job content for every replay).
 * pattern_type is compared case-insensitively: it is an open vocabulary typed by users (`STIX` happens).
 */
function exportOf(p: PatternFields, mode: ExtractionMode): Export {
  const patternType = patternTypeOf(p.patternType);
  if (patternType.trim().toLowerCase() !== 'stix') {
    return {
      values: [],
      findings: [
        {
          kind: 'non-stix-pattern',
          patternType,
          message: `pattern_type ${JSON.stringify(patternType || p.patternType)} is not stix: nothing exported`,
        },
      ],
    };
  }
  if (typeof p.pattern !== 'string') {
    return {
      values: [],
      findings: [{ kind: 'missing-pattern', patternType, message: 'stix indicator without a pattern' }],
    };
  }
  const stixVersion = p.patternVersion === '2.0' || p.patternVersion === '2.1' ? p.patternVersion : undefined;
  const r = extractObservables(p.pattern, stixVersion ? { mode, stixVersion } : { mode });
  if (!r.valid) {
    return {
      values: [],
      findings: [
        {
          kind: 'invalid-pattern',
          patternType,
          message: `invalid pattern: ${r.error?.message ?? 'syntax error'}`,
          ...(r.error ? { position: r.error.position } : {}),
        },
      ],
    };
  }
  const findings: Export['findings'] = r.skipped.map((skip) => ({
    kind: 'value-skipped' as const,
    patternType,
    message: `not exported: ${skip.reason}`,
    skip,
  }));
  const values = uniqueSorted(r.observables.map((o) => o.value));
  if (values.length === 0) {
    findings.push({ kind: 'nothing-exportable', patternType, message: 'pattern exports no value' });
  }
  return { values, findings };
}

function uniqueSorted(values: string[]): string[] {
  if (values.length <= 1) return values.slice();
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The pattern fields before the event, from `reverse_patch` (RFC 6902, current → previous), or undefined when
 * the event did not touch them. Only top-level `/pattern`, `/pattern_type`, `/pattern_version` ops matter;
 * an old value that is not readable makes the previous export unknown (`null`).
 */
function previousPattern(
  data: Unchecked<OpenCtiIndicator>,
  reversePatch: unknown[] | undefined,
): PatternFields | null | undefined {
  if (!reversePatch) return undefined;
  const prev: PatternFields = {
    pattern: data.pattern,
    patternType: data.pattern_type,
    patternVersion: data.pattern_version,
  };
  let touched = false;
  for (const op of reversePatch) {
    if (!isObject(op)) continue;
    const field =
      op.path === '/pattern'
        ? 'pattern'
        : op.path === '/pattern_type'
          ? 'patternType'
          : op.path === '/pattern_version'
            ? 'patternVersion'
            : undefined;
    if (field === undefined) continue;
    if (op.op === 'replace' || op.op === 'add') {
      if (!('value' in op)) return null;
      prev[field] = op.value;
    } else if (op.op === 'remove') {
      prev[field] = undefined;
    } else {
      return null;
    }
    if (field !== 'patternVersion') touched = true;
  }
  return touched ? prev : undefined;
}

type Built = { job: IndicatorJob; findings: Finding[] } | { malformed: string };

/** The values of the placeholders the template uses (the others are not computed: this runs for every event). */
function descriptionVars(
  data: Unchecked<OpenCtiIndicator>,
  indicatorId: string,
  stixId: string,
  config: NormalizeConfig,
): DescriptionVars {
  const uses = templatePlaceholders(config.descriptionTemplate);
  const vars: DescriptionVars = {};
  if (uses.size === 0) return vars;
  const extObj = (data.extensions as Json)[OPENCTI_EXTENSION] as Unchecked<OpenCtiIndicatorExtension>;
  for (const name of uses) {
    switch (name) {
      case 'opencti_url':
        vars.opencti_url = config.openctiUrl.replace(/\/+$/, '');
        break;
      case 'id':
        vars.id = indicatorId;
        break;
      case 'stix_id':
        vars.stix_id = stixId;
        break;
      case 'name':
        vars.name = str(data.name) ?? '';
        break;
      case 'description':
        vars.description = str(data.description) ?? '';
        break;
      case 'score':
        vars.score =
          typeof extObj.score === 'number' || typeof extObj.score === 'string' ? String(extObj.score) : '';
        break;
      case 'labels':
        vars.labels = (
          Array.isArray(data.labels) ? data.labels.filter((l) => typeof l === 'string') : []
        ).join(', ');
        break;
      case 'pattern_type':
        vars.pattern_type = str(data.pattern_type) ?? '';
        break;
      case 'main_observable_type':
        vars.main_observable_type = str(extObj.main_observable_type) ?? '';
        break;
    }
  }
  return vars;
}

function indicatorJob(
  data: Unchecked<OpenCtiIndicator>,
  op: 'upsert' | 'remove',
  eventId: string,
  config: NormalizeConfig,
  reversePatch: unknown[] | undefined,
): Built {
  const indicatorId = openCtiInternalId(data);
  // Without the internal id the indicator cannot be keyed (the STIX id changes with the pattern): a dead
  // letter shows it, where a guess would split one indicator's state in two.
  if (!indicatorId) return { malformed: 'indicator without OpenCTI internal id (extensions.<opencti>.id)' };
  const stixId = str(data.id);
  if (!stixId) return { malformed: `indicator ${indicatorId} without a STIX id` };

  // OpenCTI always sets valid_from (defaults to creation); `created` covers hand-made input.
  const validFromRaw = str(data.valid_from) ?? str(data.created);
  if (validFromRaw === undefined && op === 'upsert') {
    return { malformed: `indicator ${indicatorId} without valid_from` };
  }
  const validUntilRaw = str(data.valid_until);
  const attributes: IocAttributes = {
    // A remove's attributes are informational only; '' rather than inventing a date.
    validFrom: validFromRaw === undefined ? '' : canonicalValidFrom(validFromRaw),
    killChainPhases: normalizeKillChainPhases(data.kill_chain_phases),
    description: renderDescription(
      config.descriptionTemplate,
      descriptionVars(data, indicatorId, stixId, config),
    ),
  };
  if (validUntilRaw !== undefined)
    attributes.validUntil = roundValidUntil(validUntilRaw, config.validUntilRounding);

  const current: PatternFields = {
    pattern: data.pattern,
    patternType: data.pattern_type,
    patternVersion: data.pattern_version,
  };
  const prevFields = previousPattern(data, reversePatch);
  const prevValues = prevFields ? exportOf(prevFields, config.extractionMode).values : undefined;

  const base = { kind: 'indicator' as const, generation: config.generation, eventId, indicatorId, stixId };
  if (op === 'remove') {
    // `previous` = everything the indicator may have exported just before (its last state, and the pattern
    // before this event when it changed), so a worker that never saw it can still clean those values up.
    const last = exportOf(current, config.extractionMode).values;
    const previous = uniqueSorted([...last, ...(prevValues ?? [])]);
    return { job: { ...base, op, attributes, values: [], previous }, findings: [] };
  }

  const exp = exportOf(current, config.extractionMode);
  const findings = exp.findings.map((f) => ({ ...f, indicatorId, stixId }));
  const job: IndicatorJob = { ...base, op, attributes, values: exp.values };
  if (prevValues !== undefined) job.previous = prevValues;
  return { job, findings };
}
