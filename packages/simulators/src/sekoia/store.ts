import { KNOWN_KILL_CHAIN_PHASES, type ObservableType } from '@octi-sekoia/stix';
import { SeededRandom } from './rng.ts';
import {
  DEFAULT_BEHAVIOR,
  defaultFaults,
  type SekoiaBehavior,
  type SekoiaCollection,
  type SekoiaFaults,
  type SekoiaIndicator,
  type SimApiKey,
  type SimIndicatorState,
  type SimTask,
} from './types.ts';
import {
  analyseValue,
  buildPattern,
  defaultValidityMs,
  indicatorName,
  isHashType,
  observableObjectType,
  TEXT_FORMATS,
} from './values.ts';

/** What an API handler answers: the HTTP layer only serialises it. */
export interface ApiResult {
  status: number;
  body: unknown;
  /** Set when the body is sent as this text type instead of JSON (`body` is then the text). */
  contentType?: string;
}

/** Error codes. Only INTHREAT2500 is documented (AL-ADD fixture); the others are invented in the same style. */
export const CODES = {
  collectionNotFound: 'INTHREAT2500',
  indicatorNotFound: 'INTHREAT2501',
  validation: 'INTHREAT4000',
  invalidValue: 'INTHREAT4001',
  descriptionTooLong: 'INTHREAT4002',
  immutableField: 'INTHREAT4003',
  deletionTooEarly: 'INTHREAT4004',
  revokeRefused: 'INTHREAT4005',
  quotaExceeded: 'INTHREAT4013',
} as const;

const COLLECTION_PREFIX = 'ioc-collection--';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
/** Documented: force_deletion only after the indicator has been revoked for 24 hours. */
export const FORCE_DELETION_AFTER_MS = 24 * 3_600_000;
/** Documented UI/API limit on descriptions (characters, counted as Unicode code points here). */
export const DESCRIPTION_MAX = 500;
const IMMUTABLE = ['value', 'name', 'pattern'];

const fail = (status: number, message: string, code?: string): ApiResult => ({
  status,
  body: code ? { message, code } : { message },
});
const collectionNotFound = () => fail(404, 'IOC Collection not found', CODES.collectionNotFound);
const indicatorNotFound = () => fail(404, 'Unknown collection or indicator', CODES.indicatorNotFound);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface IndicatorRecord {
  pub: SekoiaIndicator;
  canonical: string;
  revokedAt: number | null;
}

interface CollectionRecord {
  meta: Omit<SekoiaCollection, 'indicators_count'>;
  deleted: boolean;
  indicators: Map<string, IndicatorRecord>;
  /** Every record (live or revoked) per canonical value, oldest first. */
  byCanonical: Map<string, IndicatorRecord[]>;
  live: number;
  revoked: number;
  /** Bumped whenever the set of listed indicators may change; keys the search cache. */
  version: number;
  /** Recent searches (paging through one term re-reads the same hits): term → hits at `version`. */
  searches: Map<string, { version: number; hits: SekoiaIndicator[] }>;
  /** Every pattern in insertion order, NUL-separated, so a term search is one fast indexOf loop. */
  blob: PatternBlob | undefined;
}

interface PatternBlob {
  text: string;
  lower: string | undefined;
  starts: number[];
  recs: IndicatorRecord[];
}

/** Editable fields as given in a request (undefined = not given). */
interface Fields {
  description?: string | null;
  valid_from?: string;
  valid_until?: string | null;
  kill_chain_phases?: unknown[];
  x_ic_related_threat_refs?: string[];
}

/** One value to import: what was sent, its parts (several hashes of one file share a text line). */
interface ImportValue {
  sent: string;
  canonical: string;
  parts: Array<{ type: ObservableType; value: string; canonical: string }>;
  validFrom?: string;
}

type Decision = 'create' | 'update' | 'reactivate' | 'ignore';

export class SekoiaStore {
  behavior: SekoiaBehavior;
  faults: SekoiaFaults;
  readonly keys = new Map<string, SimApiKey>();
  readonly collections = new Map<string, CollectionRecord>();
  readonly tasks = new Map<string, SimTask>();
  readonly communityUuid: string;
  /** Ids and shuffles come from their own stream so fault draws never shift generated ids. */
  private readonly ids: SeededRandom;
  private clockOffset: number;
  /** When frozen, the clock moves only when told (advanceClock/setClock). */
  private frozenAt: number | undefined;

  constructor(opts: {
    seed: number;
    behavior?: Partial<SekoiaBehavior>;
    clockStartMs?: number;
    clockFrozen?: boolean;
  }) {
    this.behavior = { ...DEFAULT_BEHAVIOR, ...opts.behavior };
    this.faults = defaultFaults();
    this.ids = new SeededRandom(opts.seed ^ 0x51e0c1a);
    this.clockOffset = opts.clockStartMs === undefined ? 0 : opts.clockStartMs - Date.now();
    if (opts.clockFrozen) this.frozenAt = Date.now() + this.clockOffset;
    this.communityUuid = this.ids.uuid();
  }

  // ---- clock (controllable: force_deletion, key expiry, valid_from defaults) ----
  now(): number {
    return this.frozenAt ?? Date.now() + this.clockOffset;
  }
  advanceClock(ms: number): number {
    if (this.frozenAt !== undefined) this.frozenAt += ms;
    else this.clockOffset += ms;
    return this.now();
  }
  setClock(ms: number): number {
    if (this.frozenAt !== undefined) this.frozenAt = ms;
    else this.clockOffset = ms - Date.now();
    return this.now();
  }
  private nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  newUuid(): string {
    return this.ids.uuid();
  }

  // ---- keys ----
  upsertKey(input: Partial<SimApiKey> & { key: string }): SimApiKey {
    const prev = this.keys.get(input.key);
    const key: SimApiKey = {
      key: input.key,
      view: input.view ?? prev?.view ?? true,
      manage: input.manage ?? prev?.manage ?? true,
      revoked: input.revoked ?? prev?.revoked ?? false,
      expiresAt: input.expiresAt === undefined ? (prev?.expiresAt ?? null) : input.expiresAt,
    };
    this.keys.set(key.key, key);
    return key;
  }

  /** 401 for a missing, unknown, revoked or expired key; 403 for a missing permission. Never echoes the key. */
  authorize(authorization: string | undefined, needs: 'view' | 'manage'): ApiResult | undefined {
    const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    const key = m ? this.keys.get(m[1]!) : undefined;
    if (!key || key.revoked || (key.expiresAt !== null && this.now() >= key.expiresAt)) {
      return fail(401, 'Authentication credentials were not provided or are invalid');
    }
    if (!key[needs]) {
      const perm = needs === 'view' ? 'View IOC collections' : 'Manage IOC collections';
      // Assumption [?] (issue 14 row 7): the body of a permission 403 is unknown; a switch decides.
      const mode = this.behavior.forbiddenBody;
      if (mode === 'text')
        return { status: 403, body: `Missing permission: ${perm}`, contentType: 'text/plain' };
      if (mode === 'html') {
        return {
          status: 403,
          body: `<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>Missing permission: ${perm}</p></body></html>`,
          contentType: 'text/html; charset=utf-8',
        };
      }
      return fail(403, `Missing permission: ${perm}`);
    }
    return undefined;
  }

  // ---- collections ----
  createCollection(opts: { id?: string; name?: string } = {}): string {
    const id = opts.id ?? `${COLLECTION_PREFIX}${this.ids.uuid()}`;
    const at = this.nowIso();
    this.collections.set(id, {
      meta: {
        id,
        name: opts.name ?? 'OpenCTI',
        description: '',
        created: at,
        modified: at,
        created_by: this.communityUuid,
        modified_by: this.communityUuid,
        community_uuid: this.communityUuid,
        available_for_sub_communities: false,
      },
      deleted: false,
      indicators: new Map(),
      byCanonical: new Map(),
      live: 0,
      revoked: 0,
      version: 0,
      searches: new Map(),
      blob: undefined,
    });
    return id;
  }

  /** Deletes a collection: every route under it answers 404 INTHREAT2500 from now on. */
  deleteCollection(id: string): boolean {
    const col = this.collections.get(id);
    if (!col || col.deleted) return false;
    col.deleted = true;
    return true;
  }

  private resolve(segment: string): CollectionRecord | ApiResult {
    if (this.faults.collectionGone) return collectionNotFound();
    let id = segment;
    if (!id.startsWith(COLLECTION_PREFIX)) {
      // Assumption [?]: whether Sekoia accepts a bare UUID is unknown; a switch decides.
      if (this.behavior.bareUuid !== 'accept' || !UUID_RE.test(id)) return collectionNotFound();
      id = `${COLLECTION_PREFIX}${id}`;
    }
    const col = this.collections.get(id);
    if (!col || col.deleted) return collectionNotFound();
    return col;
  }

  private view(col: CollectionRecord): SekoiaCollection {
    // Assumption [?]: indicators_count counts live (non-revoked) indicators.
    return { ...col.meta, indicators_count: col.live };
  }

  private used(col: CollectionRecord): number {
    return col.live + (this.behavior.quotaCountsRevoked ? col.revoked : 0);
  }

  private communityUsed(): number {
    let n = 0;
    for (const c of this.collections.values()) if (!c.deleted) n += this.used(c);
    return n;
  }

  /** Room left for `col` under the configured quota scope. */
  private room(col: CollectionRecord): number {
    if (this.faults.quotaFull) return 0;
    const used = this.behavior.quotaScope === 'community' ? this.communityUsed() : this.used(col);
    return Math.max(0, this.behavior.quotaMax - used);
  }

  /** Assumption [?] (issue 14 row 9): status and body of a create refused for quota are unknown; switches decide. */
  private quotaExceeded(): ApiResult {
    const status = this.behavior.quotaOverflowStatus;
    const message = `IOC limit reached (${this.behavior.quotaMax} per ${this.behavior.quotaScope})`;
    const mode = this.behavior.quotaOverflowBody;
    if (mode === 'text') return { status, body: message, contentType: 'text/plain' };
    return fail(status, message, mode === 'json-code' ? CODES.quotaExceeded : undefined);
  }

  // ---- API handlers ----
  getCollection(segment: string): ApiResult {
    const col = this.resolve(segment);
    if (!('indicators' in col)) return col;
    return { status: 200, body: this.view(col) };
  }

  /**
   * {count, max}. Documented as the community total, so it stays community-wide even when the quota scope is
   * 'collection' (a client must then watch the collection's indicators_count itself).
   */
  countTotalIocs(): ApiResult {
    const max = this.behavior.quotaMax;
    return { status: 200, body: { count: this.faults.quotaFull ? max : this.communityUsed(), max } };
  }

  createBatch(segment: string, body: unknown): ApiResult {
    const col = this.resolve(segment);
    if (!('indicators' in col)) return col;
    if (!isObject(body) || !('default_fields' in body) || !('indicators' in body)) {
      return fail(400, 'Both "default_fields" and "indicators" are required', CODES.validation);
    }
    if (!isObject(body.default_fields))
      return fail(400, '"default_fields" must be an object', CODES.validation);
    const list = body.indicators;
    if (!Array.isArray(list) || list.length < 1 || list.length > 100) {
      return fail(400, '"indicators" must hold 1 to 100 items', CODES.validation);
    }
    const fields = this.parseFields(body.default_fields);
    if ('status' in fields) return fields;
    const values: ImportValue[] = [];
    for (const item of list) {
      // Only `value` and `valid_from` are honoured per item (the documented schema); other keys are ignored.
      if (!isObject(item) || typeof item.value !== 'string') {
        return fail(400, 'Each indicator needs a string "value"', CODES.validation);
      }
      let validFrom: string | undefined;
      if (item.valid_from !== undefined && item.valid_from !== null) {
        validFrom = parseDate(item.valid_from);
        if (validFrom === undefined)
          return fail(400, 'Invalid "valid_from" on an indicator', CODES.validation);
      }
      const a = analyseValue(item.value);
      if (!a) {
        if (this.behavior.invalidValue === 'reject-batch') {
          return fail(400, `Invalid indicator value: ${item.value.slice(0, 200)}`, CODES.invalidValue);
        }
        continue;
      }
      const from = validFrom ?? fields.valid_from;
      if (from && fields.valid_until && fields.valid_until < from) {
        return fail(400, '"valid_until" must be after "valid_from"', CODES.validation);
      }
      values.push({
        sent: item.value.trim(),
        canonical: a.canonical,
        parts: [{ type: a.type, value: item.value.trim(), canonical: a.canonical }],
        validFrom,
      });
    }
    // Whole batch refused when it does not fit (atomic: nothing stored).
    if (this.growth(col, values) > this.room(col)) return this.quotaExceeded();
    const items = values.map((v) => this.importValue(col, v, fields).pub);
    if (this.behavior.itemOrder === 'shuffled') this.shuffle(items);
    return { status: 200, body: { items, total: items.length, has_more: false } };
  }

  importText(
    segment: string,
    body: unknown,
    schedule: (task: SimTask, apply: () => void) => void,
  ): ApiResult {
    const col = this.resolve(segment);
    if (!('indicators' in col)) return col;
    if (!isObject(body) || typeof body.indicators !== 'string') {
      return fail(400, '"indicators" must be a string with one IOC per line', CODES.validation);
    }
    const format = body.format ?? 'one_per_line';
    if (typeof format !== 'string' || !(format in TEXT_FORMATS)) {
      return fail(400, `Unsupported format: ${String(format).slice(0, 100)}`, CODES.validation);
    }
    const fields = this.parseFields(body);
    if ('status' in fields) return fields;
    const lines = body.indicators
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (lines.length === 0) return fail(400, 'No indicator given', CODES.validation);
    if (lines.length > this.behavior.textMaxLines) {
      return fail(400, `At most ${this.behavior.textMaxLines} lines per import`, CODES.validation);
    }
    const task: SimTask = {
      task_id: this.ids.uuid(),
      collection_id: col.meta.id,
      status: 'pending',
      total: lines.length,
      imported: 0,
      created: 0,
      updated: 0,
      ignored: 0,
      rejected: 0,
      rejections: [],
    };
    this.tasks.set(task.task_id, task);
    schedule(task, () => this.applyText(col, task, lines, format, fields));
    return { status: 202, body: { task_id: task.task_id } };
  }

  /** Applies an accepted text import line by line; outcome per task (Sekoia reports it over a websocket). */
  private applyText(col: CollectionRecord, task: SimTask, lines: string[], format: string, fields: Fields) {
    if (task.status !== 'pending') return;
    const reject = (line: string, reason: string) => {
      task.rejected++;
      task.rejections.push({ line, reason });
    };
    if (col.deleted || this.faults.collectionGone) {
      for (const l of lines) reject(l, 'IOC Collection not found');
      task.status = 'failed';
      return;
    }
    const allowed = TEXT_FORMATS[format]!;
    for (const line of lines) {
      const pieces = line
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      const parts: ImportValue['parts'] = [];
      for (const p of pieces) {
        const a = analyseValue(p);
        if (a) parts.push({ type: a.type, value: p, canonical: a.canonical });
      }
      // A comma joins several hashes of one file; anything else with a comma is not one IOC.
      if (parts.length !== pieces.length || (parts.length > 1 && !parts.every((p) => isHashType(p.type)))) {
        reject(line, 'Invalid indicator value');
        continue;
      }
      if (!parts.every((p) => allowed(p.type))) {
        reject(line, `Value does not match format ${format}`);
        continue;
      }
      if (this.faultRandom?.chance(this.behavior.textLineFailureRate)) {
        reject(line, 'Internal error');
        continue;
      }
      const v: ImportValue = {
        sent: parts.map((p) => p.value).join(','),
        canonical: parts.map((p) => p.canonical).join(','),
        parts,
      };
      if (this.growth(col, [v]) > this.room(col)) {
        reject(line, 'IOC limit reached');
        continue;
      }
      const decision = this.decide(col, v.canonical, new Set());
      this.importValue(col, v, fields);
      if (decision === 'ignore') task.ignored++;
      else if (decision === 'create') task.created++;
      else task.updated++;
    }
    task.imported = task.created + task.updated;
    task.status = 'done';
  }

  /** Fault-side random stream, used by text tasks that fail lines; set by the server. */
  faultRandom: SeededRandom | undefined;

  listIndicators(segment: string, query: URLSearchParams): ApiResult {
    const col = this.resolve(segment);
    if (!('indicators' in col)) return col;
    const limit = parseIntParam(query.get('limit'), 20);
    if (limit === undefined || limit < 1 || limit > 100) {
      return fail(400, '"limit" must be an integer from 1 to 100', CODES.validation);
    }
    const offset = parseIntParam(query.get('offset'), 0);
    if (offset === undefined || offset < 0)
      return fail(400, '"offset" must be an integer >= 0', CODES.validation);
    const hits = this.search(col, query.get('term') ?? '');
    const items = hits.slice(offset, offset + limit);
    // Assumption [?] (issue 14 row 4): whether answers carry `has_more` is unknown; a switch decides.
    if (this.behavior.hasMore === 'absent') return { status: 200, body: { items, total: hits.length } };
    return {
      status: 200,
      body: { items, total: hits.length, has_more: offset + items.length < hits.length },
    };
  }

  /**
   * The cursor feed (docs/sekoia-api.md "Cursor feed"): every indicator of the collection in creation order,
   * `limit` per page (1–feedMaxLimit; a page holds at most feedPageCap), `include_revoked` (default false),
   * `skip_expired` (default feedSkipExpiredDefault), `cursor` from the previous answer's `next_cursor`. The
   * cursor is a position in creation order: indicators are only ever appended (a forced deletion, ≥ 24 h after a
   * revocation, could shift it by one), so a page never skips an indicator that existed when the read began,
   * whatever is created, edited or revoked meanwhile.
   */
  feedObjects(segment: string, query: URLSearchParams): ApiResult {
    const b = this.behavior;
    if (b.feed === 'absent') return fail(404, 'Feed not found', CODES.collectionNotFound);
    const col = this.resolve(segment);
    if (!('indicators' in col)) return col;
    const limit = parseIntParam(query.get('limit'), 100);
    if (limit === undefined || limit < 1 || limit > b.feedMaxLimit)
      return fail(400, `"limit" must be an integer from 1 to ${b.feedMaxLimit}`, CODES.validation);
    const raw = query.get('cursor');
    let pos = 0;
    if (raw !== null && raw !== '') {
      const decoded = /^[A-Za-z0-9_-]+$/.test(raw) ? Buffer.from(raw, 'base64url').toString() : '';
      if (!/^p\d+$/.test(decoded)) return fail(400, 'Invalid "cursor"', CODES.validation);
      pos = Number(decoded.slice(1));
    }
    const flag = (name: string, dflt: boolean) => {
      const v = query.get(name);
      return v === null ? dflt : v === 'true' || v === '1';
    };
    const includeRevoked = flag('include_revoked', false);
    const skipExpired = flag('skip_expired', b.feedSkipExpiredDefault);
    const now = this.now();
    const all = [...col.indicators.values()];
    if (b.feedOrder === 'modified')
      all.sort((x, y) => Date.parse(x.pub.modified) - Date.parse(y.pub.modified));
    const size = Math.min(limit, b.feedPageCap);
    const items: Json[] = [];
    while (pos < all.length && items.length < size) {
      const r = all[pos++]!;
      if (r.pub.revoked && !includeRevoked) continue;
      if (skipExpired && r.pub.valid_until !== null && Date.parse(r.pub.valid_until) < now) continue;
      items.push(this.feedObject(r.pub));
    }
    const end = pos >= all.length;
    const next = end && b.feedEndCursor === 'null' ? null : Buffer.from(`p${pos}`).toString('base64url');
    return { status: 200, body: { [b.feedItemsKey]: items, next_cursor: next } };
  }

  private feedObject(pub: SekoiaIndicator): Json {
    const o: Json = { ...pub };
    if (this.behavior.feed === 'stix') {
      o.spec_version = '2.1';
      for (const k of Object.keys(o)) if (k === 'name' || k.startsWith('x_ic_')) delete o[k];
    }
    for (const k of this.behavior.feedOmits) delete o[k];
    return o;
  }

  /**
   * `term` is a substring of the pattern ("Term the indicator pattern should contain"), so 1.2.3.4 also
   * matches 11.2.3.45 — exactly the false hits the Python connector revokes. A linear scan, cached per
   * collection version so that paging through one term (or through everything) costs one scan.
   */
  private search(col: CollectionRecord, rawTerm: string): SekoiaIndicator[] {
    // Assumption [?] (issue 14 row 10): how `term` matches is unknown; switches decide.
    const mode = this.behavior.termSearch;
    const sensitive = mode === 'substring' && this.behavior.termCaseSensitive;
    const listRevoked = this.behavior.listRevoked;
    const term = sensitive ? rawTerm : rawTerm.toLowerCase();
    const key = `${mode === 'tokenised' ? 't' : sensitive ? 's' : 'i'}${listRevoked ? 'r' : 'l'}:${term}`;
    const cached = col.searches.get(key);
    if (cached && cached.version === col.version) return cached.hits;
    const hits: SekoiaIndicator[] = [];
    if (term !== '' && mode === 'tokenised') {
      for (const r of col.indicators.values()) {
        if ((listRevoked || !r.pub.revoked) && patternTokens(r.pub.pattern).includes(term)) hits.push(r.pub);
      }
    } else if (term === '') {
      for (const r of col.indicators.values()) if (listRevoked || !r.pub.revoked) hits.push(r.pub);
    } else {
      const blob = this.blob(col);
      if (!sensitive) blob.lower ??= blob.text.toLowerCase();
      const hay = sensitive ? blob.text : blob.lower!;
      let pos = hay.indexOf(term);
      while (pos !== -1) {
        const i = lastStartAtOrBefore(blob.starts, pos);
        const rec = blob.recs[i]!;
        // The match must lie inside one pattern (a term never spans the NUL separator).
        if (
          pos + term.length <= blob.starts[i]! + rec.pub.pattern.length &&
          (listRevoked || !rec.pub.revoked)
        ) {
          hits.push(rec.pub);
        }
        pos = i + 1 < blob.starts.length ? hay.indexOf(term, blob.starts[i + 1]) : -1;
      }
    }
    if (col.searches.size >= 16) col.searches.delete(col.searches.keys().next().value!);
    col.searches.set(key, { version: col.version, hits });
    return hits;
  }

  private blob(col: CollectionRecord): PatternBlob {
    if (col.blob) return col.blob;
    const recs = [...col.indicators.values()];
    const starts: number[] = [];
    let at = 0;
    for (const r of recs) {
      starts.push(at);
      at += r.pub.pattern.length + 1;
    }
    col.blob = { text: recs.map((r) => `${r.pub.pattern}\0`).join(''), lower: undefined, starts, recs };
    return col.blob;
  }

  revokeIndicator(segment: string, indicatorId: string, body: unknown): ApiResult {
    const col = this.resolve(segment);
    if (!('indicators' in col)) return col;
    const rec = col.indicators.get(indicatorId);
    if (!rec) return indicatorNotFound();
    if (isObject(body) && body.force_deletion === true) {
      if (
        !rec.pub.revoked ||
        rec.revokedAt === null ||
        this.now() - rec.revokedAt < FORCE_DELETION_AFTER_MS
      ) {
        return fail(
          400,
          'An indicator can be deleted only 24 hours after its revocation',
          CODES.deletionTooEarly,
        );
      }
      col.indicators.delete(indicatorId);
      col.version++;
      col.blob = undefined;
      const same = col.byCanonical.get(rec.canonical)?.filter((r) => r !== rec) ?? [];
      if (same.length > 0) col.byCanonical.set(rec.canonical, same);
      else col.byCanonical.delete(rec.canonical);
      col.revoked--;
      return { status: 200, body: rec.pub };
    }
    const refuse = this.faults.rejectRevoke;
    if (!rec.pub.revoked && refuse && refuse.match.some((m) => m === indicatorId || m === rec.canonical)) {
      return fail(refuse.status ?? 400, 'This indicator cannot be revoked', CODES.revokeRefused);
    }
    if (rec.pub.revoked) {
      // Assumption [?]: the answer to a repeat revoke is unknown; a switch decides.
      const answer = this.behavior.repeatRevoke;
      if (answer === 200) return { status: 200, body: rec.pub };
      if (answer === 400) return fail(400, 'Indicator already revoked', CODES.validation);
      return indicatorNotFound();
    }
    rec.pub.revoked = true;
    rec.pub.modified = this.nowIso();
    rec.revokedAt = this.now();
    col.live--;
    col.revoked++;
    col.version++;
    return { status: 200, body: rec.pub };
  }

  editIndicator(segment: string, indicatorId: string, body: unknown): ApiResult {
    const col = this.resolve(segment);
    if (!('indicators' in col)) return col;
    const rec = col.indicators.get(indicatorId);
    if (!rec) return indicatorNotFound();
    if (!isObject(body)) return fail(400, 'Body must be a JSON object', CODES.validation);
    const immutable = IMMUTABLE.filter((k) => k in body);
    if (immutable.length > 0) {
      return fail(400, `Field(s) cannot be changed: ${immutable.join(', ')}`, CODES.immutableField);
    }
    const fields = this.parseFields(body);
    if ('status' in fields) return fields;
    // Assumption [?] (issue 14 row 2): what a PUT does with `null` is unknown; a switch decides.
    const nulls = (['description', 'valid_until'] as const).filter((k) => fields[k] === null);
    if (nulls.length > 0 && this.behavior.putNull === 'reject') {
      return fail(400, `Field(s) may not be null: ${nulls.join(', ')}`, CODES.validation);
    }
    if (this.behavior.putNull === 'keep') for (const k of nulls) delete fields[k];
    const pub = rec.pub;
    const from = fields.valid_from ?? pub.valid_from;
    const until = fields.valid_until !== undefined ? fields.valid_until : pub.valid_until;
    if (until && until < from) return fail(400, '"valid_until" must be after "valid_from"', CODES.validation);
    if (this.behavior.putMode === 'replace') {
      // Absent editable fields are cleared (valid_from cannot be empty, so it is kept).
      pub.description = fields.description ?? null;
      pub.valid_until = fields.valid_until ?? null;
      pub.kill_chain_phases = fields.kill_chain_phases ?? [];
      pub.x_ic_related_threat_refs = fields.x_ic_related_threat_refs ?? [];
      if (fields.valid_from) pub.valid_from = fields.valid_from;
    } else {
      this.applyFields(pub, fields);
    }
    pub.modified = this.nowIso();
    return { status: 200, body: pub };
  }

  // ---- import core (shared by /indicators and /indicators/text) ----
  private decide(col: CollectionRecord, canonical: string, liveInBatch: Set<string>): Decision {
    const recs = col.byCanonical.get(canonical);
    const live = liveInBatch.has(canonical) || (recs?.some((r) => !r.pub.revoked) ?? false);
    if (live) {
      const mode = this.behavior.reimport;
      return mode === 'duplicate' ? 'create' : mode;
    }
    if (recs && recs.length > 0) {
      const mode = this.behavior.reimportRevoked;
      return mode === 'new' ? 'create' : mode;
    }
    return 'create';
  }

  /** How much quota importing these values would use. */
  private growth(col: CollectionRecord, values: ImportValue[]): number {
    const liveInBatch = new Set<string>();
    let n = 0;
    for (const v of values) {
      const d = this.decide(col, v.canonical, liveInBatch);
      if (d === 'create') n++;
      else if (d === 'reactivate' && !this.behavior.quotaCountsRevoked) n++;
      if (d === 'create' || d === 'reactivate') liveInBatch.add(v.canonical);
    }
    return n;
  }

  private importValue(col: CollectionRecord, v: ImportValue, fields: Fields): IndicatorRecord {
    const decision = this.decide(col, v.canonical, new Set());
    const recs = col.byCanonical.get(v.canonical) ?? [];
    if (decision === 'create') return this.create(col, v, fields);
    const live = recs.findLast((r) => !r.pub.revoked);
    const target = live ?? recs[recs.length - 1]!;
    if (decision === 'ignore') return target;
    if (decision === 'reactivate') {
      target.pub.revoked = false;
      target.revokedAt = null;
      col.revoked--;
      col.live++;
      col.version++;
    }
    this.applyFields(target.pub, { ...fields, valid_from: v.validFrom ?? fields.valid_from });
    target.pub.modified = this.nowIso();
    return target;
  }

  private create(col: CollectionRecord, v: ImportValue, fields: Fields): IndicatorRecord {
    const at = this.nowIso();
    const canonicalName = this.behavior.itemName !== 'as-sent';
    // Assumption [?] (issue 14 row 1): how Sekoia names what it created is unknown; a switch decides.
    const name = indicatorName(this.behavior.itemName, v.sent, v.parts);
    const parts = v.parts.map((p) => ({ type: p.type, value: canonicalName ? p.canonical : p.value }));
    const validFrom = v.validFrom ?? fields.valid_from ?? at;
    let validUntil = fields.valid_until ?? null;
    if (fields.valid_until === undefined && this.behavior.defaultValidity) {
      const ms = defaultValidityMs(v.parts[0]!.type);
      if (ms !== undefined) validUntil = new Date(Date.parse(validFrom) + ms).toISOString();
    }
    const rec: IndicatorRecord = {
      canonical: v.canonical,
      revokedAt: null,
      pub: {
        id: `indicator--${this.ids.uuid()}`,
        type: 'indicator',
        name,
        pattern: buildPattern(parts),
        pattern_type: 'stix',
        valid_from: validFrom,
        valid_until: validUntil,
        kill_chain_phases: fields.kill_chain_phases ?? [],
        description: fields.description ?? null,
        revoked: false,
        x_ic_observable_types: [...new Set(v.parts.map((p) => observableObjectType(p.type)))],
        x_ic_collection_ref: col.meta.id,
        x_ic_related_threat_refs: fields.x_ic_related_threat_refs ?? [],
        created: at,
        modified: at,
      },
    };
    col.indicators.set(rec.pub.id, rec);
    col.version++;
    if (col.blob) {
      col.blob.starts.push(col.blob.text.length);
      col.blob.text += `${rec.pub.pattern}\0`;
      col.blob.lower = undefined;
      col.blob.recs.push(rec);
    }
    const list = col.byCanonical.get(v.canonical);
    if (list) list.push(rec);
    else col.byCanonical.set(v.canonical, [rec]);
    col.live++;
    return rec;
  }

  private applyFields(pub: SekoiaIndicator, f: Fields) {
    if (f.description !== undefined) pub.description = f.description;
    if (f.valid_from !== undefined) pub.valid_from = f.valid_from;
    if (f.valid_until !== undefined) pub.valid_until = f.valid_until;
    if (f.kill_chain_phases !== undefined) pub.kill_chain_phases = f.kill_chain_phases;
    if (f.x_ic_related_threat_refs !== undefined) pub.x_ic_related_threat_refs = f.x_ic_related_threat_refs;
  }

  /** Validates the editable fields of a request; unknown keys are ignored. */
  private parseFields(o: Json): Fields | ApiResult {
    const f: Fields = {};
    if (o.description !== undefined) {
      if (o.description === null) f.description = null;
      else if (typeof o.description !== 'string')
        return fail(400, '"description" must be a string', CODES.validation);
      else {
        const cps = [...o.description];
        if (cps.length > DESCRIPTION_MAX) {
          // Assumption [?]: the API's answer to a long description is unknown; a switch decides.
          if (this.behavior.descriptionOverflow === 'reject') {
            return fail(
              400,
              `"description" is longer than ${DESCRIPTION_MAX} characters`,
              CODES.descriptionTooLong,
            );
          }
          f.description = cps.slice(0, DESCRIPTION_MAX).join('');
        } else f.description = o.description;
      }
    }
    if (o.valid_from !== undefined && o.valid_from !== null) {
      f.valid_from = parseDate(o.valid_from);
      if (f.valid_from === undefined) return fail(400, 'Invalid "valid_from"', CODES.validation);
    }
    if (o.valid_until !== undefined) {
      if (o.valid_until === null) f.valid_until = null;
      else {
        f.valid_until = parseDate(o.valid_until);
        if (f.valid_until === undefined) return fail(400, 'Invalid "valid_until"', CODES.validation);
      }
    }
    if (f.valid_from && f.valid_until && f.valid_until < f.valid_from) {
      return fail(400, '"valid_until" must be after "valid_from"', CODES.validation);
    }
    if (o.kill_chain_phases !== undefined) {
      const k = o.kill_chain_phases ?? [];
      const ok =
        Array.isArray(k) &&
        k.every(
          (p) =>
            typeof p === 'string' ||
            (isObject(p) && typeof p.kill_chain_name === 'string' && typeof p.phase_name === 'string'),
        );
      if (!ok) return fail(400, 'Invalid "kill_chain_phases"', CODES.validation);
      // Assumption [?] (issue 14 row 8): whether custom kill chains are accepted is unknown; a switch decides.
      if (this.behavior.killChainPhases === 'mitre-lockheed') {
        const unknown = (k as unknown[]).filter(
          (p) => !KNOWN_KILL_CHAIN_PHASES.has(typeof p === 'string' ? p : String((p as Json).phase_name)),
        );
        if (unknown.length > 0) {
          return fail(
            400,
            'Kill chain phase names must be MITRE ATT&CK tactics or Lockheed Martin kill chain phases',
            CODES.validation,
          );
        }
      }
      f.kill_chain_phases = k as unknown[];
    }
    if (o.x_ic_related_threat_refs !== undefined) {
      // Threats are not modelled: any list of strings is accepted (Sekoia requires existing threats).
      const t = o.x_ic_related_threat_refs ?? [];
      if (!Array.isArray(t) || !t.every((x) => typeof x === 'string')) {
        return fail(400, 'Invalid "x_ic_related_threat_refs"', CODES.validation);
      }
      f.x_ic_related_threat_refs = t as string[];
    }
    return f;
  }

  private shuffle<T>(a: T[]) {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.ids.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
  }

  // ---- inspection ----
  collectionIds(): string[] {
    return [...this.collections.keys()];
  }

  collectionState(id: string): (SekoiaCollection & { deleted: boolean }) | undefined {
    const col = this.collections.get(id);
    return col ? { ...this.view(col), deleted: col.deleted } : undefined;
  }

  indicatorsState(id: string): SimIndicatorState[] {
    const col = this.collections.get(id);
    if (!col) return [];
    return [...col.indicators.values()].map((r) => ({
      ...structuredClone(r.pub),
      canonical: r.canonical,
      revoked_at: r.revokedAt === null ? null : new Date(r.revokedAt).toISOString(),
    }));
  }

  /** Canonical values of the live indicators, sorted; a value appears once per live indicator. */
  liveValues(id: string): string[] {
    const col = this.collections.get(id);
    if (!col) return [];
    const out: string[] = [];
    for (const r of col.indicators.values()) if (!r.pub.revoked) out.push(r.canonical);
    return out.sort();
  }

  /** Drops every indicator and task (collections and keys stay). */
  clearIndicators() {
    for (const col of this.collections.values()) {
      col.indicators.clear();
      col.version++;
      col.blob = undefined;
      col.byCanonical.clear();
      col.live = 0;
      col.revoked = 0;
    }
    this.tasks.clear();
  }
}

function parseDate(v: unknown): string | undefined {
  if (typeof v !== 'string' || !DATE_RE.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/**
 * Tokens of a pattern for a tokenised `term` search, lower case: each quoted literal whole (so a value is one
 * token, whatever it contains), and the words outside quotes split at spaces, brackets and `=`.
 */
function patternTokens(pattern: string): string[] {
  const tokens: string[] = [];
  const outside = pattern.toLowerCase().replace(/'((?:[^'\\]|\\.)*)'/g, (_m, lit: string) => {
    tokens.push(lit.replace(/\\(.)/g, '$1'));
    return ' ';
  });
  for (const w of outside.split(/[\s[\]=]+/)) if (w !== '') tokens.push(w);
  return tokens;
}

/** Index of the last element of the sorted `starts` that is <= pos. */
function lastStartAtOrBefore(starts: number[], pos: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function parseIntParam(v: string | null, dflt: number): number | undefined {
  if (v === null) return dflt;
  if (!/^-?\d+$/.test(v)) return undefined;
  return Number(v);
}
