// The single list of settings: env name, config.yml key, default, who needs it, parser, documentation.
// The loader, the README table and the sample files are all derived from it.

import { LOG_LEVELS, type LogLevel } from '@octi-sekoia/logger';
import {
  DEFAULT_DESCRIPTION_TEMPLATE,
  DESCRIPTION_PLACEHOLDERS,
  MAX_DESCRIPTION_CODE_POINTS,
  VALID_UNTIL_ROUNDINGS,
  type ValidUntilRounding,
} from '@octi-sekoia/model';
import { EXTRACTION_MODES, type ExtractionMode } from '@octi-sekoia/stix';
import type { Raw } from './values.ts';
import * as v from './values.ts';

export type AppName = 'ingest' | 'worker' | 'dashboard' | 'cli';
export const APPS: readonly AppName[] = ['ingest', 'worker', 'dashboard', 'cli'];

export interface AppConfig {
  opencti: {
    /** Normalised, no trailing slash. `''` when the app does not need it and it is not set. */
    url: string;
    token: string;
    sslVerify: boolean;
  };
  connector: {
    id: string;
    type: 'STREAM';
    name: string;
    /** CONNECTOR_SCOPE split on commas (as pycti does). */
    scope: string[];
    liveStreamId: string;
    liveStreamListenDelete: boolean;
    liveStreamNoDependencies: boolean;
    liveStreamWithInferences: boolean;
    /** Epoch milliseconds; first run starts from `<ms>-0` (pycti). */
    liveStreamStartTimestamp?: number;
    /** ISO date (UTC, `Z`) for `?recover=`; `false` = no recovery (pycti's `no`/`none`/`false`); unset = now. */
    liveStreamRecoverIsoDate?: string | false;
    logLevel: LogLevel;
  };
  sekoiaIntel: {
    /** API base without trailing slash, e.g. `https://api.sekoia.io`; append `/v2/inthreat/ioc-collections`. */
    url: string;
    apiKey: string;
    /** Always `ioc-collection--<uuid>` (lower case). */
    iocCollectionUuid: string;
    extractionMode: ExtractionMode;
    descriptionTemplate: string;
    validUntilRounding: ValidUntilRounding;
    requestsPerSecond: number;
    requestBurst: number;
    timeoutMs: number;
    batchSize: number;
    batchLingerMs: number;
    /** `pnpm cli probe` only: a key with "View IOC collections" but not "Manage", to see a permission 403. */
    probeViewOnlyApiKey?: string;
  };
  redis: {
    /** REDIS_URL (the default when no topology is given); ignored when REDIS_SENTINELS or REDIS_CLUSTER_NODES is set. */
    url: string;
    /** Sentinel topology: REDIS_SENTINELS + REDIS_SENTINEL_MASTER (+ REDIS_SENTINEL_PASSWORD). */
    sentinels?: { host: string; port: number }[];
    sentinelMaster?: string;
    sentinelPassword?: string;
    /** Cluster topology: REDIS_CLUSTER_NODES (seed nodes). */
    clusterNodes?: { host: string; port: number }[];
    /** ACL user of the data nodes (every topology; overrides a user in REDIS_URL). */
    username?: string;
    password?: string;
    /** REDIS_TLS or a `rediss://` URL. */
    tls: boolean;
    tlsCaFile?: string;
    keyPrefix: string;
    /** Cap on the total bytes of the connector's dead letters (0 = none). */
    deadLettersMaxBytes: number;
  };
  worker: {
    concurrency: number;
    retryAttempts: number;
    backoffMs: number;
    backoffMaxMs: number;
    transientRetryWindowS: number;
    httpPort: number;
  };
  ingest: {
    batchSize: number;
    highWatermark: number;
    lowWatermark: number;
    maxEventBytes: number;
    heartbeatTimeoutS: number;
    pingIntervalS: number;
    httpPort: number;
    /** Internal (see VarSpec.internal). */
    lingerMs: number;
    leaseTtlMs: number;
    pollMs: number;
    shutdownGraceMs: number;
    streamBackoffMs: number;
    streamBackoffMaxMs: number;
  };
  /** The worker's internal knobs (`TUNING_*`, see WORKER_TUNING). */
  tuning: WorkerTuning;
  dashboard: {
    host: string;
    port: number;
    /** `/` or `/a/b` (leading slash, no trailing slash). */
    basePath: string;
    username?: string;
    password?: string;
    noAuth: boolean;
    readOnly: boolean;
  };
}

/**
 * The worker's internal knobs (`TUNING_*`): not part of the supported configuration (VarSpec.internal). Each is
 * documented by its entry in WORKER_TUNING below. `writeHorizonMs` unset: the worker derives it from the timeout.
 */
export interface WorkerTuning {
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  valueLockMs: number;
  writeHorizonMs?: number;
  probeIntervalMs: number;
  usageIntervalMs: number;
  usageFullIntervalMs: number;
  sweepRecheckMs: number;
  inlineMaxActive: number;
  budgetTakers: number;
  drainConcurrency: number;
  drainBatch: number;
  drainIdleMs: number;
  drainSettleMs: number;
  handBackAfterMs: number;
  shutdownGraceMs: number;
  defaultRetryAfterMs: number;
  lostAnswerSearchDelayMs: number;
  configurationRetryMs: number;
  failedSweepIntervalMs: number;
  tombstonePruneIntervalMs: number;
  tombstoneMinAgeMs: number;
  gaugeIntervalMs: number;
  collectionReadPollMs: number;
}

export interface VarSpec {
  env: string;
  /** config.yml key, `section.name`. */
  yml: string;
  /** Where the parsed value goes in AppConfig (`section.camelName`). */
  path: string;
  /** Raw default (parsed like any other value); undefined = no default. */
  default?: string | number | boolean;
  requiredFor: AppName[];
  usedBy: AppName[];
  secret?: boolean;
  doc: string;
  /** What a valid value looks like, for error lines. */
  expected: string;
  /** Value shown uncommented in the sample files (required settings). */
  sample?: string;
  /**
   * Not part of the supported configuration: validated like any setting, but left out of the README table and
   * the sample files (tests and incident work set them); `cli check-config --internal` shows them.
   */
  internal?: true;
  parse(raw: Raw): unknown;
}

const ALL: AppName[] = [...APPS];
const INGEST: AppName[] = ['ingest'];
const WORKER: AppName[] = ['worker'];
const DASHBOARD: AppName[] = ['dashboard'];

const BOOL = 'true or false (any case)';
const intExpected = (min: number, max?: number) =>
  max === undefined ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
const PORT = 'a TCP port from 0 to 65535 (0 = any free port)';

/** `lockDurationMs` → `TUNING_LOCK_DURATION_MS` (yml `tuning.lock_duration_ms`). */
function tuningVar(key: keyof WorkerTuning, def: number | undefined, doc: string): VarSpec {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return {
    env: `TUNING_${snake.toUpperCase()}`,
    yml: `tuning.${snake}`,
    path: `tuning.${key}`,
    ...(def !== undefined ? { default: def } : {}),
    requiredFor: [],
    usedBy: WORKER,
    internal: true,
    doc,
    expected: intExpected(1),
    parse: v.int(1),
  };
}

/** The worker's internal knobs with safe defaults (docs: WorkerTuning). */
const WORKER_TUNING: readonly VarSpec[] = [
  tuningVar('lockDurationMs', 60_000, 'BullMQ job lock (renewed every half of it while a job runs).'),
  tuningVar('stalledIntervalMs', 30_000, 'How often BullMQ looks for jobs of crashed workers.'),
  tuningVar(
    'maxStalledCount',
    10,
    'Stall recoveries before BullMQ fails a job (a crash must never dead-letter one).',
  ),
  tuningVar('valueLockMs', 60_000, 'Per-value claim lock of the sync engine.'),
  tuningVar(
    'writeHorizonMs',
    undefined,
    'How long a write intent is trusted to be in flight; unset: max(120 s, 2 × SEKOIA_INTEL_TIMEOUT_MS + 10 s).',
  ),
  tuningVar('probeIntervalMs', 5_000, 'Self-probe period while the circuit is open.'),
  tuningVar('usageIntervalMs', 60_000, 'count-total-iocs period.'),
  tuningVar('usageFullIntervalMs', 15_000, 'count-total-iocs period while the quota is full.'),
  tuningVar(
    'sweepRecheckMs',
    1_000,
    "A sweep marker whose generation still has jobs is looked at again after this (values wait for their recovery's sweep); while those jobs are running, the marker polls for up to this long in the worker, holding one of its job slots.",
  ),
  tuningVar(
    'inlineMaxActive',
    4,
    'A job reconciles its own values while at most this many jobs run in the process.',
  ),
  tuningVar('budgetTakers', 4, 'Callers of one process polling the shared Redis budget at once.'),
  tuningVar(
    'drainConcurrency',
    8,
    'Parallel claims of the background drainer of the dirty set (create batches of every field group fill while they wait for their budget tokens).',
  ),
  tuningVar('drainBatch', 500, 'Values per claim of the background drainer.'),
  tuningVar('drainIdleMs', 250, 'Longest idle sleep of the background drainer.'),
  tuningVar('drainSettleMs', 1_000, 'During a burst, due values wait up to this long for a full claim.'),
  tuningVar('handBackAfterMs', 8_000, 'SIGTERM: in-flight jobs are handed back to the queue after this.'),
  tuningVar('shutdownGraceMs', 25_000, 'SIGTERM: hard deadline of the whole shutdown (exit 1 past it).'),
  tuningVar('defaultRetryAfterMs', 30_000, '429 without Retry-After: budget pause.'),
  tuningVar('lostAnswerSearchDelayMs', 5_000, 'A create whose answer was lost is searched for after this.'),
  tuningVar(
    'configurationRetryMs',
    5_000,
    'Values hit by a configuration error (or a full quota) are due again after this.',
  ),
  tuningVar(
    'failedSweepIntervalMs',
    60_000,
    'Failed jobs left behind by a crash are moved to the dead letters this often.',
  ),
  tuningVar(
    'tombstonePruneIntervalMs',
    60_000,
    'Tombstones no pending job, dead letter or re-read can be refused by any more are dropped this often (packages/sync prune-tombstones.lua).',
  ),
  tuningVar(
    'tombstoneMinAgeMs',
    600_000,
    "Least age of a dropped tombstone, a backstop: late writes are fenced where they are written (ingest batches by the reader lease, a worker's record-desired by the job lock).",
  ),
  tuningVar(
    'gaugeIntervalMs',
    5_000,
    'Gauges read from Redis (dirty set, budget pause) are refreshed this often.',
  ),
  tuningVar('collectionReadPollMs', 200, 'How often the collection-read watcher looks for a new generation.'),
];

export const VARS: readonly VarSpec[] = [
  // --- OpenCTI (Python connector / pycti) ---
  {
    env: 'OPENCTI_URL',
    yml: 'opencti.url',
    path: 'opencti.url',
    requiredFor: INGEST,
    usedBy: INGEST,
    doc: 'URL of the OpenCTI platform. Also used by the default description template.',
    expected: 'an http(s) URL such as https://opencti.example.com',
    sample: 'http://localhost:8080',
    parse: v.httpBaseUrl,
  },
  {
    env: 'OPENCTI_TOKEN',
    yml: 'opencti.token',
    path: 'opencti.token',
    requiredFor: INGEST,
    usedBy: INGEST,
    secret: true,
    doc: "API token of the connector's OpenCTI user.",
    expected: 'the OpenCTI API token (without "Bearer ")',
    sample: 'ChangeMe',
    parse: v.credential,
  },
  {
    env: 'OPENCTI_SSL_VERIFY',
    yml: 'opencti.ssl_verify',
    path: 'opencti.sslVerify',
    default: true,
    requiredFor: [],
    usedBy: INGEST,
    doc: "Verify OpenCTI's TLS certificate. pycti defaults to false; this connector verifies unless told not to.",
    expected: BOOL,
    parse: v.bool,
  },
  // --- Connector (Python connector / pycti) ---
  {
    env: 'CONNECTOR_ID',
    yml: 'connector.id',
    path: 'connector.id',
    requiredFor: ALL,
    usedBy: ALL,
    doc: "Unique id of this connector instance (any UUID; reuse the Python connector's to keep its registration). Namespaces every Redis key.",
    expected: 'a UUID such as 0d2b6c5e-1f3a-4c7e-9b8d-2a6f4e1c3b5a',
    sample: 'ChangeMe',
    parse: v.uuid,
  },
  {
    env: 'CONNECTOR_TYPE',
    yml: 'connector.type',
    path: 'connector.type',
    default: 'STREAM',
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Connector type; only `STREAM`.',
    expected: 'STREAM',
    parse: v.connectorType,
  },
  {
    env: 'CONNECTOR_NAME',
    yml: 'connector.name',
    path: 'connector.name',
    requiredFor: INGEST,
    usedBy: INGEST,
    doc: 'Name shown in OpenCTI (at least 2 characters).',
    expected: 'a name of at least 2 characters',
    sample: 'Sekoia.io',
    parse: v.connectorName,
  },
  {
    env: 'CONNECTOR_SCOPE',
    yml: 'connector.scope',
    path: 'connector.scope',
    requiredFor: INGEST,
    usedBy: INGEST,
    doc: 'Scope declared to OpenCTI, comma-separated (a YAML list is accepted too).',
    expected: 'one or more comma-separated names such as Indicator',
    sample: 'Indicator',
    parse: v.scope,
  },
  {
    env: 'CONNECTOR_LIVE_STREAM_ID',
    yml: 'connector.live_stream_id',
    path: 'connector.liveStreamId',
    requiredFor: INGEST,
    usedBy: INGEST,
    doc: 'Id of the live stream created in OpenCTI (Data sharing → Live streams).',
    expected: 'the live stream id (letters, digits, `.`, `_`, `-`)',
    sample: 'ChangeMe',
    parse: v.streamId,
  },
  {
    env: 'CONNECTOR_LIVE_STREAM_LISTEN_DELETE',
    yml: 'connector.live_stream_listen_delete',
    path: 'connector.liveStreamListenDelete',
    default: true,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Receive delete events. false is allowed but warned about: deletions then never reach Sekoia.io.',
    expected: BOOL,
    parse: v.bool,
  },
  {
    env: 'CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES',
    yml: 'connector.live_stream_no_dependencies',
    path: 'connector.liveStreamNoDependencies',
    default: true,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Ask the stream not to send dependencies (they are skipped anyway).',
    expected: BOOL,
    parse: v.bool,
  },
  {
    env: 'CONNECTOR_LIVE_STREAM_WITH_INFERENCES',
    yml: 'connector.live_stream_with_inferences',
    path: 'connector.liveStreamWithInferences',
    default: false,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Include inferred indicators (pycti setting).',
    expected: BOOL,
    parse: v.bool,
  },
  {
    env: 'CONNECTOR_LIVE_STREAM_START_TIMESTAMP',
    yml: 'connector.live_stream_start_timestamp',
    path: 'connector.liveStreamStartTimestamp',
    requiredFor: [],
    usedBy: INGEST,
    doc: 'First run only: start the stream at this epoch time in milliseconds instead of the beginning (pycti setting).',
    expected: 'epoch milliseconds (digits only), e.g. 1732615205120',
    parse: v.epochMs,
  },
  {
    env: 'CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE',
    yml: 'connector.live_stream_recover_iso_date',
    path: 'connector.liveStreamRecoverIsoDate',
    requiredFor: [],
    usedBy: INGEST,
    doc: "First run only: replay the snapshot of matching objects up to this date (default: OpenCTI's current stream position); `no` = no replay (pycti setting).",
    expected: 'an ISO 8601 date such as 2025-01-31T00:00:00Z, or no/none/false',
    parse: v.recoverDate,
  },
  {
    env: 'CONNECTOR_LOG_LEVEL',
    yml: 'connector.log_level',
    path: 'connector.logLevel',
    default: 'info',
    requiredFor: [],
    usedBy: ALL,
    doc: 'Log level: `debug`, `info`, `warn`/`warning`, `error`, `critical` (also `trace`, `fatal`).',
    expected: `one of ${Object.keys(LOG_LEVELS).join(', ')}`,
    parse: v.logLevel,
  },
  // --- Sekoia.io (Python connector) ---
  {
    env: 'SEKOIA_INTEL_URL',
    yml: 'sekoia_intel.url',
    path: 'sekoiaIntel.url',
    requiredFor: WORKER,
    usedBy: WORKER,
    doc: "Sekoia.io API base: `https://api.sekoia.io` or a regional one such as `https://app.fra2.sekoia.io/api`. A URL ending in `/v2/inthreat/ioc-collections` (the Python connector's form) is accepted.",
    expected: 'an http(s) API base such as https://api.sekoia.io',
    sample: 'https://api.sekoia.io',
    parse: v.sekoiaBaseUrl,
  },
  {
    env: 'SEKOIA_INTEL_APIKEY',
    yml: 'sekoia_intel.apikey',
    path: 'sekoiaIntel.apiKey',
    requiredFor: WORKER,
    usedBy: WORKER,
    secret: true,
    doc: 'Sekoia.io API key with the "View IOC collections" and "Manage IOC collections" permissions.',
    expected: 'the Sekoia.io API key (without "Bearer ")',
    sample: 'ChangeMe',
    parse: v.credential,
  },
  {
    env: 'SEKOIA_INTEL_IOC_COLLECTION_UUID',
    yml: 'sekoia_intel.ioc_collection_uuid',
    path: 'sekoiaIntel.iocCollectionUuid',
    requiredFor: WORKER,
    usedBy: ['worker', 'ingest'],
    doc: 'IOC collection to keep in sync (create it in Sekoia.io first): `ioc-collection--<uuid>` or the bare UUID.',
    expected: 'ioc-collection--<uuid> or a bare UUID',
    sample: 'ChangeMe',
    parse: v.iocCollectionId,
  },
  // --- Sekoia.io (this connector) ---
  {
    env: 'SEKOIA_INTEL_EXTRACTION_MODE',
    yml: 'sekoia_intel.extraction_mode',
    path: 'sekoiaIntel.extractionMode',
    default: 'strict',
    requiredFor: [],
    usedBy: ['ingest', 'worker'],
    doc: 'Which STIX patterns export values: `strict` (only what the pattern guarantees) or `lenient`.',
    expected: v.alternatives(EXTRACTION_MODES),
    parse: v.oneOf(EXTRACTION_MODES),
  },
  {
    env: 'SEKOIA_INTEL_DESCRIPTION_TEMPLATE',
    yml: 'sekoia_intel.description_template',
    path: 'sekoiaIntel.descriptionTemplate',
    default: DEFAULT_DESCRIPTION_TEMPLATE,
    requiredFor: [],
    usedBy: ['ingest', 'worker'],
    doc: `IOC description; fields: ${DESCRIPTION_PLACEHOLDERS.map((f) => `\`{${f}}\``).join(', ')}. Truncated to ${MAX_DESCRIPTION_CODE_POINTS} characters.`,
    expected: `text with only the fields ${DESCRIPTION_PLACEHOLDERS.map((f) => `{${f}}`).join(', ')}`,
    parse: v.descriptionTemplate,
  },
  {
    env: 'SEKOIA_INTEL_VALID_UNTIL_ROUNDING',
    yml: 'sekoia_intel.valid_until_rounding',
    path: 'sekoiaIntel.validUntilRounding',
    default: 'none',
    requiredFor: [],
    usedBy: ['ingest', 'worker'],
    doc: 'Round `valid_until` up to the minute/hour/day so more IOCs share fields and batch together (`none` keeps it exact).',
    expected: v.alternatives(VALID_UNTIL_ROUNDINGS),
    parse: v.oneOf(VALID_UNTIL_ROUNDINGS),
  },
  {
    env: 'SEKOIA_INTEL_REQUESTS_PER_SECOND',
    yml: 'sekoia_intel.requests_per_second',
    path: 'sekoiaIntel.requestsPerSecond',
    default: 5,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Request budget per second for this API key, shared by every worker (and connector) using it.',
    expected: 'a number > 0 (at most 1000)',
    parse: v.positiveNumber(1000),
  },
  {
    env: 'SEKOIA_INTEL_REQUEST_BURST',
    yml: 'sekoia_intel.request_burst',
    path: 'sekoiaIntel.requestBurst',
    default: 5,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Requests that may be sent at once when the budget is full.',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY',
    yml: 'sekoia_intel.probe_view_only_apikey',
    path: 'sekoiaIntel.probeViewOnlyApiKey',
    requiredFor: [],
    usedBy: ['cli'],
    secret: true,
    doc: '`pnpm cli probe` only: a Sekoia.io API key with "View IOC collections" but **not** "Manage IOC collections", so the probe can see what a permission 403 looks like. Unset: that behaviour is reported unknown.',
    expected: 'a Sekoia.io API key (without "Bearer ")',
    parse: v.credential,
  },
  {
    env: 'SEKOIA_INTEL_TIMEOUT_MS',
    yml: 'sekoia_intel.timeout_ms',
    path: 'sekoiaIntel.timeoutMs',
    default: 30000,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Timeout of one Sekoia.io request, in milliseconds.',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'SEKOIA_INTEL_BATCH_SIZE',
    yml: 'sekoia_intel.batch_size',
    path: 'sekoiaIntel.batchSize',
    default: 100,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Most values created in one request (Sekoia.io accepts 100).',
    expected: intExpected(1, 100),
    parse: v.int(1, 100),
  },
  {
    env: 'SEKOIA_INTEL_BATCH_LINGER_MS',
    yml: 'sekoia_intel.batch_linger_ms',
    path: 'sekoiaIntel.batchLingerMs',
    default: 200,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'How long a create batch waits to fill, in milliseconds, from its oldest value (the batches are shared by every worker of the connector, one per field group, in Redis).',
    expected: intExpected(0),
    parse: v.int(0),
  },
  // --- Redis ---
  {
    env: 'REDIS_URL',
    yml: 'redis.url',
    path: 'redis.url',
    default: 'redis://127.0.0.1:6379',
    requiredFor: [],
    usedBy: ALL,
    doc: 'Standalone Redis: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Set exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES (none: this default). Redis must not evict keys (`maxmemory-policy noeviction`).',
    expected: 'redis://host:port[/db] or rediss://host:port[/db]',
    parse: v.redisUrl,
  },
  {
    env: 'REDIS_SENTINELS',
    yml: 'redis.sentinels',
    path: 'redis.sentinels',
    requiredFor: [],
    usedBy: ALL,
    doc: 'Redis behind Sentinel: the sentinels, `host:port,host:port,…` (with REDIS_SENTINEL_MASTER). The apps follow failovers. REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS apply to the master.',
    expected: 'host:port,host:port,… (IPv6 as [addr]:port)',
    parse: v.hostPortList,
  },
  {
    env: 'REDIS_SENTINEL_MASTER',
    yml: 'redis.sentinel_master',
    path: 'redis.sentinelMaster',
    requiredFor: [],
    usedBy: ALL,
    doc: 'Name of the master group the sentinels monitor (`sentinel monitor <name> …`); only with REDIS_SENTINELS.',
    expected: 'a master name (letters, digits, `.`, `_`, `-`)',
    parse: v.sentinelMasterName,
  },
  {
    env: 'REDIS_SENTINEL_PASSWORD',
    yml: 'redis.sentinel_password',
    path: 'redis.sentinelPassword',
    requiredFor: [],
    usedBy: ALL,
    secret: true,
    doc: "Password of the sentinels themselves (their `requirepass`), when they have one; only with REDIS_SENTINELS. The master's password is REDIS_PASSWORD.",
    expected: "the sentinels' password",
    parse: v.anyText,
  },
  {
    env: 'REDIS_CLUSTER_NODES',
    yml: 'redis.cluster_nodes',
    path: 'redis.clusterNodes',
    requiredFor: [],
    usedBy: ALL,
    doc: 'Redis Cluster: some of its nodes, `host:port,host:port,…` (the apps discover the others). REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS apply to every node. No master may evict keys.',
    expected: 'host:port,host:port,… (IPv6 as [addr]:port)',
    parse: v.hostPortList,
  },
  {
    env: 'REDIS_USERNAME',
    yml: 'redis.username',
    path: 'redis.username',
    requiredFor: [],
    usedBy: ALL,
    doc: 'Redis ACL user for every data node, whatever the topology (overrides a user in REDIS_URL). Unset: `default`.',
    expected: 'a Redis ACL user name',
    parse: v.credential,
  },
  {
    env: 'REDIS_PASSWORD',
    yml: 'redis.password',
    path: 'redis.password',
    requiredFor: [],
    usedBy: ALL,
    secret: true,
    doc: 'Redis password for every data node, whatever the topology (overrides one in REDIS_URL).',
    expected: 'the Redis password',
    parse: v.anyText,
  },
  {
    env: 'REDIS_TLS',
    yml: 'redis.tls',
    path: 'redis.tls',
    default: false,
    requiredFor: [],
    usedBy: ALL,
    doc: 'Connect to Redis over TLS: every data node, and the sentinels too (implied by a `rediss://` REDIS_URL).',
    expected: BOOL,
    parse: v.bool,
  },
  {
    env: 'REDIS_TLS_CA_FILE',
    yml: 'redis.tls_ca_file',
    path: 'redis.tlsCaFile',
    requiredFor: [],
    usedBy: ALL,
    doc: "PEM file of the CA that signed Redis' certificate.",
    expected: 'the path of a readable PEM file',
    parse: v.readableFile,
  },
  {
    env: 'REDIS_KEY_PREFIX',
    yml: 'redis.key_prefix',
    path: 'redis.keyPrefix',
    default: 'octi-sekoia',
    requiredFor: [],
    usedBy: ALL,
    doc: 'Every key and queue of this connector lives under `{<prefix>:<connector id>}` (one Redis Cluster hash tag).',
    expected: 'letters, digits, `_`, `.`, `-`, segments joined by `:`',
    parse: v.keyPrefix,
  },
  {
    env: 'REDIS_DEAD_LETTERS_MAX_BYTES',
    yml: 'redis.dead_letters_max_bytes',
    path: 'redis.deadLettersMaxBytes',
    default: 67108864,
    requiredFor: [],
    usedBy: [...INGEST, ...WORKER],
    doc: "Cap on the total size of the connector's dead letters in Redis (0 = no cap). At the cap a new dead letter is counted and logged (warn) instead of stored; the stream and the workers go on.",
    expected: intExpected(0),
    parse: v.int(0),
  },
  // --- Worker ---
  {
    env: 'WORKER_CONCURRENCY',
    yml: 'worker.concurrency',
    path: 'worker.concurrency',
    default: 50,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Jobs one worker process handles at once.',
    expected: intExpected(1, 10000),
    parse: v.int(1, 10000),
  },
  {
    env: 'WORKER_RETRY_ATTEMPTS',
    yml: 'worker.retry_attempts',
    path: 'worker.retryAttempts',
    default: 20,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Attempts before a job becomes a dead letter (transient errors keep retrying within the retry window).',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'WORKER_BACKOFF_MS',
    yml: 'worker.backoff_ms',
    path: 'worker.backoffMs',
    default: 1000,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Base of the exponential retry backoff (with jitter), in milliseconds.',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'WORKER_BACKOFF_MAX_MS',
    yml: 'worker.backoff_max_ms',
    path: 'worker.backoffMaxMs',
    default: 300000,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Longest retry backoff, in milliseconds (≥ WORKER_BACKOFF_MS).',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'WORKER_TRANSIENT_RETRY_WINDOW_S',
    yml: 'worker.transient_retry_window_s',
    path: 'worker.transientRetryWindowS',
    default: 3600,
    requiredFor: [],
    usedBy: WORKER,
    doc: 'Network errors, timeouts and 5xx never dead-letter a job within this many seconds of its first attempt.',
    expected: intExpected(0),
    parse: v.int(0),
  },
  {
    env: 'WORKER_HTTP_PORT',
    yml: 'worker.http_port',
    path: 'worker.httpPort',
    default: 9102,
    requiredFor: [],
    usedBy: WORKER,
    doc: "Port of the worker's `/metrics`, `/healthz`, `/readyz` (0 = any free port).",
    expected: PORT,
    parse: v.int(0, 65535),
  },
  // --- Ingest ---
  {
    env: 'INGEST_BATCH_SIZE',
    yml: 'ingest.batch_size',
    path: 'ingest.batchSize',
    default: 500,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Most jobs enqueued to Redis in one round trip.',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'INGEST_HIGH_WATERMARK',
    yml: 'ingest.high_watermark',
    path: 'ingest.highWatermark',
    default: 50000,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Waiting jobs above which ingest stops reading the stream.',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'INGEST_LOW_WATERMARK',
    yml: 'ingest.low_watermark',
    path: 'ingest.lowWatermark',
    default: 10000,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Waiting jobs below which ingest reads again (< INGEST_HIGH_WATERMARK).',
    expected: intExpected(0),
    parse: v.int(0),
  },
  {
    env: 'INGEST_MAX_EVENT_BYTES',
    yml: 'ingest.max_event_bytes',
    path: 'ingest.maxEventBytes',
    default: 5242880,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Larger stream events are not processed: their dead letter keeps a 4 KiB excerpt, the size and the SHA-256.',
    expected: intExpected(1024),
    parse: v.int(1024),
  },
  {
    env: 'INGEST_HEARTBEAT_TIMEOUT_S',
    yml: 'ingest.heartbeat_timeout_s',
    path: 'ingest.heartbeatTimeoutS',
    default: 45,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Reconnect when the stream has been silent (not even a heartbeat) this many seconds.',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'INGEST_PING_INTERVAL_S',
    yml: 'ingest.ping_interval_s',
    path: 'ingest.pingIntervalS',
    default: 40,
    requiredFor: [],
    usedBy: INGEST,
    doc: 'Seconds between pings to OpenCTI (connector status and state).',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'INGEST_HTTP_PORT',
    yml: 'ingest.http_port',
    path: 'ingest.httpPort',
    default: 9101,
    requiredFor: [],
    usedBy: INGEST,
    doc: "Port of ingest's `/metrics`, `/healthz`, `/readyz` (0 = any free port).",
    expected: PORT,
    parse: v.int(0, 65535),
  },
  // Internal (left out of the README table and the samples).
  {
    env: 'INGEST_LINGER_MS',
    yml: 'ingest.linger_ms',
    path: 'ingest.lingerMs',
    default: 50,
    requiredFor: [],
    usedBy: INGEST,
    internal: true,
    doc: 'A batch smaller than INGEST_BATCH_SIZE is written after this many milliseconds.',
    expected: intExpected(1, 60000),
    parse: v.int(1, 60000),
  },
  {
    env: 'INGEST_LEASE_TTL_MS',
    yml: 'ingest.lease_ttl_ms',
    path: 'ingest.leaseTtlMs',
    default: 15000,
    requiredFor: [],
    usedBy: INGEST,
    internal: true,
    doc: 'Reader lease TTL (renewed every third of it): a standby takes over within it; a reader stalled longer stops.',
    expected: intExpected(300),
    parse: v.int(300),
  },
  {
    env: 'INGEST_POLL_MS',
    yml: 'ingest.poll_ms',
    path: 'ingest.pollMs',
    default: 1000,
    requiredFor: [],
    usedBy: INGEST,
    internal: true,
    doc: 'How often the reader reads the backlog (resume after backpressure), `cli resync` requests and replayed events.',
    expected: intExpected(10),
    parse: v.int(10),
  },
  {
    env: 'INGEST_SHUTDOWN_GRACE_MS',
    yml: 'ingest.shutdown_grace_ms',
    path: 'ingest.shutdownGraceMs',
    default: 20000,
    requiredFor: [],
    usedBy: INGEST,
    internal: true,
    doc: 'SIGTERM: hard deadline of the whole shutdown (exit 1 past it).',
    expected: intExpected(1000),
    parse: v.int(1000),
  },
  {
    env: 'INGEST_STREAM_BACKOFF_MS',
    yml: 'ingest.stream_backoff_ms',
    path: 'ingest.streamBackoffMs',
    default: 1000,
    requiredFor: [],
    usedBy: INGEST,
    internal: true,
    doc: 'First delay before reconnecting to the stream (doubling with jitter up to INGEST_STREAM_BACKOFF_MAX_MS).',
    expected: intExpected(1),
    parse: v.int(1),
  },
  {
    env: 'INGEST_STREAM_BACKOFF_MAX_MS',
    yml: 'ingest.stream_backoff_max_ms',
    path: 'ingest.streamBackoffMaxMs',
    default: 60000,
    requiredFor: [],
    usedBy: INGEST,
    internal: true,
    doc: 'Longest delay before reconnecting to the stream.',
    expected: intExpected(1),
    parse: v.int(1),
  },
  // --- Worker tuning (internal) ---
  ...WORKER_TUNING,
  // --- Dashboard ---
  {
    env: 'DASHBOARD_HOST',
    yml: 'dashboard.host',
    path: 'dashboard.host',
    default: '127.0.0.1',
    requiredFor: [],
    usedBy: DASHBOARD,
    doc: "Address the dashboard listens on: this machine only by default (put a TLS reverse proxy in front to expose it; the compose file sets 0.0.0.0 inside the container and publishes on the host's 127.0.0.1).",
    expected: 'a host name or IP address',
    parse: v.hostName,
  },
  {
    env: 'DASHBOARD_PORT',
    yml: 'dashboard.port',
    path: 'dashboard.port',
    default: 3000,
    requiredFor: [],
    usedBy: DASHBOARD,
    doc: 'Port of the dashboard (0 = any free port).',
    expected: PORT,
    parse: v.int(0, 65535),
  },
  {
    env: 'DASHBOARD_BASE_PATH',
    yml: 'dashboard.base_path',
    path: 'dashboard.basePath',
    default: '/',
    requiredFor: [],
    usedBy: DASHBOARD,
    doc: 'Path prefix when served behind a reverse proxy, e.g. `/octi-sekoia`.',
    expected: 'a URL path such as /octi-sekoia',
    parse: v.basePath,
  },
  {
    env: 'DASHBOARD_USERNAME',
    yml: 'dashboard.username',
    path: 'dashboard.username',
    requiredFor: DASHBOARD,
    usedBy: DASHBOARD,
    doc: 'Dashboard login (HTTP basic auth); required unless DASHBOARD_NO_AUTH=true.',
    expected: 'a user name without ":"',
    sample: 'admin',
    parse: v.dashboardUsername,
  },
  {
    env: 'DASHBOARD_PASSWORD',
    yml: 'dashboard.password',
    path: 'dashboard.password',
    requiredFor: DASHBOARD,
    usedBy: DASHBOARD,
    secret: true,
    doc: 'Dashboard password (at least 8 characters); required unless DASHBOARD_NO_AUTH=true.',
    expected: 'a password of at least 8 characters',
    sample: 'ChangeMe',
    parse: v.dashboardPassword,
  },
  {
    env: 'DASHBOARD_NO_AUTH',
    yml: 'dashboard.no_auth',
    path: 'dashboard.noAuth',
    default: false,
    requiredFor: [],
    usedBy: DASHBOARD,
    doc: 'No authentication: only behind your own authenticating proxy.',
    expected: BOOL,
    parse: v.bool,
  },
  {
    env: 'DASHBOARD_READ_ONLY',
    yml: 'dashboard.read_only',
    path: 'dashboard.readOnly',
    default: false,
    requiredFor: [],
    usedBy: DASHBOARD,
    doc: 'Show queues and dead letters without the actions that change them.',
    expected: BOOL,
    parse: v.bool,
  },
];

/** The worker's knobs at their defaults (tests build settings without loading a configuration). */
export function workerTuningDefaults(): WorkerTuning {
  const entries = WORKER_TUNING.filter((s) => s.default !== undefined).map((s) => [
    s.path.split('.')[1],
    s.parse(s.default as number),
  ]);
  return Object.fromEntries(entries) as WorkerTuning;
}

/** Settings whose requirement is waived when the dashboard runs without authentication. */
export const WAIVED_BY_NO_AUTH = new Set(['DASHBOARD_USERNAME', 'DASHBOARD_PASSWORD']);
