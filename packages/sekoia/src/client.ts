import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { canonicalValue } from '@octi-sekoia/stix';
import axios, { type AxiosInstance } from 'axios';
import {
  ConfigurationError,
  NotFoundError,
  QuotaFullError,
  RateLimitedError,
  RejectedError,
  RetryableError,
  type SekoiaError,
  type SekoiaOperation,
} from './errors.ts';
import { FEED_PAGE_MAX, FeedUnusableError, feedQuery, feedUrl, parseFeedPage } from './feed.ts';
import { createBody, type DefaultFields, type IndicatorFields, type NewIndicator } from './fields.ts';
import { type AnsweredItem, indicatorValues, matchCreated } from './match.ts';
import { normaliseBaseUrl, normaliseCollectionId } from './url.ts';

/** An indicator as Sekoia returns it (only the fields the connector reads are typed). */
export interface SekoiaIndicator {
  id: string;
  name: string;
  pattern?: string;
  revoked: boolean;
  valid_from?: string;
  valid_until?: string | null;
  description?: string | null;
  kill_chain_phases?: unknown[];
  x_ic_collection_ref?: string;
  [field: string]: unknown;
}

export interface SekoiaCollection {
  id: string;
  name?: string;
  indicators_count?: number;
  [field: string]: unknown;
}

export interface SekoiaClientOptions {
  /** API base (`https://api.sekoia.io`, `https://app.sekoia.io/api`, …), with or without /v2/inthreat/ioc-collections. */
  baseUrl: string;
  apiKey: string;
  /** `ioc-collection--<uuid>` or a bare UUID (normalised to the prefixed form). */
  collectionId: string;
  /** Whole-request deadline (connect to last body byte). */
  timeoutMs: number;
  userAgent?: string;
  /** Awaited before EVERY HTTP request (the caller takes a request-budget token here). */
  beforeRequest?: () => Promise<void>;
  /**
   * Canonical form of a value, used to match Sekoia's `name` back to what was sent. Default: `canonicalValue` of
   * `@octi-sekoia/stix` (tests may pass another).
   */
  canonicalValue?: (value: string) => string | undefined;
  /** What the recorded behaviour profile established (`pnpm cli probe`); without it the safe choices. */
  behaviour?: ClientBehaviour;
  /** Clock (tests). */
  now?: () => number;
  /** The feed could not serve a collection read (once per client: later reads use offset pages directly). */
  onFeedFallback?: (reason: string) => void;
}

/**
 * Behaviours of Sekoia no public source settles (issue 14) that change what the client sends or reads. Every
 * default is the choice that is right whatever the real behaviour is, at the cost of a request now and then.
 */
export interface ClientBehaviour {
  /** `has_more` is known present and right: a full page with `has_more: false` ends a read (default false). */
  trustHasMore?: boolean;
  /** `term` is known to ignore case: no second, upper-cased search for a hash (default false). */
  termIgnoresCase?: boolean;
  /**
   * How `term` is known to match: 'substring' (a part of the value finds it), 'tokenised' (only the whole value
   * does), or undefined: a part first, then the whole value when the part found nothing.
   */
  termMatch?: 'substring' | 'tokenised';
  /**
   * The probe found the cursor feed usable for this collection (row 11): `listAll` reads it (10,000 objects a
   * page) instead of offset pages of 100, falling back to them when the feed refuses or answers an unknown shape.
   */
  collectionFeed?: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  /** Parsed JSON body, or undefined when the body is not JSON (HTML block pages, gateways). */
  json: unknown;
  isJson: boolean;
  /** The body as text (the first 2 kB: enough to tell a page from a message). */
  text: string;
}

const PAGE = 100;
/** Longest WAF block Sekoia documents (docs/sekoia-api.md "Limits": "30 s – 10 min"). */
export const WAF_MAX_BLOCK_MS = 10 * 60_000;
const WRITES: ReadonlySet<SekoiaOperation> = new Set(['createBatch', 'edit', 'revoke', 'forceDelete']);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export class SekoiaClient {
  readonly collectionsUrl: string;
  readonly collectionId: string;
  private readonly http: AxiosInstance;
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true });
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly beforeRequest: (() => Promise<void>) | undefined;
  private readonly canonical: (value: string) => string | undefined;
  private behaviour: ClientBehaviour;
  private readonly now: () => number;
  /** Since when requests have been answered an unclear 403 (HTML or empty) with no success since. */
  private forbiddenSince: number | undefined;
  private readonly onFeedFallback: ((reason: string) => void) | undefined;
  /** Why the feed could not serve a read (it is not tried again by this client). */
  private feedRefused: string | undefined;

  constructor(opts: SekoiaClientOptions) {
    this.collectionsUrl = normaliseBaseUrl(opts.baseUrl);
    this.collectionId = normaliseCollectionId(opts.collectionId);
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs;
    this.beforeRequest = opts.beforeRequest;
    this.canonical = opts.canonicalValue ?? canonicalValue;
    this.behaviour = opts.behaviour ?? {};
    this.now = opts.now ?? Date.now;
    this.onFeedFallback = opts.onFeedFallback;
    this.http = axios.create({
      baseURL: this.collectionsUrl,
      timeout: opts.timeoutMs,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // Statuses and bodies are interpreted here, so axios never throws an error that carries our headers
      // for an HTTP answer; redirects are not followed (a redirect means the URL is not the API).
      validateStatus: () => true,
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      headers: {
        Authorization: `Bearer ${opts.apiKey}`,
        Accept: 'application/json',
        'User-Agent': opts.userAgent ?? 'octi-sekoia-sync',
      },
    });
  }

  /** Uses what the behaviour profile established from now on (the worker reads it after construction). */
  useBehaviour(b: ClientBehaviour): void {
    this.behaviour = b;
  }

  /** Closes the keep-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private get collectionPath(): string {
    return `/${encodeURIComponent(this.collectionId)}`;
  }

  /** GET /{id}: the existence check (and the circuit breaker's probe). */
  async getCollection(): Promise<SekoiaCollection> {
    const op = 'getCollection';
    const a = await this.send(op, 'GET', this.collectionPath);
    if (a.status !== 200) throw await this.refused(op, a, 'collection');
    const body = this.expectJson(op, a);
    if (!isObject(body) || typeof body.id !== 'string') throw this.unexpected(op, a);
    return body as SekoiaCollection;
  }

  /** GET /count-total-iocs: `{count, max}` for the community. */
  async countTotalIocs(): Promise<{ count: number; max: number }> {
    const op = 'countTotalIocs';
    const a = await this.send(op, 'GET', '/count-total-iocs');
    if (a.status !== 200) throw await this.refused(op, a, 'api');
    const body = this.expectJson(op, a);
    if (!isObject(body) || typeof body.count !== 'number' || typeof body.max !== 'number') {
      throw this.unexpected(op, a);
    }
    return { count: body.count, max: body.max };
  }

  /**
   * POST /{id}/indicators with 1–100 values sharing `defaultFields`. Returns the live indicator Sekoia holds
   * for each value, matched by `matchCreated` (canonical values of name and pattern; order only with evidence
   * of it: item order is not documented). A value Sekoia answered only with a revoked indicator (it ignores the
   * re-import of a revoked value — one of the behaviours the reference leaves open) comes back flagged
   * `revoked: true`. A value missing from the result was left out (per-item rejection). Throws QuotaFullError
   * when a refusal comes with the quota used up.
   */
  async createBatch(
    defaultFields: DefaultFields,
    values: NewIndicator[],
  ): Promise<Array<{ id: string; value: string; revoked?: true }>> {
    const op = 'createBatch';
    if (values.length < 1 || values.length > 100) {
      throw new RangeError(`createBatch takes 1 to 100 values, got ${values.length}`);
    }
    const a = await this.send(
      op,
      'POST',
      `${this.collectionPath}/indicators`,
      createBody(defaultFields, values),
    );
    if (a.status !== 200 && a.status !== 201) {
      // Sekoia's status and body for "quota reached" are unknown (issue 14 row 9): any refusal of a create,
      // whatever its body, 429 included, is checked against the quota (a rate-limited check just rethrows).
      if (a.status >= 400 && a.status < 500 && ![401, 404, 408].includes(a.status)) {
        const full = await this.quotaUsedUp();
        if (full) throw new QuotaFullError(full.count, full.max, { operation: op, status: a.status });
      }
      throw await this.refused(op, a, 'collection');
    }
    const body = this.expectJson(op, a);
    if (!isObject(body) || !Array.isArray(body.items)) throw this.unexpected(op, a);
    const items = body.items.filter(
      (i): i is AnsweredItem => isObject(i) && typeof i.id === 'string' && typeof i.name === 'string',
    );
    const matched = matchCreated(
      values.map((v) => v.value),
      items,
      this.canonical,
    );
    return [...matched].map(([value, m]) =>
      m.revoked ? { id: m.id, value, revoked: true as const } : { id: m.id, value },
    );
  }

  /** PUT /{id}/indicators/{indicatorId} with the editable fields. NotFoundError when the indicator is gone. */
  async edit(indicatorId: string, fields: IndicatorFields): Promise<SekoiaIndicator> {
    const op = 'edit';
    const a = await this.send(op, 'PUT', this.indicatorPath(indicatorId), fields);
    if (a.status === 404) throw await this.indicatorNotFound(op, indicatorId, a);
    if (a.status !== 200) throw await this.refused(op, a, 'indicator');
    const body = this.expectJson(op, a);
    if (!isObject(body) || typeof body.id !== 'string') throw this.unexpected(op, a);
    return body as SekoiaIndicator;
  }

  /** DELETE /{id}/indicators/{indicatorId} (revoke, never force-delete). 'not-found' when it does not exist. */
  async revoke(indicatorId: string): Promise<'revoked' | 'not-found'> {
    const op = 'revoke';
    const a = await this.send(op, 'DELETE', this.indicatorPath(indicatorId));
    if (a.status === 404) {
      await this.indicatorNotFound(op, indicatorId, a);
      return 'not-found';
    }
    if (a.status !== 200 && a.status !== 204) throw await this.refused(op, a, 'indicator');
    return 'revoked';
  }

  /**
   * Whether the key may write, changing nothing: a DELETE of an indicator id no collection holds (a new random
   * one) answers 404 when writes are allowed and 403 when the key lacks "Manage IOC collections". Assumption
   * (no public source says in which order Sekoia checks): the permission before the id, as for any route-level
   * permission (docs/sekoia-behaviours.md, row 7). Resolves when writes are allowed; throws what `revoke` throws.
   */
  async probeWrite(): Promise<void> {
    await this.revoke(`indicator--${randomUUID()}`);
  }

  /**
   * DELETE /{id}/indicators/{indicatorId} with `{"force_deletion": true}`: deletes a revoked indicator for good.
   * Documented as allowed only 24 h after the revocation (an earlier one is refused: RejectedError).
   * 'not-found' when it does not exist.
   */
  async forceDelete(indicatorId: string): Promise<'deleted' | 'not-found'> {
    const op = 'forceDelete';
    const a = await this.send(op, 'DELETE', this.indicatorPath(indicatorId), { force_deletion: true });
    if (a.status === 404) {
      await this.indicatorNotFound(op, indicatorId, a);
      return 'not-found';
    }
    if (a.status !== 200 && a.status !== 204) throw await this.refused(op, a, 'indicator');
    return 'deleted';
  }

  /**
   * Every indicator (revoked included, flagged) whose value is exactly `value`: `term` is a substring match on
   * the pattern (docs/sekoia-api.md), so all pages are read (limit 100) and only indicators standing for the
   * value (`indicatorValues`: canonical name or pattern) are kept. Whether `term` is case-sensitive is unknown
   * (issue 14 row 10): a hash, which Sekoia may hold upper-cased, is searched upper-cased as well when the
   * lower-case search found nothing and the client was not told `term` ignores case; a value with `'` or `\`
   * is searched whole as well when its longest part found nothing (a tokenised search). Each hit keeps the item
   * as listed (`indicator`): a verify search compares the attributes it carries, not only its id.
   */
  async searchExact(
    value: string,
  ): Promise<Array<{ id: string; value: string; revoked: boolean; indicator: SekoiaIndicator }>> {
    const want = this.canonical(value);
    const out: Array<{ id: string; value: string; revoked: boolean; indicator: SekoiaIndicator }> = [];
    const seen = new Set<string>();
    const collect = (items: SekoiaIndicator[]) => {
      for (const i of items) {
        if (want === undefined || seen.has(i.id)) continue;
        if (!indicatorValues(i, this.canonical).includes(want)) continue;
        seen.add(i.id);
        out.push({ id: i.id, value: i.name, revoked: i.revoked, indicator: i });
      }
    };
    // Under a substring `term` (docs/sekoia-api.md) the pattern escapes `'` and `\`: search the longest part
    // without them. A tokenised search matches whole values only: then the value itself is the term.
    const part = value.split(/['\\]/).reduce((a, b) => (b.length > a.length ? b : a), '');
    const terms = this.behaviour.termMatch === 'tokenised' ? [value.trim()] : [part];
    if (this.behaviour.termMatch === undefined && part !== value.trim()) terms.push(value.trim());
    // A hash Sekoia may hold upper-cased, unless `term` is known to ignore case.
    if (
      !this.behaviour.termIgnoresCase &&
      /^[0-9a-f]+$/i.test(terms[0]!) &&
      terms[0]!.toUpperCase() !== terms[0]
    ) {
      terms.push(terms[0]!.toUpperCase());
    }
    for (const term of terms) {
      await this.pages('searchExact', term, collect);
      if (out.length > 0) break;
    }
    return out;
  }

  /**
   * Every indicator of the collection, page by page: through the cursor feed when the behaviour profile says it
   * is usable (row 11), else offset pages of 100 (a collection changing meanwhile can shift them: an item seen
   * twice is harmless to a read). A feed that refuses (a 4xx but 401/403/429) or answers an unknown shape is
   * left for offset pages, from the start, once for this client (`onFeedFallback`): what the feed pages gave is
   * recorded already and is read again, harmlessly. Returns how many were seen.
   */
  async listAll(onPage: (items: SekoiaIndicator[]) => void | Promise<void>): Promise<number> {
    if (this.behaviour.collectionFeed && this.feedRefused === undefined) {
      try {
        return await this.listFeed(onPage);
      } catch (err) {
        if (!(err instanceof FeedUnusableError)) throw err;
        this.feedRefused = err.message;
        this.onFeedFallback?.(err.message);
      }
    }
    return this.pages('listAll', undefined, onPage);
  }

  /**
   * Every object of the collection's cursor feed (docs/sekoia-api.md "Cursor feed"), `limit` a page (default
   * 10,000), revoked ones included only when asked. Stops at an empty page or a cursor that does not move (a
   * feed may hand out a cursor to poll at its end). Throws FeedUnusableError when the feed cannot serve this
   * collection (see feed.ts), the usual SekoiaErrors otherwise. Returns how many objects were seen.
   */
  async listFeed(
    onPage: (items: SekoiaIndicator[]) => void | Promise<void>,
    opts: { limit?: number; includeRevoked?: boolean } = {},
  ): Promise<number> {
    const url = feedUrl(this.collectionsUrl, this.collectionId);
    let cursor: string | undefined;
    let seen = 0;
    for (;;) {
      const q = feedQuery({
        limit: opts.limit ?? FEED_PAGE_MAX,
        includeRevoked: opts.includeRevoked ?? false,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      const a = await this.send('listFeed', 'GET', `${url}?${q}`);
      if (a.status !== 200) {
        if (a.status >= 400 && a.status < 500 && ![401, 403, 429].includes(a.status))
          throw new FeedUnusableError(`the feed answered HTTP ${a.status}`);
        throw await this.refused('listFeed', a, 'collection');
      }
      if (!a.isJson) throw new FeedUnusableError(`the feed answered HTTP ${a.status} without JSON`);
      const page = parseFeedPage(a.json);
      if (page.items.length > 0) await onPage(page.items as SekoiaIndicator[]);
      seen += page.items.length + page.skipped;
      if (page.items.length + page.skipped === 0 || page.next === undefined || page.next === cursor)
        return seen;
      cursor = page.next;
    }
  }

  /**
   * Reads every page of a list or search. Whether `has_more` is present is unknown (issue 14 row 4: a re-sync
   * that trusted its absence left foreign values live), and `total` may be absent too: paging goes on while
   * any of them says there is more — `has_more: true`, `total` beyond what was read, or, with neither present
   * (or when told not to trust `has_more`), a full page — and always stops on an empty page, so a wrong
   * `has_more` or `total` can never loop forever.
   */
  private async pages(
    op: SekoiaOperation,
    term: string | undefined,
    onPage: (items: SekoiaIndicator[]) => void | Promise<void>,
  ): Promise<number> {
    let offset = 0;
    for (;;) {
      const q = `${term !== undefined ? `term=${encodeURIComponent(term)}&` : ''}limit=${PAGE}&offset=${offset}`;
      const a = await this.send(op, 'GET', `${this.collectionPath}/indicators?${q}`);
      if (a.status !== 200) throw await this.refused(op, a, 'collection');
      const body = this.expectJson(op, a);
      if (!isObject(body) || !Array.isArray(body.items)) throw this.unexpected(op, a);
      const items = body.items.filter(
        (i): i is SekoiaIndicator => isObject(i) && typeof i.id === 'string' && typeof i.name === 'string',
      );
      for (const i of items) i.revoked = i.revoked === true;
      if (items.length > 0) await onPage(items);
      offset += body.items.length;
      if (!morePages(body, offset, body.items.length, this.behaviour.trustHasMore)) return offset;
    }
  }

  private indicatorPath(indicatorId: string): string {
    return `${this.collectionPath}/indicators/${encodeURIComponent(indicatorId)}`;
  }

  /**
   * A 404 on an indicator route means the indicator or the whole collection is gone (the body does not say
   * which reliably): GET the collection to tell them apart.
   */
  private async indicatorNotFound(op: SekoiaOperation, indicatorId: string, a: Answer): Promise<SekoiaError> {
    try {
      await this.getCollection();
    } catch (err) {
      if (err instanceof ConfigurationError && err.reason === 'collection-not-found') {
        throw this.collectionNotFound(op, a);
      }
      throw err;
    }
    return new NotFoundError(indicatorId, { operation: op, status: 404 });
  }

  /**
   * Whether the IOC quota is used up. count-total-iocs is the community total; the sources conflict on whether
   * the 500k limit is per community or per collection. A community count above max can only happen under a
   * per-collection quota, so then this collection's own indicators_count decides.
   */
  private async quotaUsedUp(): Promise<{ count: number; max: number } | undefined> {
    const { count, max } = await this.countTotalIocs();
    if (count < max) return undefined;
    if (count === max) return { count, max };
    const own = (await this.getCollection()).indicators_count;
    return typeof own === 'number' && own >= max ? { count: own, max } : undefined;
  }

  private async send(op: SekoiaOperation, method: string, path: string, data?: unknown): Promise<Answer> {
    if (this.beforeRequest) await this.beforeRequest();
    try {
      const res = await this.http.request<string>({
        method,
        url: path,
        data: data === undefined ? undefined : JSON.stringify(data),
        headers: data === undefined ? {} : { 'Content-Type': 'application/json' },
        // A whole-request deadline: axios' own timeout alone does not bound a body trickling in slowly.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = typeof res.data === 'string' ? res.data : '';
      const type = String(res.headers['content-type'] ?? '');
      let json: unknown;
      let isJson = false;
      if (text !== '' && (type.includes('json') || /^\s*[[{]/.test(text))) {
        try {
          json = JSON.parse(text);
          isJson = true;
        } catch {
          // not JSON: an HTML page from a gateway or WAF
        }
      }
      if (res.status >= 200 && res.status < 300) this.forbiddenSince = undefined;
      return {
        status: res.status,
        headers: res.headers as Record<string, unknown>,
        json,
        isJson,
        text: text.slice(0, 2048),
      };
    } catch (err) {
      throw this.networkError(op, err);
    }
  }

  /** Builds a RetryableError from whatever axios threw, copying only its code (never its config). */
  private networkError(op: SekoiaOperation, err: unknown): RetryableError {
    const e = err as { code?: unknown; name?: unknown; message?: unknown };
    const raw = typeof e?.code === 'string' ? e.code : undefined;
    const timedOut =
      raw === 'ECONNABORTED' || raw === 'ETIMEDOUT' || raw === 'ERR_CANCELED' || e?.name === 'TimeoutError';
    const code = timedOut ? 'timeout' : (raw ?? 'network-error');
    const detail = timedOut
      ? `no complete answer within ${this.timeoutMs} ms`
      : this.redact(typeof e?.message === 'string' ? e.message : 'network error');
    return new RetryableError(`Sekoia.io ${op}: ${detail} (${code})`, { operation: op, code });
  }

  /**
   * `fail`, after telling a permission 403 from a WAF block (issue 14 row 7: 403 bodies are undocumented). A
   * message (JSON or plain text) is the API speaking: a permission problem. An HTML page or an empty body is
   * unclear: after a refused write, a read of the collection tells them apart (a WAF blocks every request, a
   * missing "Manage" permission only writes); otherwise it is taken for a WAF block (the budget pauses) until
   * 403s have lasted longer than the longest documented block, when it is named a permission problem.
   */
  private async refused(
    op: SekoiaOperation,
    a: Answer,
    scope: 'collection' | 'api' | 'indicator',
  ): Promise<SekoiaError> {
    if (a.status !== 403) return this.fail(op, a, scope);
    if (classify403(a) === 'permission') return this.fail(op, a, scope, 'permission');
    const now = this.now();
    this.forbiddenSince ??= now;
    if (now - this.forbiddenSince > WAF_MAX_BLOCK_MS) return this.fail(op, a, scope, 'persistent');
    if (WRITES.has(op)) {
      const read = await this.send('getCollection', 'GET', this.collectionPath);
      if (read.status === 200) return this.fail(op, a, scope, 'writes');
    }
    return this.fail(op, a, scope, 'waf');
  }

  /**
   * Maps a non-success answer to its error. `scope` says what a 404 means: the collection ('collection'), the
   * API path itself ('api'), or something the caller disambiguates first ('indicator').
   */
  private fail(
    op: SekoiaOperation,
    a: Answer,
    scope: 'collection' | 'api' | 'indicator',
    forbidden: ForbiddenVerdict = 'permission',
  ): SekoiaError {
    const d = { operation: op, status: a.status };
    const body = isObject(a.json) ? a.json : {};
    const sekoiaMessage =
      typeof body.message === 'string' ? this.redact(body.message).slice(0, 500) : undefined;
    const sekoiaCode = typeof body.code === 'string' ? body.code : undefined;
    const s = a.status;
    if (s === 429) {
      return new RateLimitedError(`Sekoia.io ${op}: rate limited (HTTP 429)`, {
        ...d,
        retryAfterMs: parseRetryAfter(a.headers['retry-after']),
        source: a.isJson ? 'rate-limit' : 'waf',
      });
    }
    if (s === 403 && forbidden === 'waf') {
      return new RateLimitedError(`Sekoia.io ${op}: blocked by the web application firewall (HTTP 403)`, {
        ...d,
        retryAfterMs: parseRetryAfter(a.headers['retry-after']),
        source: 'waf',
      });
    }
    if (s === 401) {
      return new ConfigurationError(
        'unauthorized',
        'Sekoia.io rejected the API key (HTTP 401): set a valid SEKOIA_INTEL_APIKEY (it may be expired or revoked)',
        d,
      );
    }
    if (s === 403) {
      const why =
        forbidden === 'persistent'
          ? `every request has been refused with HTTP 403 for over ${WAF_MAX_BLOCK_MS / 60_000} minutes, longer than a WAF block lasts: the API key most likely lacks a permission`
          : forbidden === 'writes'
            ? 'the API key can read the collection but not write to it (HTTP 403 on writes only)'
            : `The Sekoia.io API key lacks a permission (HTTP 403${sekoiaMessage ? `: ${sekoiaMessage}` : ''})`;
      return new ConfigurationError(
        'forbidden',
        `${why}: it needs "View IOC collections" and "Manage IOC collections"`,
        d,
      );
    }
    if (s === 404 && scope === 'collection') return this.collectionNotFound(op, a);
    if (s === 404 && scope === 'api') return this.unexpected(op, a);
    if (s === 400 || s === 413 || s === 422) {
      return new RejectedError(
        `Sekoia.io ${op} rejected (HTTP ${s}): ${sekoiaMessage ?? 'no reason given'}`,
        {
          ...d,
          sekoiaMessage,
          sekoiaCode,
        },
      );
    }
    if (s >= 500 || s === 408 || s === 409 || s === 425) {
      return new RetryableError(`Sekoia.io ${op}: HTTP ${s}${sekoiaMessage ? ` ${sekoiaMessage}` : ''}`, d);
    }
    return this.unexpected(op, a);
  }

  private collectionNotFound(op: SekoiaOperation, a: Answer): ConfigurationError {
    const fromApi = a.isJson && isObject(a.json) && a.json.code === 'INTHREAT2500';
    return new ConfigurationError(
      'collection-not-found',
      fromApi
        ? 'IOC collection not found: create it in Sekoia.io first'
        : 'IOC collection not found: create it in Sekoia.io first, and check SEKOIA_INTEL_URL and SEKOIA_INTEL_IOC_COLLECTION_UUID',
      { operation: op, status: a.status },
    );
  }

  private unexpected(op: SekoiaOperation, a: Answer): ConfigurationError {
    return new ConfigurationError(
      'unexpected-response',
      `Sekoia.io answered ${op} with HTTP ${a.status}${a.isJson ? '' : ' and no JSON'}, not as the IOC API: check SEKOIA_INTEL_URL (e.g. https://api.sekoia.io)`,
      { operation: op, status: a.status },
    );
  }

  private expectJson(op: SekoiaOperation, a: Answer): unknown {
    if (!a.isJson) throw this.unexpected(op, a);
    return a.json;
  }

  /** Defence in depth: nothing the server echoes may carry the key into a message. */
  private redact(s: string): string {
    return this.apiKey ? s.split(this.apiKey).join('[redacted]') : s;
  }
}

type ForbiddenVerdict = 'permission' | 'writes' | 'persistent' | 'waf';

/**
 * What a 403's body says: 'permission' when it carries a message (JSON, or plain text: assumption — WAF block
 * pages are HTML), 'unclear' for an HTML page or an empty body (a WAF block, or a permission page: see
 * SekoiaClient.refused).
 */
export function classify403(a: {
  isJson: boolean;
  json: unknown;
  text: string;
  headers: Record<string, unknown>;
}) {
  if (a.isJson) return 'permission';
  const type = String(a.headers['content-type'] ?? '').toLowerCase();
  const text = a.text.trim();
  if (text === '' || type.includes('html') || text.startsWith('<')) return 'unclear';
  return 'permission';
}

/**
 * Whether a list or search has pages after this one (see SekoiaClient.pages): `has_more: true`, or `total`
 * beyond `read`, or — with no `total`, and `has_more` absent or not trusted — a full page. Never after an empty
 * page.
 */
export function morePages(
  body: Record<string, unknown>,
  read: number,
  pageLength: number,
  trustHasMore = false,
) {
  if (pageLength === 0) return false;
  if (body.has_more === true) return true;
  const total = typeof body.total === 'number' ? body.total : undefined;
  if (total !== undefined) return read < total;
  if (trustHasMore && body.has_more === false) return false;
  return pageLength >= PAGE;
}

/** Retry-After as delta-seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(header: unknown, now = Date.now()): number | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const v = header.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}
