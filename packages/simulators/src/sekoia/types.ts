/** Public types of the Sekoia.io IOC-collection simulator (see README.md in this folder). */

/** The API routes the simulator serves; fault rules and request counters are keyed by them. */
export type SekoiaRoute =
  | 'get-collection'
  | 'count-total-iocs'
  | 'create-batch'
  | 'import-text'
  | 'list-indicators'
  | 'revoke-indicator'
  | 'edit-indicator'
  | 'feed-objects'
  | 'unknown';

export const SEKOIA_ROUTES: readonly SekoiaRoute[] = [
  'get-collection',
  'count-total-iocs',
  'create-batch',
  'import-text',
  'list-indicators',
  'revoke-indicator',
  'edit-indicator',
  'feed-objects',
  'unknown',
];

/**
 * Switches for the behaviours the reference (docs/sekoia-behaviours.md, docs/sekoia-api.md) leaves open.
 * Defaults are in DEFAULT_BEHAVIOR; every one is changeable at run time.
 */
export interface SekoiaBehavior {
  /** A bare UUID where `ioc-collection--<uuid>` is expected: 'accept' resolves it, '404' (default) does not. */
  bareUuid: 'accept' | '404';
  /** Maximum number of IOCs (default 500000). */
  quotaMax: number;
  /** 'community' (default): the quota counts every collection; 'collection': each collection on its own. */
  quotaScope: 'community' | 'collection';
  /** Whether revoked indicators use quota (default false: revoking frees space). */
  quotaCountsRevoked: boolean;
  /** Status of a create refused for quota (default 400, body code INTHREAT4013). */
  quotaOverflowStatus: number;
  /**
   * Body of a create refused for quota (issue 14 row 9): 'json-code' (default: `{message, code: INTHREAT4013}`),
   * 'json-message' (`{message}` only) or 'text' (a plain-text sentence).
   */
  quotaOverflowBody: 'json-code' | 'json-message' | 'text';
  /** Description over 500 characters: 'reject' (400, default) or 'truncate'. */
  descriptionOverflow: 'reject' | 'truncate';
  /**
   * A value whose type cannot be detected in POST /indicators: 'reject-batch' (default: the whole batch is a
   * 400 naming the value, nothing stored) or 'reject-item' (200, the value is silently left out of `items`).
   */
  invalidValue: 'reject-batch' | 'reject-item';
  /** Re-import of a live value: 'update' (default: fields overwritten, same id), 'ignore', 'duplicate'. */
  reimport: 'update' | 'ignore' | 'duplicate';
  /** Re-import of a revoked value: 'reactivate' (same id), 'new' (default: new id), 'ignore'. */
  reimportRevoked: 'reactivate' | 'new' | 'ignore';
  /** Whether GET /indicators lists revoked indicators (default true). */
  listRevoked: boolean;
  /** Answer to DELETE on an already revoked indicator (default 200 with the indicator; row 6). */
  repeatRevoke: 200 | 404 | 400;
  /** Whether `term` matching is case-sensitive (default true). `false` = `termSearch: 'case-insensitive'`. */
  termCaseSensitive: boolean;
  /**
   * How `term` matches (row 10): 'substring' (default: substring of the pattern, case per termCaseSensitive),
   * 'case-insensitive' (substring, any case) or 'tokenised' (the term must equal one whole token of the
   * pattern — tokens split at spaces, quotes, brackets and `=` — any case, like a full-text index).
   */
  termSearch: 'substring' | 'case-insensitive' | 'tokenised';
  /** Order of `items` in a batch answer: 'input' (default) or 'shuffled' (seeded). */
  itemOrder: 'input' | 'shuffled';
  /**
   * `name` of a created indicator (row 1): the value 'as-sent' (trimmed; default), 'canonical',
   * 'upper-hashes' (canonical, hashes in upper case), 'ipv6-expanded' (canonical, IPv6 written out in full:
   * 2001:0db8:0000:…) or 'file-hashes' (canonical; a file is named by all its hashes, each with its algorithm:
   * `SHA-256:ab…, MD5:cd…` — a label, not the value). The pattern holds the value as sent under 'as-sent',
   * the canonical value otherwise.
   */
  itemName: 'as-sent' | 'canonical' | 'upper-hashes' | 'ipv6-expanded' | 'file-hashes';
  /** PUT: 'partial' (default: absent fields kept) or 'replace' (absent editable fields cleared; row 3). */
  putMode: 'partial' | 'replace';
  /**
   * PUT with `valid_until: null` / `description: null` (row 2): 'clear' (default), 'reject' (400
   * INTHREAT4000) or 'keep' (200, the old value stays).
   */
  putNull: 'clear' | 'reject' | 'keep';
  /** `has_more` in list/search answers (row 4): 'present' (default) or 'absent' (only `items` and `total`). */
  hasMore: 'present' | 'absent';
  /**
   * Body of a permission 403 (row 7): 'json' (default: `{message}`), 'text' (text/plain sentence) or 'html'
   * (an HTML page, indistinguishable by its body from a WAF block).
   */
  forbiddenBody: 'json' | 'text' | 'html';
  /**
   * `kill_chain_phases` accepted (row 8): 'accept-all' (default: any `{kill_chain_name, phase_name}`) or
   * 'mitre-lockheed' (phase names must be MITRE ATT&CK tactics or Lockheed Martin kill-chain phases, else the
   * create or edit is a 400 INTHREAT4000 — Sekoia's file-import documentation).
   */
  killChainPhases: 'accept-all' | 'mitre-lockheed';
  /** Delay before an accepted POST /indicators/text task is applied (default 20 ms). */
  textDelayMs: number;
  /** Most lines accepted by POST /indicators/text (default 1000), else 400. */
  textMaxLines: number;
  /** Probability that a line of an accepted text task later fails (a 202 that does not store everything). */
  textLineFailureRate: number;
  /** Without valid_until: 30 days for IPs, 180 days for domains and URLs, none otherwise (default true). */
  defaultValidity: boolean;
  /**
   * The cursor feed `GET /v2/inthreat/collections/{id}/objects` (row 11: whether an IOC collection id is a feed
   * id is undocumented): 'indicators' (default: the objects as the list route gives them), 'stix' (STIX 2.1
   * indicators: no `name`, no `x_ic_*` fields: the value is only in the pattern) or 'absent' (404: the
   * collection id is not a feed id).
   */
  feed: 'indicators' | 'stix' | 'absent';
  /** Fields left out of every feed object (a feed that lacks what a read compares), default none. */
  feedOmits: string[];
  /** Highest `limit` the feed accepts (default 10000, documented), else 400. */
  feedMaxLimit: number;
  /** Most objects a feed page holds whatever `limit` says (default 10000: `limit` honoured). */
  feedPageCap: number;
  /** Key of the object list in a feed answer: 'items' (default) or 'objects'. */
  feedItemsKey: 'items' | 'objects';
  /** `next_cursor` at the end of the feed: 'null' (default) or 'repeat' (a cursor to poll for later objects). */
  feedEndCursor: 'null' | 'repeat';
  /** Whether expired indicators are left out when `skip_expired` is not sent (default true, as documented). */
  feedSkipExpiredDefault: boolean;
  /**
   * Order of the feed, its cursor being a position in it: 'created' (default: stable, objects are only
   * appended) or 'modified' (an edited object moves to the end, so a walk under edits skips one: inconsistent).
   */
  feedOrder: 'created' | 'modified';
}

export const DEFAULT_BEHAVIOR: Readonly<SekoiaBehavior> = Object.freeze({
  bareUuid: '404',
  quotaMax: 500_000,
  quotaScope: 'community',
  quotaCountsRevoked: false,
  quotaOverflowStatus: 400,
  quotaOverflowBody: 'json-code',
  descriptionOverflow: 'reject',
  invalidValue: 'reject-batch',
  reimport: 'update',
  reimportRevoked: 'new',
  listRevoked: true,
  repeatRevoke: 200,
  termCaseSensitive: true,
  termSearch: 'substring',
  itemOrder: 'input',
  itemName: 'as-sent',
  putMode: 'partial',
  putNull: 'clear',
  hasMore: 'present',
  forbiddenBody: 'json',
  killChainPhases: 'accept-all',
  textDelayMs: 20,
  textMaxLines: 1000,
  textLineFailureRate: 0,
  defaultValidity: true,
  feed: 'indicators',
  feedOmits: [],
  feedMaxLimit: 10_000,
  feedPageCap: 10_000,
  feedItemsKey: 'items',
  feedEndCursor: 'null',
  feedSkipExpiredDefault: true,
  feedOrder: 'created',
} satisfies SekoiaBehavior);

/** How a 429 says when to come back. */
export type RetryAfterMode = 'none' | 'seconds' | 'date';

export interface RateLimitConfig {
  /** Sustained requests per second (token refill rate). */
  rps: number;
  /** Bucket size (default: rps, at least 1). */
  burst?: number;
  /** Retry-After on the 429 (default 'seconds'). */
  retryAfter?: RetryAfterMode;
}

export interface WafConfig {
  /** Status of a blocked request: 429 or 403 (default 403). Blocked answers are HTML, never JSON. */
  status: 429 | 403;
  /** Block when more than this many requests arrive within one second (default 100). */
  maxRps: number;
  /** Block when more than this many error answers (status >= 400) are sent within 5 s (default 8). */
  maxErrorsPer5s: number;
  /** How long a block lasts (default 30000 ms; Sekoia documents 30 s – 10 min). */
  blockMs: number;
  /** Retry-After on blocked answers (default 'none'). */
  retryAfter?: RetryAfterMode;
}

export type FaultAction =
  /** Answer with this status; body JSON (or `html` as text/html) and optional Retry-After. */
  | { kind: 'status'; status: number; body?: unknown; html?: string; retryAfter?: RetryAfterMode }
  /** 500/502/503/504; a 502 answers an HTML gateway page, the others JSON. */
  | { kind: 'server-error'; status: 500 | 502 | 503 | 504 }
  /** 429 with the given Retry-After style and delay (default 'seconds', 1 s). */
  | { kind: 'rate-limit'; retryAfter?: RetryAfterMode; seconds?: number }
  /** Close the connection without answering, before applying the request or after applying it. */
  | { kind: 'drop'; when: 'before' | 'after' }
  /** Extra delay (does not stop later rules from firing). */
  | { kind: 'latency'; ms: number }
  /** Apply the request, send the headers and half the body, then reset the connection. */
  | { kind: 'truncate' }
  /** Apply the request and send the body in small chunks with this pause between them. */
  | { kind: 'slow-body'; chunkDelayMs: number }
  /** 401 as if the key had been revoked. */
  | { kind: 'unauthorized' };

export interface FaultRule {
  /** Routes it applies to (default every API route). */
  route?: SekoiaRoute | SekoiaRoute[];
  /** Probability of firing on a matching call (default 1). */
  probability?: number;
  /** Fire only on these matching calls (1-based count of calls this rule has seen). */
  nth?: number[];
  /** Fire at most this many times. */
  times?: number;
  action: FaultAction;
}

/** Fault injection, changeable at run time. Everything off by default. */
export interface SekoiaFaults {
  latencyMs: number;
  /** Uniform extra delay in [0, jitterMs). */
  jitterMs: number;
  rateLimit: RateLimitConfig | null;
  waf: WafConfig | null;
  /** Probability of answering one of `errorStatuses` instead of applying the request. */
  errorRate: number;
  errorStatuses: Array<500 | 502 | 503 | 504>;
  /** Probability of closing the connection before the request is applied. */
  dropBeforeRate: number;
  /** Probability of applying the request and then closing the connection without an answer. */
  dropAfterRate: number;
  /** Every API request answers 401 (key revoked/rotated). */
  unauthorized: boolean;
  /** Every collection route answers 404 INTHREAT2500 (collection deleted) while set; state is kept. */
  collectionGone: boolean;
  /** Creates are refused as if the quota were reached, and count-total-iocs reports count = max. */
  quotaFull: boolean;
  /**
   * DELETE (revoke) of these indicators is refused: each entry is an indicator id or a value (canonical form
   * matched). `status` default 400, body code INTHREAT4005. A revoke Sekoia refuses for good (issue 13 case 2).
   */
  rejectRevoke: { match: string[]; status?: 400 | 413 | 422 } | null;
  /** Per-route / per-call rules, evaluated in order before the global probabilities. */
  rules: FaultRule[];
}

export function defaultFaults(): SekoiaFaults {
  return {
    latencyMs: 0,
    jitterMs: 0,
    rateLimit: null,
    waf: null,
    errorRate: 0,
    errorStatuses: [500, 502, 503, 504],
    dropBeforeRate: 0,
    dropAfterRate: 0,
    unauthorized: false,
    collectionGone: false,
    quotaFull: false,
    rejectRevoke: null,
    rules: [],
  };
}

export interface SimApiKey {
  key: string;
  /** "View IOC collections" (reads). */
  view: boolean;
  /** "Manage IOC collections" (POST/PUT/DELETE). */
  manage: boolean;
  /** A revoked key answers 401. */
  revoked: boolean;
  /** Expiry on the simulator clock (ms since epoch); from then on the key answers 401. */
  expiresAt: number | null;
}

export interface KillChainPhaseInput {
  kill_chain_name: string;
  phase_name: string;
}

/** An indicator as the API returns it. */
export interface SekoiaIndicator {
  id: string;
  type: 'indicator';
  name: string;
  pattern: string;
  pattern_type: 'stix';
  valid_from: string;
  valid_until: string | null;
  kill_chain_phases: unknown[];
  description: string | null;
  revoked: boolean;
  x_ic_observable_types: string[];
  x_ic_collection_ref: string;
  x_ic_related_threat_refs: string[];
  created: string;
  modified: string;
}

/** An indicator as the inspection API shows it: every API field plus the simulator's own bookkeeping. */
export interface SimIndicatorState extends SekoiaIndicator {
  /** The canonical value (dedup identity). */
  canonical: string;
  revoked_at: string | null;
}

export interface SekoiaCollection {
  id: string;
  name: string;
  description: string;
  created: string;
  modified: string;
  created_by: string;
  modified_by: string;
  community_uuid: string;
  available_for_sub_communities: boolean;
  indicators_count: number;
}

export interface SimTask {
  task_id: string;
  collection_id: string;
  status: 'pending' | 'done' | 'failed';
  total: number;
  imported: number;
  created: number;
  updated: number;
  ignored: number;
  rejected: number;
  rejections: Array<{ line: string; reason: string }>;
}

/** Requests answered, by route and then by status ('drop-before' / 'drop-after' for dropped connections). */
export type SimCounters = Record<SekoiaRoute, Record<string, number>>;

export interface SekoiaSimulatorOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Seed of every random choice (faults, ids, shuffles). Default 1. */
  seed?: number;
  /** The default key (view + manage). Default a generated `sim-…` key; null: create none. */
  apiKey?: string | null;
  /** Extra keys. */
  keys?: Array<Partial<SimApiKey> & { key: string }>;
  /** The default collection (`ioc-collection--<uuid>`). Default generated; null: create none. */
  collectionId?: string | null;
  behavior?: Partial<SekoiaBehavior>;
  faults?: Partial<SekoiaFaults>;
  /** Initial simulator clock (ms since epoch). Default the real time; it then runs with real time. */
  clockStartMs?: number;
  /** Freeze the simulator clock: it moves only through advanceClock/setClock (deterministic dates). */
  clockFrozen?: boolean;
}
