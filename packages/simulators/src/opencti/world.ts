/**
 * The simulated platform's data: current objects keyed by internal id (what OpenCTI's database holds) and the
 * Redis stream of events (what live streams read). Every change to an object appends one event whose envelope,
 * patch and reverse patch are computed here from the previous and the current object.
 */
import { compareStreamIds, formatStreamId, IdClock, parseStreamId, type StreamId } from './ids.ts';
import { diff, type JsonPatchOp } from './json-patch.ts';
import {
  ADMIN_USER_ID,
  buildIdentity,
  buildIndicator,
  buildTlpMarking,
  displayName,
  entityTypeOf,
  type IndicatorInput,
  isoMs,
  OCTI_EXT,
  observablesOfPattern,
  octiExt,
  type StixObject,
  TLP,
} from './stix.ts';
import { identityStandardId, indicatorStandardId } from './uuid.ts';

export interface Origin {
  socket?: string;
  ip?: string;
  user_id?: string;
  group_ids?: string[];
  organization_ids?: string[];
  user_metadata?: Record<string, unknown>;
  referer?: string;
  [k: string]: unknown;
}

export interface EventContext {
  patch?: JsonPatchOp[];
  reverse_patch?: JsonPatchOp[];
  sources?: StixObject[];
  [k: string]: unknown;
}

/** The live-event envelope (§2), keys in OpenCTI's order. */
export interface Envelope {
  version: string;
  type: 'create' | 'update' | 'delete' | 'merge';
  scope: 'external';
  message: string;
  origin: Origin;
  data: StixObject;
  context?: EventContext;
  event_id: string;
}

export interface LogEntry {
  id: string;
  sid: StreamId;
  /** SSE event name as stored. */
  event: string;
  /** The `data:` line (JSON text). */
  payload: string;
  /** Absent for raw events (delivered verbatim, unfiltered). */
  envelope?: Envelope;
  /** For updates: the object before the change (visibility transitions). */
  previous?: StixObject;
  /** Raw events without an id line. */
  noId?: boolean;
  /** Raw events sent with this id line instead of their own (a hostile server: unparsable or backwards ids). */
  wireId?: string;
}

export interface Entity {
  internalId: string;
  stix: StixObject;
  deleted: boolean;
}

/** What a change returns: the indicator's keys and the stream id of the event it produced. */
export interface IndicatorRef {
  internalId: string;
  stixId: string;
  /** Stream id of the event (what a client sees in `id:`). */
  eventId: string;
  /** Set when a pattern change collided with another indicator and OpenCTI merged them. */
  mergedInto?: string;
}

export interface StreamInfo {
  lastEventId: string;
  firstEventId: string;
  firstEventDate: string;
  lastEventDate: string;
  streamSize: number;
}

const INDICATOR_KEY_ORDER = [
  'id',
  'spec_version',
  'type',
  'extensions',
  'created',
  'modified',
  'revoked',
  'confidence',
  'lang',
  'labels',
  'object_marking_refs',
  'created_by_ref',
  'external_references',
  'name',
  'description',
  'indicator_types',
  'pattern',
  'pattern_type',
  'pattern_version',
  'valid_from',
  'valid_until',
  'kill_chain_phases',
];

function reorder(obj: StixObject): StixObject {
  const out: Record<string, unknown> = {};
  for (const k of INDICATOR_KEY_ORDER) if (k in obj) out[k] = obj[k];
  for (const [k, v] of Object.entries(obj)) if (!(k in out)) out[k] = v;
  return out as StixObject;
}

const BOOT_DATE = '2024-01-01T00:00:00.000Z';

export interface WorldOptions {
  now: () => number;
  uuid: () => string;
  origin: Origin;
  /** Keep at most this many events (Redis MAXLEN trimming); unlimited by default. */
  retain?: number;
  /** Emit a `delete` per absorbed source after a merge (whether OpenCTI does is UNCONFIRMED, §8). */
  mergeDeletesSources?: () => boolean;
}

export class World {
  readonly ids: IdClock;
  private readonly entities = new Map<string, Entity>();
  private readonly byStixId = new Map<string, string>();
  /** internal id of an object → internal ids of relationships touching it. */
  private readonly relationsOf = new Map<string, Set<string>>();
  private log: LogEntry[] = [];
  private lastAppended: StreamId | undefined;
  private readonly listeners = new Set<() => void>();
  readonly authorRef: string;

  constructor(private readonly opts: WorldOptions) {
    this.ids = new IdClock(opts.now);
    for (const level of Object.keys(TLP) as Array<keyof typeof TLP>) {
      this.put(buildTlpMarking(level, opts.uuid(), BOOT_DATE));
    }
    const author = buildIdentity({
      name: 'OpenCTI Simulator',
      internalId: opts.uuid(),
      at: BOOT_DATE,
      creatorId: ADMIN_USER_ID,
    });
    this.put(author);
    this.authorRef = author.id;
  }

  // ---- stream log -------------------------------------------------------------------------------------

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  entries(): readonly LogEntry[] {
    return this.log;
  }

  /** Index of the first retained entry with an id strictly above `after` (exclusive resume). */
  indexAfter(after: StreamId): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareStreamIds((this.log[mid] as LogEntry).sid, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  lastId(): StreamId {
    return this.lastAppended ?? { ms: 0, seq: 0 };
  }

  info(): StreamInfo {
    const first = this.log[0];
    const last = this.lastAppended;
    const lastEntry = this.log[this.log.length - 1];
    return {
      lastEventId: last ? formatStreamId(last) : '0-0',
      // Empty stream: OpenCTI's behaviour is UNCONFIRMED (§9); report 0-0 / epoch.
      firstEventId: first ? first.id : '0-0',
      firstEventDate: new Date(first ? first.sid.ms : 0).toISOString(),
      lastEventDate: new Date(lastEntry ? lastEntry.sid.ms : 0).toISOString(),
      streamSize: this.log.length,
    };
  }

  private append(
    event: string,
    payload: string,
    extra: Partial<LogEntry> = {},
    explicit?: StreamId,
  ): LogEntry {
    let sid: StreamId;
    if (explicit) {
      this.ids.take(explicit);
      sid = explicit;
    } else sid = this.ids.next();
    const entry: LogEntry = { id: formatStreamId(sid), sid, event, payload, ...extra };
    this.log.push(entry);
    this.lastAppended = sid;
    if (this.opts.retain !== undefined && this.log.length > this.opts.retain) {
      this.log = this.log.slice(this.log.length - this.opts.retain);
    }
    for (const l of this.listeners) l();
    return entry;
  }

  private appendEnvelope(env: Envelope, previous?: StixObject, event: string = env.type): LogEntry {
    return this.append(event, JSON.stringify(env), { envelope: env, ...(previous ? { previous } : {}) });
  }

  /** Appends an event as given (not filtered per stream; delivered to every connection). */
  appendRaw(input: { event: string; data: unknown; id?: string; noId?: boolean; wireId?: string }): LogEntry {
    const payload = typeof input.data === 'string' ? input.data : JSON.stringify(input.data);
    let explicit: StreamId | undefined;
    if (input.id !== undefined) {
      explicit = parseStreamId(input.id);
      if (!explicit) throw new Error(`not a stream id: ${input.id}`);
    }
    const extra: Partial<LogEntry> = input.noId
      ? { noId: true }
      : input.wireId !== undefined
        ? { wireId: input.wireId }
        : {};
    return this.append(input.event, payload, extra, explicit);
  }

  /** XTRIM: keep the last `maxLength` entries and/or drop entries with an id below `minId`. */
  trim(input: { maxLength?: number; minId?: string }): StreamInfo {
    if (input.minId !== undefined) {
      const min = parseStreamId(input.minId);
      if (!min) throw new Error(`not a stream id: ${input.minId}`);
      this.log = this.log.filter((e) => compareStreamIds(e.sid, min) >= 0);
    }
    if (input.maxLength !== undefined && this.log.length > input.maxLength) {
      this.log = this.log.slice(this.log.length - input.maxLength);
    }
    return this.info();
  }

  // ---- objects ----------------------------------------------------------------------------------------

  get(internalId: string): Entity | undefined {
    return this.entities.get(internalId);
  }

  /** The live object a STIX id (standard id or one of its stix_ids) designates. */
  resolve(stixId: string): Entity | undefined {
    const internal = this.byStixId.get(stixId);
    const e = internal ? this.entities.get(internal) : undefined;
    return e && !e.deleted ? e : undefined;
  }

  objects(): IterableIterator<Entity> {
    return this.entities.values();
  }

  relationshipsOf(internalId: string): Entity[] {
    const out: Entity[] = [];
    for (const id of this.relationsOf.get(internalId) ?? []) {
      const e = this.entities.get(id);
      if (e && !e.deleted) out.push(e);
    }
    return out;
  }

  private index(e: Entity): void {
    this.byStixId.set(e.stix.id, e.internalId);
    const ext = octiExt(e.stix);
    for (const id of (ext.stix_ids as string[] | undefined) ?? []) this.byStixId.set(id, e.internalId);
    if (e.stix.type === 'relationship' || e.stix.type === 'sighting') {
      for (const ref of [e.stix.source_ref, e.stix.target_ref, e.stix.sighting_of_ref]) {
        const end = typeof ref === 'string' ? this.byStixId.get(ref) : undefined;
        if (!end) continue;
        const set = this.relationsOf.get(end) ?? new Set<string>();
        this.relationsOf.set(end, set);
        set.add(e.internalId);
      }
    }
  }

  /** Stores an object without an event (what existed before the simulation started). */
  put(stix: StixObject): Entity {
    const e: Entity = { internalId: octiExt(stix).id, stix, deleted: false };
    this.entities.set(e.internalId, e);
    this.index(e);
    return e;
  }

  private at(at: string | undefined): string {
    return isoMs(at ?? this.opts.now());
  }

  private envelope(
    type: Envelope['type'],
    message: string,
    data: StixObject,
    context: EventContext | undefined,
    eventTime: string,
  ): Envelope {
    const env: Envelope = {
      version: '4',
      type,
      scope: 'external',
      message,
      origin: this.opts.origin,
      data,
      event_id: `${Date.parse(eventTime)}-0`,
    };
    if (context) {
      // Keep OpenCTI's key order: context before event_id.
      const { event_id, ...rest } = env;
      return { ...rest, context, event_id };
    }
    return env;
  }

  private requireLive(internalId: string, kind?: string): Entity {
    const e = this.entities.get(internalId);
    if (!e || e.deleted) throw new Error(`no live object with internal id ${internalId}`);
    if (kind && e.stix.type !== kind) throw new Error(`${internalId} is a ${e.stix.type}, not an ${kind}`);
    return e;
  }

  createIndicator(input: IndicatorInput): IndicatorRef {
    const at = this.at(input.at);
    const internalId = input.internalId ?? this.opts.uuid();
    if (this.entities.has(internalId)) throw new Error(`internal id ${internalId} already exists`);
    const stix = buildIndicator(input, { internalId, at, author: this.authorRef, creatorId: ADMIN_USER_ID });
    const owner = this.resolve(stix.id);
    if (owner) throw new Error(`an indicator with id ${stix.id} already exists (${owner.internalId})`);
    const e = this.put(stix);
    const entry = this.appendEnvelope(
      this.envelope('create', `creates a Indicator \`${displayName(stix)}\``, stix, undefined, at),
    );
    return { internalId: e.internalId, stixId: stix.id, eventId: entry.id };
  }

  /** Creates any other STIX object (identity, marking, relationship, malware…) with an OpenCTI extension. */
  addObject(input: {
    object: Record<string, unknown>;
    at?: string;
    internalId?: string;
    stixIds?: string[];
  }): {
    internalId: string;
    stixId: string;
    eventId: string;
  } {
    const at = this.at(input.at);
    const src = structuredClone(input.object) as StixObject;
    if (typeof src.id !== 'string' || typeof src.type !== 'string')
      throw new Error('object needs id and type');
    if (this.resolve(src.id)) throw new Error(`object ${src.id} already exists`);
    const internalId = input.internalId ?? this.opts.uuid();
    const { id, type, spec_version, extensions, ...rest } = src;
    const ext: Record<string, unknown> = {
      extension_type: 'property-extension',
      id: internalId,
      type: entityTypeOf(type),
      created_at: at,
      updated_at: at,
      ...(input.stixIds ? { stix_ids: input.stixIds } : {}),
      is_inferred: false,
      creator_ids: [ADMIN_USER_ID],
    };
    if (type === 'relationship') {
      for (const side of ['source', 'target'] as const) {
        const end = this.resolve(String(rest[`${side}_ref`]));
        if (end) {
          ext[`${side}_ref`] = end.internalId;
          ext[`${side}_type`] = octiExt(end.stix).type;
        }
      }
    }
    const stix = {
      id,
      spec_version: spec_version ?? '2.1',
      type,
      extensions: { ...(extensions as object | undefined), [OCTI_EXT]: ext },
      ...rest,
    } as StixObject;
    const e = this.put(stix);
    const entry = this.appendEnvelope(
      this.envelope(
        'create',
        `creates a ${entityTypeOf(type)} \`${displayName(stix)}\``,
        stix,
        undefined,
        at,
      ),
    );
    return { internalId: e.internalId, stixId: stix.id, eventId: entry.id };
  }

  private applyUpdate(
    e: Entity,
    mutate: (draft: StixObject) => void,
    at: string,
    message?: string,
  ): LogEntry {
    const previous = e.stix;
    const draft = structuredClone(previous);
    mutate(draft);
    draft.modified = at;
    octiExt(draft).updated_at = at;
    const next = reorder(draft);
    const patch = diff(previous, next);
    const reverse = diff(next, previous);
    if (next.id !== previous.id) {
      this.byStixId.delete(previous.id);
      this.rewriteRelationRefs(e.internalId, previous.id, next.id);
    }
    e.stix = next;
    this.index(e);
    const text = message ?? describePatch(patch);
    return this.appendEnvelope(
      this.envelope('update', text, next, { patch, reverse_patch: reverse }, at),
      previous,
    );
  }

  private rewriteRelationRefs(internalId: string, oldId: string, newId: string): void {
    // OpenCTI stores relationships by internal id: their STIX output shows the endpoint's current id.
    for (const rel of this.relationshipsOf(internalId)) {
      for (const key of ['source_ref', 'target_ref', 'sighting_of_ref']) {
        if (rel.stix[key] === oldId) rel.stix = { ...rel.stix, [key]: newId };
      }
    }
  }

  /**
   * Changes top-level STIX fields (`set`, `unset`) and/or OpenCTI extension fields (`extension`).
   * A `pattern` in `set` goes through changePattern (new STIX id).
   */
  updateIndicator(input: {
    internalId: string;
    set?: Record<string, unknown>;
    unset?: string[];
    extension?: Record<string, unknown>;
    at?: string;
    message?: string;
  }): IndicatorRef {
    const e = this.requireLive(input.internalId, 'indicator');
    const { pattern, ...set } = input.set ?? {};
    if (typeof pattern === 'string') {
      return this.changePattern({
        internalId: input.internalId,
        pattern,
        patternType: typeof set.pattern_type === 'string' ? set.pattern_type : undefined,
        at: input.at,
      });
    }
    const at = this.at(input.at);
    const entry = this.applyUpdate(
      e,
      (d) => {
        for (const [k, v] of Object.entries(set)) {
          if (v === undefined || v === null) delete d[k];
          else d[k] = k === 'valid_from' || k === 'valid_until' ? isoMs(v as string) : v;
        }
        for (const k of input.unset ?? []) delete d[k];
        Object.assign(octiExt(d), input.extension ?? {});
      },
      at,
      input.message,
    );
    return { internalId: e.internalId, stixId: e.stix.id, eventId: entry.id };
  }

  /**
   * A pattern change: OpenCTI regenerates the standard id (patch replaces `/id`) and the observables; if
   * another live indicator already owns the new id, it merges this one into it instead.
   */
  changePattern(input: {
    internalId: string;
    pattern: string;
    patternType?: string;
    name?: string;
    at?: string;
  }): IndicatorRef {
    const e = this.requireLive(input.internalId, 'indicator');
    const newId = indicatorStandardId(input.pattern);
    const owner = this.resolve(newId);
    if (owner && owner.internalId !== e.internalId) {
      const ref = this.merge({ targetId: owner.internalId, sourceIds: [e.internalId], at: input.at });
      return { ...ref, mergedInto: owner.internalId };
    }
    const at = this.at(input.at);
    const patternType = input.patternType ?? String(e.stix.pattern_type ?? 'stix');
    const obs = observablesOfPattern(input.pattern, patternType);
    const entry = this.applyUpdate(
      e,
      (d) => {
        d.id = newId;
        d.pattern = input.pattern;
        d.pattern_type = patternType;
        if (input.name !== undefined) d.name = input.name;
        const ext = octiExt(d);
        ext.main_observable_type = obs.mainType;
        if (obs.values.length > 0) ext.observable_values = obs.values;
        else delete ext.observable_values;
      },
      at,
      `replaces \`${input.pattern}\` in \`Pattern\``,
    );
    return { internalId: e.internalId, stixId: newId, eventId: entry.id };
  }

  /** Revocation arrives as an update of `/revoked` (never a delete). */
  setRevoked(input: { internalId: string; revoked: boolean; at?: string }): IndicatorRef {
    const e = this.requireLive(input.internalId, 'indicator');
    const entry = this.applyUpdate(
      e,
      (d) => {
        d.revoked = input.revoked;
      },
      this.at(input.at),
      `replaces \`${input.revoked}\` in \`Revoked\``,
    );
    return { internalId: e.internalId, stixId: e.stix.id, eventId: entry.id };
  }

  /** Deletes an object: `delete` events for its relationships, then for it (data = last state). */
  deleteObject(input: { internalId: string; at?: string }): IndicatorRef {
    const e = this.requireLive(input.internalId);
    const at = this.at(input.at);
    for (const rel of this.relationshipsOf(e.internalId)) this.deleteOne(rel, at);
    const entry = this.deleteOne(e, at);
    return { internalId: e.internalId, stixId: e.stix.id, eventId: entry.id };
  }

  private deleteOne(e: Entity, at: string): LogEntry {
    e.deleted = true;
    const type = octiExt(e.stix).type;
    return this.appendEnvelope(
      this.envelope('delete', `deletes a ${type} \`${displayName(e.stix)}\``, e.stix, undefined, at),
    );
  }

  /**
   * Merges sources into the target: one `merge` event, data = the target after the merge (sources' ids added to
   * its stix_ids, labels united), context.sources = the absorbed objects' last state.
   */
  merge(input: { targetId: string; sourceIds: string[]; at?: string }): IndicatorRef {
    const target = this.requireLive(input.targetId);
    const sources = input.sourceIds.map((id) => this.requireLive(id));
    if (sources.some((s) => s.internalId === target.internalId)) throw new Error('cannot merge into itself');
    const at = this.at(input.at);
    const previous = target.stix;
    const draft = structuredClone(previous);
    const ext = octiExt(draft);
    const stixIds = new Set<string>((ext.stix_ids as string[] | undefined) ?? []);
    const labels = new Set<string>((draft.labels as string[] | undefined) ?? []);
    for (const s of sources) {
      stixIds.add(s.stix.id);
      for (const id of (octiExt(s.stix).stix_ids as string[] | undefined) ?? []) stixIds.add(id);
      for (const l of (s.stix.labels as string[] | undefined) ?? []) labels.add(l);
    }
    // stix_ids sit after created_at/updated_at in OpenCTI's extension; order is cosmetic.
    ext.stix_ids = [...stixIds];
    if (labels.size > 0) draft.labels = [...labels];
    draft.modified = at;
    ext.updated_at = at;
    const next = reorder(draft);
    target.stix = next;
    for (const s of sources) {
      // Relationships of the sources now belong to the target.
      this.rewriteRelationRefs(s.internalId, s.stix.id, next.id);
      const set = this.relationsOf.get(target.internalId) ?? new Set<string>();
      this.relationsOf.set(target.internalId, set);
      for (const rel of this.relationshipsOf(s.internalId)) set.add(rel.internalId);
      s.deleted = true;
    }
    this.index(target);
    const names = sources.map((s) => displayName(s.stix)).join(', ');
    const entry = this.appendEnvelope(
      this.envelope(
        'merge',
        `merges ${octiExt(next).type} \`${names}\` in \`${displayName(next)}\``,
        next,
        {
          patch: diff(previous, next),
          reverse_patch: diff(next, previous),
          sources: sources.map((s) => s.stix),
        },
        at,
      ),
      previous,
    );
    if (this.opts.mergeDeletesSources?.()) for (const s of sources) this.deleteOne(s, at);
    return { internalId: target.internalId, stixId: next.id, eventId: entry.id };
  }

  /**
   * Imports a STIX bundle the way OpenCTI would: indicators and identities get OpenCTI's deterministic ids
   * (the original goes to `stix_ids`), references are rewritten, one `create` per object.
   */
  loadBundle(input: { bundle: unknown; at?: string }): { indicators: IndicatorRef[]; objects: number } {
    const raw = input.bundle as { objects?: unknown[] } | unknown[];
    const objects = (Array.isArray(raw) ? raw : (raw.objects ?? [])) as StixObject[];
    const idMap = new Map<string, string>();
    const mapRef = (ref: unknown) => (typeof ref === 'string' ? (idMap.get(ref) ?? ref) : ref);
    const rank = (o: StixObject) =>
      o.type === 'marking-definition'
        ? 0
        : o.type === 'identity'
          ? 1
          : o.type === 'relationship' || o.type === 'sighting'
            ? 4
            : o.type === 'indicator'
              ? 3
              : 2;
    const sorted = [...objects].sort((a, b) => rank(a) - rank(b));
    const indicators: IndicatorRef[] = [];
    let count = 0;
    for (const o of sorted) {
      if (o.type === 'indicator') {
        const standard = indicatorStandardId(String(o.pattern));
        idMap.set(o.id, standard);
        const existing = this.resolve(standard);
        if (existing) continue;
        const ref = this.createIndicator({
          pattern: String(o.pattern),
          patternType: o.pattern_type as string | undefined,
          name: o.name as string | undefined,
          description: o.description as string | undefined,
          validFrom: o.valid_from as string | undefined,
          validUntil: o.valid_until as string | undefined,
          labels: o.labels as string[] | undefined,
          killChainPhases: o.kill_chain_phases as IndicatorInput['killChainPhases'],
          indicatorTypes: o.indicator_types as string[] | undefined,
          confidence: o.confidence as number | undefined,
          revoked: o.revoked as boolean | undefined,
          createdByRef: (mapRef(o.created_by_ref) as string | undefined) ?? null,
          markingRefs: (o.object_marking_refs as string[] | undefined)?.map((r) => String(mapRef(r))) ?? [],
          externalReferences: o.external_references as IndicatorInput['externalReferences'],
          created: o.created as string | undefined,
          score: o.x_opencti_score as number | undefined,
          detection: o.x_opencti_detection as boolean | undefined,
          mainObservableType: o.x_opencti_main_observable_type as string | undefined,
          stixIds: [o.id],
          at: input.at,
        });
        indicators.push(ref);
        count++;
        continue;
      }
      const copy: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) {
        if (k.startsWith('x_opencti')) continue;
        if (k.endsWith('_ref')) copy[k] = mapRef(v);
        else if (k.endsWith('_refs') && Array.isArray(v)) copy[k] = v.map(mapRef);
        else copy[k] = v;
      }
      const isIdentity = o.type === 'identity' && typeof o.name === 'string';
      if (isIdentity) {
        const standard = identityStandardId(String(o.name), String(o.identity_class ?? 'organization'));
        idMap.set(o.id, standard);
        copy.id = standard;
      }
      if (this.resolve(String(copy.id))) continue;
      if (
        o.type === 'relationship' &&
        (!this.resolve(String(copy.source_ref)) || !this.resolve(String(copy.target_ref)))
      ) {
        continue; // OpenCTI refuses a relationship whose ends are unknown.
      }
      this.addObject({ object: copy, at: input.at, ...(isIdentity ? { stixIds: [o.id] } : {}) });
      count++;
    }
    return { indicators, objects: count };
  }
}

function humanField(path: string): string {
  const key = path.split('/')[1] ?? path;
  return key
    .split('_')
    .map((p) => (p[0] ?? '').toUpperCase() + p.slice(1))
    .join(' ');
}

/** A readable update message from the patch (OpenCTI's exact wording is illustrative, §6). */
function describePatch(patch: JsonPatchOp[]): string {
  const parts: string[] = [];
  for (const op of patch) {
    if (op.path === '/modified' || op.path.startsWith('/extensions/')) continue;
    const field = humanField(op.path);
    if (op.op === 'remove') parts.push(`removes \`${field}\``);
    else
      parts.push(`${op.op === 'add' ? 'adds' : 'replaces'} \`${JSON.stringify(op.value)}\` in \`${field}\``);
  }
  return parts.length > 0 ? parts.join(' - ') : 'updates the object';
}
