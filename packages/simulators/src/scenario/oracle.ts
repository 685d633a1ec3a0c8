/**
 * The oracle: the exact collection the convergence invariant demands (docs/architecture.md),
 * computed from the stream messages alone. Deliberately independent of the product: it does not use
 * `normalizeMessage` nor any sync code, only the STIX extractor and the model's attribute helpers, so a bug in
 * the product's normalisation cannot hide itself.
 */
import {
  attributesEqual,
  canonicalValidFrom,
  type IocAttributes,
  normalizeKillChainPhases,
  renderDescription,
  roundValidUntil,
  type ValidUntilRounding,
} from '@octi-sekoia/model';
import {
  compareEventIds,
  isDataEvent,
  isEventId,
  OPENCTI_EXTENSION,
  type StreamMessage,
} from '@octi-sekoia/opencti/vocabulary';
import { canonicalValue, type ExtractionMode, extractObservables } from '@octi-sekoia/stix';

export interface OracleConfig {
  openctiUrl: string;
  descriptionTemplate: string;
  validUntilRounding: ValidUntilRounding;
  extractionMode: ExtractionMode;
  /** false: the connector asked for no delete events (`listen-delete: false`), so `delete`s are not seen. */
  listenDelete?: boolean;
}

export interface ExpectedIoc {
  /** Canonical value. */
  value: string;
  /** Those of the live holder whose latest event came last in stream order. */
  attributes: IocAttributes;
  /** Internal ids of the live indicators holding the value, sorted. */
  indicatorIds: string[];
}

interface LiveIndicator {
  values: string[];
  attributes: IocAttributes;
  /** Stream position of its latest applied event. */
  position: number;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function internalIdOf(obj: Json): string | undefined {
  const ext = isObject(obj.extensions) ? obj.extensions[OPENCTI_EXTENSION] : undefined;
  return isObject(ext) ? str(ext.id) : undefined;
}

/** Canonical values a live indicator exports: none unless `pattern_type` is stix and the pattern parses. */
function valuesOf(data: Json, mode: ExtractionMode): string[] {
  const patternType = str(data.pattern_type) ?? '';
  if (patternType.trim().toLowerCase() !== 'stix' || typeof data.pattern !== 'string') return [];
  const version =
    data.pattern_version === '2.0' || data.pattern_version === '2.1' ? data.pattern_version : undefined;
  const r = extractObservables(data.pattern, version ? { mode, stixVersion: version } : { mode });
  if (!r.valid) return [];
  return [...new Set(r.observables.map((o) => o.value))];
}

function attributesOf(data: Json, internalId: string, config: OracleConfig): IocAttributes | undefined {
  const validFrom = str(data.valid_from) ?? str(data.created);
  if (validFrom === undefined) return undefined;
  const ext = (isObject(data.extensions) ? data.extensions[OPENCTI_EXTENSION] : undefined) as Json;
  const labels = Array.isArray(data.labels)
    ? data.labels.filter((l): l is string => typeof l === 'string')
    : [];
  const score = typeof ext.score === 'number' || typeof ext.score === 'string' ? String(ext.score) : '';
  const description = renderDescription(config.descriptionTemplate, {
    opencti_url: config.openctiUrl.replace(/\/+$/, ''),
    id: internalId,
    stix_id: str(data.id) ?? '',
    name: str(data.name) ?? '',
    description: str(data.description) ?? '',
    score,
    labels: labels.join(', '),
    pattern_type: str(data.pattern_type) ?? '',
    main_observable_type: str(ext.main_observable_type) ?? '',
  });
  const attributes: IocAttributes = {
    validFrom: canonicalValidFrom(validFrom),
    killChainPhases: normalizeKillChainPhases(data.kill_chain_phases),
    description,
  };
  const validUntil = str(data.valid_until);
  if (validUntil !== undefined)
    attributes.validUntil = roundValidUntil(validUntil, config.validUntilRounding);
  return attributes;
}

/**
 * The expected collection, keyed by canonical value. Rules:
 * - data events (`create`, `update`, `delete`, `merge`) in stream order; everything else (heartbeats,
 *   `connected`, unknown events) and non-indicator objects are skipped;
 * - indicators are keyed by the OpenCTI internal id (extension `id`); the SSE event name decides, not the
 *   envelope `type`: `delete` = gone (ignored entirely when `listenDelete` is false); `merge` = the target as in
 *   `data` and every `context.sources[]` indicator gone; `revoked: true` = not live;
 * - what the product cannot act on changes nothing: a data event without a `<ms>-<seq>` id, unparsable JSON, an
 *   indicator without internal id or STIX id, a live indicator without `valid_from` (and `created`);
 * - an event whose id is not above the last one applied to the same indicator is a replay and is ignored (the
 *   product's fence); on a log with increasing ids (World.entries()) this changes nothing;
 * - values = the stix pattern's exported observables (extraction mode of the config); a value is expected iff a
 *   live indicator holds it, with the attributes of the live holder whose latest applied event came last.
 */
export function computeExpectedCollection(
  messages: Iterable<StreamMessage>,
  config: OracleConfig,
): Map<string, ExpectedIoc> {
  const live = new Map<string, LiveIndicator>();
  /** Internal id → id of the last event applied to it (tombstones included). */
  const fence = new Map<string, string>();
  const listenDelete = config.listenDelete !== false;

  let position = -1;
  for (const msg of messages) {
    position++;
    const event = msg.event;
    if (!isDataEvent(event)) continue;
    if (event === 'delete' && !listenDelete) continue;
    if (msg.id === undefined || !isEventId(msg.id) || typeof msg.data !== 'string') continue;
    const eventId = msg.id;
    let envelope: unknown;
    try {
      envelope = JSON.parse(msg.data);
    } catch {
      continue;
    }
    if (!isObject(envelope) || !isObject(envelope.data)) continue;
    const data = envelope.data;
    if (data.type !== 'indicator') continue;
    const targetId = internalIdOf(data);
    if (targetId === undefined || str(data.id) === undefined) continue;

    const admit = (id: string): boolean => {
      const last = fence.get(id);
      if (last !== undefined && compareEventIds(eventId, last) <= 0) return false;
      fence.set(id, eventId);
      return true;
    };

    if (event === 'delete' || data.revoked === true) {
      if (admit(targetId)) live.delete(targetId);
    } else {
      const attributes = attributesOf(data, targetId, config);
      if (attributes !== undefined && admit(targetId)) {
        live.set(targetId, { values: valuesOf(data, config.extractionMode), attributes, position });
      }
    }

    if (event === 'merge') {
      const context = isObject(envelope.context) ? envelope.context : undefined;
      const sources = Array.isArray(context?.sources) ? context.sources : [];
      for (const source of sources) {
        if (!isObject(source) || (source.type !== undefined && source.type !== 'indicator')) continue;
        const sourceId = internalIdOf(source);
        if (sourceId === undefined || sourceId === targetId) continue;
        if (admit(sourceId)) live.delete(sourceId);
      }
    }
  }

  const expected = new Map<string, ExpectedIoc>();
  const winner = new Map<string, number>();
  for (const [id, ind] of live) {
    for (const value of ind.values) {
      const entry = expected.get(value);
      if (!entry) {
        expected.set(value, { value, attributes: ind.attributes, indicatorIds: [id] });
        winner.set(value, ind.position);
        continue;
      }
      entry.indicatorIds.push(id);
      if (ind.position > (winner.get(value) ?? -1)) {
        entry.attributes = ind.attributes;
        winner.set(value, ind.position);
      }
    }
  }
  for (const entry of expected.values()) entry.indicatorIds.sort();
  return expected;
}

/** An IOC as the Sekoia simulator holds it (its inspection API; `value` = the canonical value or the name). */
export interface ActualIoc {
  value: string;
  revoked: boolean;
  valid_from?: string | null;
  valid_until?: string | null;
  kill_chain_phases?: unknown[] | null;
  description?: string | null;
}

export interface CollectionDiff {
  /** Expected values with no live IOC. */
  missing: string[];
  /** Live IOCs whose value is not expected. */
  unexpected: string[];
  /** Expected values whose live IOC (one of them, when duplicated) carries other attributes. */
  wrongAttributes: Array<{ value: string; expected: IocAttributes; actual: IocAttributes }>;
  /** Values with more than one live IOC. */
  duplicates: string[];
}

/** True when the two collections agree (nothing missing, unexpected, wrong or duplicated). */
export function isConverged(diff: CollectionDiff): boolean {
  return (
    diff.missing.length === 0 &&
    diff.unexpected.length === 0 &&
    diff.wrongAttributes.length === 0 &&
    diff.duplicates.length === 0
  );
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares the Sekoia collection with the expectation. Live = not revoked; values are canonicalised (an
 * unrecognisable value is kept as written, trimmed). Attributes compare as the model does: instants as
 * instants, kill chain phases as a set, the description exactly (absent = ''). When the expectation has no
 * `validUntil`, any actual `valid_until` is accepted: Sekoia then applies its own default validity.
 */
export function diffCollections(
  expected: Map<string, ExpectedIoc>,
  actual: Iterable<ActualIoc>,
): CollectionDiff {
  const liveByValue = new Map<string, ActualIoc[]>();
  for (const ioc of actual) {
    if (ioc.revoked) continue;
    const key = canonicalValue(ioc.value) ?? ioc.value.trim();
    const list = liveByValue.get(key);
    if (list) list.push(ioc);
    else liveByValue.set(key, [ioc]);
  }

  const diff: CollectionDiff = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };
  for (const [value, exp] of expected) {
    const iocs = liveByValue.get(value);
    if (!iocs) {
      diff.missing.push(value);
      continue;
    }
    for (const ioc of iocs) {
      const actualAttributes: IocAttributes = {
        validFrom: ioc.valid_from ?? '',
        killChainPhases: normalizeKillChainPhases(ioc.kill_chain_phases),
        description: ioc.description ?? '',
      };
      if (ioc.valid_until !== undefined && ioc.valid_until !== null)
        actualAttributes.validUntil = ioc.valid_until;
      const compared =
        exp.attributes.validUntil === undefined
          ? { ...actualAttributes, validUntil: undefined }
          : actualAttributes;
      if (!attributesEqual(exp.attributes, compared)) {
        diff.wrongAttributes.push({ value, expected: exp.attributes, actual: actualAttributes });
        break;
      }
    }
  }
  for (const [value, iocs] of liveByValue) {
    if (!expected.has(value)) diff.unexpected.push(value);
    if (iocs.length > 1) diff.duplicates.push(value);
  }
  diff.missing.sort(byCodeUnit);
  diff.unexpected.sort(byCodeUnit);
  diff.duplicates.sort(byCodeUnit);
  diff.wrongAttributes.sort((a, b) => byCodeUnit(a.value, b.value));
  return diff;
}

/** World log entries (`{ id, event, payload, noId? }`) as the messages a client receives. */
export function messagesFromLog(
  entries: Iterable<{ id: string; event: string; payload: string; noId?: boolean }>,
): StreamMessage[] {
  const out: StreamMessage[] = [];
  for (const e of entries)
    out.push(e.noId ? { event: e.event, data: e.payload } : { id: e.id, event: e.event, data: e.payload });
  return out;
}
