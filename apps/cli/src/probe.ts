// `pnpm cli probe`: settles, on the operator's real Sekoia.io account, the behaviours no public source settles
// (issue 14; docs/sekoia-behaviours.md), records them as the Sekoia profile the workers read, and checks what
// the product needs of OpenCTI. Writes only documentation-range values to a scratch collection and revokes them.
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '@octi-sekoia/config';
import {
  createOpenCtiClient,
  isVersionBelow,
  OpenCtiAuthError,
  TESTED_OPENCTI_VERSION,
} from '@octi-sekoia/opencti';
import {
  BEHAVIOUR_NOTES,
  BEHAVIOURS,
  type BehaviourName,
  type DegradedMode,
  degradedModes,
  feedUrl,
  normaliseBaseUrl,
  normaliseCollectionId,
  parseRetryAfter,
  productResponse,
  type SekoiaBehaviours,
  type SekoiaProfile,
  unknownBehaviours,
  writeProfile,
} from '@octi-sekoia/sekoia';
import { canonicalValue, expandIpv6 } from '@octi-sekoia/stix';
import type { Budget } from '@octi-sekoia/sync';
import { budgetOf } from './adopt.ts';
import { parseArgs } from './args.ts';
import { appConfig, cliConfig, connect, refuseEvictingRedis } from './context.ts';
import { short } from './format.ts';
import { CommandError, EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, type Io, UsageError } from './io.ts';
import {
  allProbeValues,
  classifyCreateName,
  classifyForbiddenBody,
  classifyHasMore,
  classifyKillChain,
  classifyPutNull,
  classifyPutOmitted,
  classifyQuotaFull,
  classifyReimportRevoked,
  classifyRepeatRevoke,
  classifyTermSearch,
  type FieldState,
  type ProbeValues,
  probeValues,
} from './probe-classify.ts';
import { probeFeed } from './probe-feed.ts';

/** 429s in a row on one request before the probe gives up (each pauses the shared budget first). */
const MAX_RATE_LIMITED = 5;
const DESCRIPTION = 'octi-sekoia probe (documentation value, revoked at the end)';

interface Answer {
  status: number;
  contentType: string;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected field by field.
  json: any;
}

interface Item {
  id: string;
  name: string;
  pattern?: string;
  revoked: boolean;
  description?: string | null;
  valid_until?: string | null;
}

/** A Sekoia answer that stops the probe: configuration (exit 2) or attention (exit 1). */
class ProbeStop extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Raw requests to the scratch collection: the probe needs statuses and bodies the client interprets away. */
class ProbeHttp {
  requests = 0;
  constructor(
    private readonly base: string,
    readonly collection: string,
    private readonly apiKey: string,
    private readonly budget: Budget,
    private readonly timeoutMs: number,
  ) {}

  /** One request; a 429 pauses the shared budget and is retried, unless `take429` (the answer is wanted). */
  async call(
    method: string,
    path: string,
    body?: unknown,
    key = this.apiKey,
    take429 = false,
  ): Promise<Answer> {
    for (let attempt = 1; ; attempt++) {
      await this.budget.take();
      this.requests++;
      let res: Response;
      try {
        // An absolute URL is the feed route, outside the IOC-collections base.
        res = await fetch(/^https?:/.test(path) ? path : `${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            accept: 'application/json',
            'user-agent': 'octi-sekoia-cli/probe',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
          redirect: 'manual',
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const reason = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
        throw new ProbeStop(
          `cannot reach Sekoia.io at ${new URL(this.base).host}: ${short(reason, 120)}`,
          EXIT_ATTENTION,
        );
      }
      const text = await res.text().catch(() => '');
      if (res.status === 429 && !take429 && attempt < MAX_RATE_LIMITED) {
        // Everyone sharing the budget waits, the probe too (Sekoia's Retry-After, else 5 s).
        await this.budget.pause(parseRetryAfter(res.headers.get('retry-after')) ?? 5000);
        continue;
      }
      if (res.status === 429 && !take429)
        throw new ProbeStop('Sekoia.io keeps answering 429: try again later', EXIT_ATTENTION);
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
    }
  }

  collectionPath(sub = ''): string {
    return `/${encodeURIComponent(this.collection)}${sub}`;
  }

  /** The collection's cursor feed (row 11) with this query string. */
  feedPath(query: string): string {
    return `${feedUrl(this.base, this.collection)}?${query}`;
  }
}

export interface ProbeRow {
  row: number;
  behaviour: BehaviourName;
  title: string;
  variant: string;
  product: string;
}

export interface ProbeReport {
  collection: string;
  sekoiaHost: string;
  nonce: string;
  behaviours: ProbeRow[];
  degraded: DegradedMode[];
  /** Problems that need the operator (exit 1) or are configuration errors (exit 2). */
  problems: Array<{ what: string; exitCode: number }>;
  notes: string[];
  opencti: {
    version?: string;
    stream?: { id: string; exists: boolean; live?: boolean; name?: string };
    canRegisterConnector?: boolean;
  };
  written: string[];
  created: number;
  revoked: number;
  leftLive: string[];
  sekoiaRequests: number;
  /** The collection answered: the behaviours were probed (some may still be unknown). */
  sekoiaReached: boolean;
  profileKey?: string;
  exitCode: number;
}

export async function probeCommand(io: Io, args: readonly string[]): Promise<number> {
  const { flags, options } = parseArgs('probe', args, {
    flags: ['--json', '--yes-this-collection'],
    options: ['--collection'],
  });
  const json = flags.has('--json');
  const raw = options.get('--collection');
  if (raw === undefined)
    throw new UsageError('probe: --collection <ioc-collection--uuid> (a scratch collection) is required');
  const collection = normaliseCollectionId(raw).toLowerCase();
  if (!/^ioc-collection--[0-9a-f-]{36}$/.test(collection)) {
    throw new UsageError(
      `probe: --collection must be ioc-collection--<uuid> or a bare UUID, got ${JSON.stringify(raw)}`,
    );
  }
  const cli = cliConfig(io);
  const worker = appConfig(io, 'worker');
  const ingest = appConfig(io, 'ingest');
  if (collection === worker.sekoiaIntel.iocCollectionUuid && !flags.has('--yes-this-collection')) {
    throw new CommandError(
      `probe: ${collection} is the production collection (SEKOIA_INTEL_IOC_COLLECTION_UUID): the probe writes ` +
        'and revokes test values there. Give a scratch collection, or add --yes-this-collection if you mean it',
      EXIT_USAGE,
    );
  }
  const line = (text: string) => (json ? io.err(text) : io.out(text));
  const c = await connect(cli);
  try {
    await refuseEvictingRedis(c); // it writes test values under the shared budget and records the profile
    const report = await runProbe(line, worker, ingest, cli, collection, budgetOf(c, worker));
    if (report.sekoiaReached) {
      // Recorded whenever the collection could be probed, even partly: what was not observed stays unknown.
      const profile: SekoiaProfile = {
        version: 1,
        observedAt: new Date().toISOString(),
        sekoiaHost: report.sekoiaHost,
        collectionId: collection,
        behaviours: Object.fromEntries(
          report.behaviours.map((b) => [b.behaviour, b.variant]),
        ) as SekoiaBehaviours,
      };
      await writeProfile(c.redis, c.keys.sekoiaProfile, profile);
      report.profileKey = c.keys.sekoiaProfile;
    }
    if (json) io.json(report);
    else printReport(io, report);
    return report.exitCode;
  } finally {
    await c.close();
  }
}

async function runProbe(
  line: (t: string) => void,
  worker: AppConfig,
  ingest: AppConfig,
  cli: AppConfig,
  collection: string,
  budget: Budget,
): Promise<ProbeReport> {
  const s = worker.sekoiaIntel;
  const http = new ProbeHttp(normaliseBaseUrl(s.url), collection, s.apiKey, budget, s.timeoutMs);
  const values = probeValues(randomBytes(4).toString('hex'));
  const behaviours = unknownBehaviours() as Record<BehaviourName, string>;
  const report: ProbeReport = {
    collection,
    sekoiaHost: new URL(s.url).host,
    nonce: values.nonce,
    behaviours: [],
    degraded: [],
    problems: [],
    notes: [],
    opencti: {},
    written: [],
    created: 0,
    revoked: 0,
    leftLive: [],
    sekoiaRequests: 0,
    sekoiaReached: false,
    exitCode: EXIT_OK,
  };
  const tracker = new Tracker(http, report);
  // Whatever stops the probe (even a bug), what it made live is revoked before the error goes on.
  let failure: unknown;
  try {
    line(`probing Sekoia.io ${report.sekoiaHost}, collection ${collection} (values of run ${values.nonce})…`);
    await probeSekoia(http, tracker, values, behaviours, report, cli.sekoiaIntel.probeViewOnlyApiKey, line);
  } catch (err) {
    if (err instanceof ProbeStop) report.problems.push({ what: err.message, exitCode: err.exitCode });
    else failure = err;
  }
  try {
    if (report.sekoiaReached) await tracker.cleanUp(values);
  } catch (err) {
    if (!(err instanceof ProbeStop)) throw failure ?? err;
    report.problems.push({ what: `cleanup stopped: ${err.message}`, exitCode: EXIT_ATTENTION });
  }
  if (failure) throw failure;
  report.sekoiaRequests = http.requests;
  if (report.leftLive.length > 0) {
    report.problems.push({
      what: `${report.leftLive.length} probe indicator(s) could not be revoked: ${report.leftLive.join(', ')}`,
      exitCode: EXIT_ATTENTION,
    });
  }
  line('checking OpenCTI…');
  await probeOpenCti(ingest, report);
  report.behaviours = BEHAVIOURS.map((b) => ({
    row: BEHAVIOUR_NOTES[b].row,
    behaviour: b,
    title: BEHAVIOUR_NOTES[b].title,
    variant: behaviours[b],
    product: productResponse(b, behaviours[b]),
  }));
  report.degraded = degradedModes(behaviours as SekoiaBehaviours);
  report.exitCode = Math.max(
    EXIT_OK,
    report.degraded.length > 0 ? EXIT_ATTENTION : EXIT_OK,
    ...report.problems.map((p) => p.exitCode),
  );
  return report;
}

/** Every indicator the probe made live, so that all of them are revoked at the end whatever happens. */
class Tracker {
  private readonly live = new Map<string, string>();
  constructor(
    private readonly http: ProbeHttp,
    private readonly report: ProbeReport,
  ) {}

  /** POST …/indicators with the main key (or `key`); items made live are tracked. */
  async create(
    values: string[],
    defaults: Record<string, unknown> = {},
    key?: string,
    take429 = false,
  ): Promise<Answer> {
    for (const v of values) if (!this.report.written.includes(v)) this.report.written.push(v);
    const a = await this.http.call(
      'POST',
      this.http.collectionPath('/indicators'),
      {
        default_fields: { description: DESCRIPTION, ...defaults },
        indicators: values.map((value) => ({ value })),
      },
      key,
      take429,
    );
    if (a.status === 200) {
      for (const item of itemsOf(a)) {
        if (!item.revoked && !this.live.has(item.id)) {
          this.live.set(item.id, item.name);
          this.report.created++;
        }
      }
    }
    return a;
  }

  /** Ids this run made live and has not revoked yet. */
  liveIds(): ReadonlySet<string> {
    return new Set(this.live.keys());
  }

  async revoke(id: string): Promise<Answer> {
    const a = await this.http.call(
      'DELETE',
      this.http.collectionPath(`/indicators/${encodeURIComponent(id)}`),
    );
    if ((a.status === 200 || a.status === 404) && this.live.delete(id)) this.report.revoked++;
    return a;
  }

  /** Revokes what is still tracked live, then searches every probe value and revokes any live hit left. */
  async cleanUp(v: ProbeValues): Promise<void> {
    for (const id of [...this.live.keys()]) await this.revoke(id);
    const ours = allProbeValues(v).flatMap((x) => {
      const c = (canonicalValue(x) ?? x).toLowerCase();
      return c.includes(':') && !c.includes('.') ? [c, expandIpv6(c)] : [c];
    });
    const terms = new Set(allProbeValues(v).flatMap((x) => [x, canonicalValue(x) ?? x]));
    for (const term of terms) {
      for (const item of await this.search(term)) {
        const text = `${item.name} ${item.pattern ?? ''}`.toLowerCase();
        if (item.revoked || !ours.some((o) => text.includes(o))) continue;
        if (!this.live.has(item.id)) {
          this.live.set(item.id, item.name);
          this.report.created++;
        }
        await this.revoke(item.id);
      }
    }
    this.report.leftLive = [...this.live.entries()].map(([id, name]) => `${name} (${id})`);
  }

  /** Every hit of a `term` search (pages of 100, by `total` as well as `has_more`). */
  async search(term: string): Promise<Item[]> {
    const out: Item[] = [];
    for (let offset = 0; offset < 10_000; offset += 100) {
      const q = `?term=${encodeURIComponent(term)}&limit=100&offset=${offset}`;
      const a = await this.http.call('GET', this.http.collectionPath(`/indicators${q}`));
      if (a.status !== 200) break;
      const items = itemsOf(a);
      out.push(...items);
      const total = typeof a.json?.total === 'number' ? a.json.total : 0;
      if (items.length === 0 || (a.json?.has_more !== true && offset + items.length >= total)) break;
    }
    return out;
  }

  /** The indicator `id` as a search for `value` shows it now. */
  async reread(value: string, id: string): Promise<Item | undefined> {
    return (await this.search(value)).find((i) => i.id === id);
  }
}

function itemsOf(a: Answer): Item[] {
  const items = a.json?.items;
  if (!Array.isArray(items)) return [];
  return items
    .filter((i): i is Item => typeof i?.id === 'string')
    .map((i) => ({ ...i, revoked: i.revoked === true }));
}

const fieldsOf = (i: Item | undefined): FieldState | undefined =>
  i && { description: i.description, valid_until: i.valid_until };

async function probeSekoia(
  http: ProbeHttp,
  t: Tracker,
  v: ProbeValues,
  b: Record<BehaviourName, string>,
  report: ProbeReport,
  viewOnlyKey: string | undefined,
  line: (t: string) => void,
): Promise<void> {
  const col = await http.call('GET', http.collectionPath());
  if (col.status === 401) throw new ProbeStop('Sekoia.io refused SEKOIA_INTEL_APIKEY (401)', EXIT_USAGE);
  if (col.status === 403) {
    throw new ProbeStop('Sekoia.io: SEKOIA_INTEL_APIKEY lacks "View IOC collections" (403)', EXIT_USAGE);
  }
  if (col.status === 404) {
    throw new ProbeStop(
      `Sekoia.io: collection ${http.collection} not found (create it first, or check SEKOIA_INTEL_URL)`,
      EXIT_USAGE,
    );
  }
  if (col.status !== 200 || typeof col.json?.id !== 'string') {
    throw new ProbeStop(
      `Sekoia.io: unexpected answer to GET collection (HTTP ${col.status}): check SEKOIA_INTEL_URL`,
      EXIT_USAGE,
    );
  }
  report.sekoiaReached = true;
  const count = await http.call('GET', '/count-total-iocs');
  const full =
    count.status === 200 && typeof count.json?.count === 'number' && count.json.count >= count.json.max;

  // Row 7 needs no room: a write with a key that may only view.
  if (viewOnlyKey) {
    line('row 7: body of a permission 403');
    const a = await t.create([v.forbidden], {}, viewOnlyKey);
    b.forbiddenBody = classifyForbiddenBody(a.status, a.contentType, a.text);
    if (a.status === 200)
      report.notes.push('SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY may manage IOC collections: row 7 not observed');
    else if (a.status === 401)
      report.notes.push('SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY was refused (401): row 7 not observed');
  } else {
    report.notes.push(
      'SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY not set: the body of a permission 403 (row 7) not observed',
    );
  }

  if (full) {
    // Row 9 is only observable now; nothing else can be written.
    line(
      `the community IOC quota is used up (${count.json.count} of ${count.json.max}): only that answer is observed`,
    );
    // A 429 here is taken as the answer: the quota may well be refused with it (then the product cannot tell
    // it from rate limiting, which the report shows as that variant).
    const a = await t.create([v.quota], {}, undefined, true);
    b.quotaFull = a.status === 200 ? 'unknown' : classifyQuotaFull(a.status, a.contentType, a.text);
    report.notes.push(
      'the quota is full: rows 1-6, 8 and 10 could not be observed (no value can be created)',
    );
    return;
  }
  report.notes.push(
    count.status === 200
      ? `quota: ${count.json?.count} of ${count.json?.max} IOCs used, so its answer when full (row 9) is not observable`
      : `count-total-iocs answered HTTP ${count.status}: row 9 not observable`,
  );

  const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
  const one = async (value: string, defaults: Record<string, unknown> = {}) => {
    const a = await t.create([value], defaults);
    if (a.status !== 200) {
      throw new ProbeStop(
        `Sekoia.io refused a plain create (HTTP ${a.status}: ${short(a.text, 120)})`,
        EXIT_ATTENTION,
      );
    }
    const item = itemsOf(a)[0];
    if (!item)
      throw new ProbeStop(`Sekoia.io answered a create of ${value} without the indicator`, EXIT_ATTENTION);
    return item;
  };

  // Row 1: names of created items (matched to what was sent by their pattern, whatever the order).
  line('row 1: names of created items');
  const batch = await t.create([v.md5, v.sha256, v.ipv6]);
  if (batch.status === 200) {
    const items = itemsOf(batch);
    const has = (i: Item, s: string) =>
      `${i.pattern ?? ''} ${i.name}`.toLowerCase().includes(s.toLowerCase());
    const md5 = items.find((i) => has(i, v.md5));
    const sha = items.find((i) => has(i, v.sha256));
    const ip = items.find((i) => i !== md5 && i !== sha);
    if (md5 && sha && ip)
      b.createName = classifyCreateName(v, { md5: md5.name, sha256: sha.name, ipv6: ip.name });
  }

  // Row 2: PUT with nulls.
  line('row 2: PUT with null fields');
  const n = await one(v.putNull, { valid_until: inDays(30) });
  const nullAnswer = await http.call('PUT', http.collectionPath(`/indicators/${n.id}`), {
    description: null,
    valid_until: null,
  });
  b.putNull = classifyPutNull(nullAnswer.status, fieldsOf(await t.reread(v.putNull, n.id)), fieldsOf(n)!);

  // Row 3: PUT naming one field.
  line('row 3: PUT keeps or clears omitted fields');
  const o = await one(v.putOmitted, { valid_until: inDays(30) });
  const omitted = await http.call('PUT', http.collectionPath(`/indicators/${o.id}`), {
    valid_until: inDays(60),
  });
  b.putOmitted = classifyPutOmitted(
    omitted.status,
    fieldsOf(await t.reread(v.putOmitted, o.id)),
    o.description ?? DESCRIPTION,
  );

  // Row 4: a page of a listing that has several (the collection now holds at least 5 indicators).
  line('row 4: has_more');
  b.hasMore = classifyHasMore(
    (await http.call('GET', http.collectionPath('/indicators?limit=1&offset=0'))).json,
  );

  // Row 5: create, revoke, create again.
  line('row 5: re-import of a revoked value');
  const first = await one(v.reimport);
  const r1 = await t.revoke(first.id);
  if (r1.status === 200) {
    const again = await t.create([v.reimport]);
    b.reimportRevoked =
      again.status === 200 ? classifyReimportRevoked(first.id, itemsOf(again)[0]) : 'unknown';
  }

  // Row 6: revoke twice.
  line('row 6: DELETE of a revoked indicator');
  const twice = await one(v.revokeTwice);
  if ((await t.revoke(twice.id)).status === 200) {
    b.repeatRevoke = classifyRepeatRevoke((await t.revoke(twice.id)).status);
  }

  // Row 8: a custom kill chain, then (if refused) a MITRE ATT&CK one.
  line('row 8: kill_chain_phases');
  const custom = await t.create([v.killChain], {
    kill_chain_phases: [{ kill_chain_name: 'octi-sekoia-probe', phase_name: 'octi-sekoia-probe-phase' }],
  });
  const known =
    custom.status === 200
      ? undefined
      : await t.create([v.killChainKnown], {
          kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'initial-access' }],
        });
  b.killChainPhases = classifyKillChain(custom.status, known?.status);

  // Row 10: a middle substring, and the whole value in upper case.
  line('row 10: term search');
  const term = await one(v.term);
  const found = async (q: string) => (await t.search(q)).some((i) => i.id === term.id);
  b.termSearch = classifyTermSearch(await found(v.term.slice(6, -6)), await found(v.term.toUpperCase()));

  line('row 11: cursor feed of the collection');
  b.collectionFeed = await probeFeed(
    {
      getFeed: (query) => http.call('GET', http.feedPath(query)),
      create: async (value, defaults) => {
        const a = await t.create([value], defaults);
        return a.status === 200 ? (itemsOf(a)[0] as unknown as Record<string, unknown>) : undefined;
      },
      revoke: async (id) => (await t.revoke(id)).status,
      edit: async (id, fields) =>
        (await http.call('PUT', http.collectionPath(`/indicators/${encodeURIComponent(id)}`), fields)).status,
      ownIds: () => t.liveIds(),
      notes: report.notes,
    },
    v,
    inDays,
  );
}

async function probeOpenCti(ingest: AppConfig, report: ProbeReport): Promise<void> {
  const client = createOpenCtiClient({
    url: ingest.opencti.url,
    token: ingest.opencti.token,
    userAgent: 'octi-sekoia-cli/probe',
    timeoutMs: 30_000,
  });
  const streamId = ingest.connector.liveStreamId;
  try {
    const { version } = await client.about();
    report.opencti.version = version;
    if (isVersionBelow(version, TESTED_OPENCTI_VERSION)) {
      report.notes.push(
        `OpenCTI ${version} is older than ${TESTED_OPENCTI_VERSION}, the oldest version this connector is tested against`,
      );
    }
    const stream = await client.streamCollection(streamId);
    report.opencti.stream = stream
      ? { id: streamId, exists: true, live: stream.live, name: stream.name }
      : { id: streamId, exists: false };
    if (!stream) {
      report.problems.push({
        what: `OpenCTI: live stream ${streamId} not found (CONNECTOR_LIVE_STREAM_ID, or the token's user cannot see it)`,
        exitCode: EXIT_USAGE,
      });
    } else if (!stream.live) {
      report.problems.push({
        what: `OpenCTI: live stream ${streamId} is stopped: start it in OpenCTI`,
        exitCode: EXIT_ATTENTION,
      });
    }
    const { capabilities } = await client.me();
    const can = capabilities.includes('BYPASS') || capabilities.includes('CONNECTORAPI');
    report.opencti.canRegisterConnector = can;
    if (!can) {
      report.problems.push({
        what: 'OpenCTI: the token\'s user lacks "Connectors API" (CONNECTORAPI): it cannot register the connector',
        exitCode: EXIT_USAGE,
      });
    }
  } catch (err) {
    const config = err instanceof OpenCtiAuthError;
    report.problems.push({
      what: err instanceof Error ? err.message : String(err),
      exitCode: config ? EXIT_USAGE : EXIT_ATTENTION,
    });
  }
}

function printReport(io: Io, r: ProbeReport): void {
  const w1 = Math.max(...r.behaviours.map((b) => b.title.length));
  const w2 = Math.max(8, ...r.behaviours.map((b) => b.variant.length));
  io.out(`${' #'}  ${'behaviour'.padEnd(w1)}  ${'observed'.padEnd(w2)}  what the product does`);
  for (const b of r.behaviours) {
    io.out(`${String(b.row).padStart(2)}  ${b.title.padEnd(w1)}  ${b.variant.padEnd(w2)}  ${b.product}`);
  }
  io.out('');
  const o = r.opencti;
  io.out(
    `OpenCTI: version ${o.version ?? 'unknown'}; stream ${o.stream?.id ?? '?'} ` +
      `${o.stream === undefined ? 'not checked' : !o.stream.exists ? 'NOT FOUND' : o.stream.live ? 'live' : 'STOPPED'}; ` +
      `token's user ${o.canRegisterConnector === undefined ? 'not checked' : o.canRegisterConnector ? 'can register a connector' : 'CANNOT register a connector'}`,
  );
  io.out(
    `Sekoia.io: ${r.sekoiaRequests} requests within the shared budget; ${r.created} probe indicator(s) made live, ` +
      `${r.revoked} revoked, ${r.leftLive.length} left live`,
  );
  if (r.profileKey) io.out(`profile recorded at ${r.profileKey} (workers read it at start)`);
  for (const n of r.notes) io.out(`note: ${n}`);
  for (const d of r.degraded) io.out(`degraded: ${d.mode} — ${d.why}`);
  for (const p of r.problems) io.out(`problem: ${p.what}`);
  const attention = [
    ...r.degraded.map((d) => d.mode),
    ...(r.problems.some((p) => p.exitCode === EXIT_ATTENTION) ? ['see the problems above'] : []),
  ];
  if (r.exitCode === EXIT_OK) io.out('verdict: everything the product needs works');
  else if (r.exitCode === EXIT_ATTENTION) io.out(`verdict: attention — ${attention.join(', ')}`);
  else io.out('verdict: configuration error (see the problems above)');
}
