import { describe, expect, it } from 'vitest';
import {
  type AppConfig,
  type AppName,
  ConfigError,
  configTable,
  describeConfig,
  loadRedisConfig,
  redisEnv,
  secretsOf,
} from '../src/index.ts';
import {
  API_KEY,
  BASE,
  COLLECTION,
  CONNECTOR_ID,
  load,
  problemsOf,
  TOKEN,
  tempFile,
  without,
} from './helpers.ts';

const get = (config: AppConfig, path: string): unknown => {
  const [section, key] = path.split('.') as [string, string];
  return (config as unknown as Record<string, Record<string, unknown>>)[section]?.[key];
};
/** An app that uses the variable, to load it with. */
const appUsing = (env: string): AppName => configTable().find((r) => r.env === env)!.usedBy[0]!;
/** The worker's internal `TUNING_*` knobs: each an integer ≥ 1, `tuning.<camelCase>` in AppConfig. */
const TUNING = configTable().filter((r) => r.env.startsWith('TUNING_'));
const tuningPath = (yml: string) => yml.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
/** Settings that are only valid together with another one (tested with it). */
const PARTNERS: Record<string, Record<string, string>> = {
  REDIS_SENTINELS: { REDIS_SENTINEL_MASTER: 'mymaster' },
  REDIS_SENTINEL_MASTER: { REDIS_SENTINELS: 's1:26379' },
  REDIS_SENTINEL_PASSWORD: { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_MASTER: 'mymaster' },
};

describe('defaults', () => {
  const cases: Array<[string, unknown]> = [
    ['opencti.sslVerify', true],
    ['connector.type', 'STREAM'],
    ['connector.liveStreamListenDelete', true],
    ['connector.liveStreamNoDependencies', true],
    ['connector.liveStreamWithInferences', false],
    ['connector.liveStreamStartTimestamp', undefined],
    ['connector.liveStreamRecoverIsoDate', undefined],
    ['connector.logLevel', 'info'],
    ['sekoiaIntel.extractionMode', 'strict'],
    ['sekoiaIntel.descriptionTemplate', '{opencti_url}/dashboard/observations/indicators/{id}'],
    ['sekoiaIntel.validUntilRounding', 'none'],
    ['sekoiaIntel.requestsPerSecond', 5],
    ['sekoiaIntel.requestBurst', 5],
    ['sekoiaIntel.timeoutMs', 30000],
    ['sekoiaIntel.batchSize', 100],
    ['sekoiaIntel.batchLingerMs', 200],
    ['redis.url', 'redis://127.0.0.1:6379'],
    ['redis.password', undefined],
    ['redis.tls', false],
    ['redis.tlsCaFile', undefined],
    ['redis.keyPrefix', 'octi-sekoia'],
    ['redis.deadLettersMaxBytes', 67108864],
    ['worker.concurrency', 50],
    ['worker.retryAttempts', 20],
    ['worker.backoffMs', 1000],
    ['worker.backoffMaxMs', 300000],
    ['worker.transientRetryWindowS', 3600],
    ['worker.httpPort', 9102],
    ['ingest.batchSize', 500],
    ['ingest.highWatermark', 50000],
    ['ingest.lowWatermark', 10000],
    ['ingest.maxEventBytes', 5242880],
    ['ingest.heartbeatTimeoutS', 45],
    ['ingest.pingIntervalS', 40],
    ['ingest.httpPort', 9101],
    ['ingest.lingerMs', 50],
    ['ingest.leaseTtlMs', 15000],
    ['ingest.pollMs', 1000],
    ['ingest.shutdownGraceMs', 20000],
    ['ingest.streamBackoffMs', 1000],
    ['ingest.streamBackoffMaxMs', 60000],
    ...TUNING.map((r): [string, unknown] => [
      tuningPath(r.yml),
      r.default === '' ? undefined : Number(r.default),
    ]),
    ['dashboard.host', '127.0.0.1'],
    ['dashboard.port', 3000],
    ['dashboard.basePath', '/'],
    ['dashboard.noAuth', false],
    ['dashboard.readOnly', false],
  ];
  it.each(cases)('%s defaults to %j', (path, expected) => {
    for (const app of ['ingest', 'worker', 'dashboard', 'cli'] as const) {
      expect(get(load(app, BASE).config, path)).toEqual(expected);
    }
  });

  it('has a default case for every setting with a default', () => {
    const withDefault = configTable().filter((r) => r.default !== '').length;
    const optional = cases.filter(([, v]) => v === undefined).length;
    expect(cases.length - optional).toBe(withDefault);
  });
});

describe('required settings per app', () => {
  const required: Record<AppName, string[]> = {
    ingest: [
      'OPENCTI_URL',
      'OPENCTI_TOKEN',
      'CONNECTOR_ID',
      'CONNECTOR_NAME',
      'CONNECTOR_SCOPE',
      'CONNECTOR_LIVE_STREAM_ID',
    ],
    worker: ['SEKOIA_INTEL_URL', 'SEKOIA_INTEL_APIKEY', 'SEKOIA_INTEL_IOC_COLLECTION_UUID', 'CONNECTOR_ID'],
    dashboard: ['CONNECTOR_ID', 'DASHBOARD_USERNAME', 'DASHBOARD_PASSWORD'],
    cli: ['CONNECTOR_ID'],
  };
  const cases = (Object.keys(required) as AppName[]).flatMap((app) =>
    Object.keys(BASE).map((name) => [app, name, required[app].includes(name)] as const),
  );

  it.each(cases)('%s without %s: required=%s', (app, name, isRequired) => {
    if (!isRequired) {
      expect(() => load(app, without(BASE, name))).not.toThrow();
      return;
    }
    const err = problemsOf(app, without(BASE, name));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatchObject({ env: name, value: '' });
    expect(err.problems[0]!.line).toMatch(new RegExp(`^${name} \\(\\S+\\) is missing: expected .+`));
  });

  it('the schema table says the same', () => {
    for (const app of Object.keys(required) as AppName[]) {
      const fromTable = configTable()
        .filter((r) => r.requiredFor.includes(app))
        .map((r) => r.env);
      expect(fromTable.sort()).toEqual([...required[app]].sort());
    }
  });

  it('lists every missing setting at once, one line each', () => {
    const err = problemsOf('ingest', {});
    expect(err.problems.map((p) => p.env).sort()).toEqual([...required.ingest].sort());
    expect(err.message.split('\n')).toHaveLength(required.ingest.length);
    expect(err.message).toBe(err.problems.map((p) => p.line).join('\n'));
  });

  it('the dashboard needs neither the OpenCTI token nor the Sekoia.io key', () => {
    const env = {
      CONNECTOR_ID,
      DASHBOARD_USERNAME: 'admin',
      DASHBOARD_PASSWORD: 'correct-horse-battery',
    };
    const { config } = load('dashboard', env);
    expect(config.opencti.token).toBe('');
    expect(config.sekoiaIntel.apiKey).toBe('');
    expect(config.dashboard).toMatchObject({ username: 'admin', password: 'correct-horse-battery' });
  });

  it.each([['true'], ['TRUE'], ['yes']])(
    'DASHBOARD_NO_AUTH=%s waives the credentials, with a warning',
    (v) => {
      const { config, warnings } = load('dashboard', { CONNECTOR_ID, DASHBOARD_NO_AUTH: v });
      expect(config.dashboard.noAuth).toBe(true);
      expect(config.dashboard.username).toBeUndefined();
      expect(warnings.some((w) => w.startsWith('DASHBOARD_NO_AUTH'))).toBe(true);
    },
  );

  it.each([
    ['', 'is empty'],
    ['   ', 'is empty'],
  ])('an empty required value %j is named as such', (value, what) => {
    const err = problemsOf('ingest', { ...BASE, OPENCTI_TOKEN: value });
    expect(err.problems[0]!.line).toContain(`OPENCTI_TOKEN (opencti.token) ${what}`);
  });

  it('an empty variable falls back to config.yml', () => {
    const file = tempFile('config.yml', 'opencti:\n  token: from-yml-token\n');
    expect(load('ingest', { ...BASE, OPENCTI_TOKEN: '' }, file).config.opencti.token).toBe('from-yml-token');
  });
});

describe('placeholders are rejected by name', () => {
  const cases: Array<[string, string]> = [
    ['OPENCTI_TOKEN', 'ChangeMe'],
    ['CONNECTOR_ID', 'changeme'],
    ['CONNECTOR_LIVE_STREAM_ID', 'CHANGEME'],
    ['SEKOIA_INTEL_IOC_COLLECTION_UUID', 'ChangeMe_UUID'],
    ['SEKOIA_INTEL_URL', 'https://console.changeme.com'],
    ['SEKOIA_INTEL_APIKEY', '<your API key>'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose variable that was not expanded
    ['OPENCTI_URL', '${OPENCTI_URL}'],
    ['REDIS_URL', 'ChangeMe'],
    ['DASHBOARD_PASSWORD', 'ChangeMe'],
    ['CONNECTOR_SCOPE', 'ChangeMe'],
  ];
  it.each(cases)('%s=%s', (name, value) => {
    const err = problemsOf(appUsing(name), { ...BASE, ...PARTNERS[name], [name]: value });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatchObject({ env: name, value });
    expect(err.problems[0]!.line).toMatch(
      new RegExp(`^${name} \\(\\S+\\) is the placeholder '.+': expected `),
    );
  });

  it('a placeholder in a setting the app does not use is ignored', () => {
    const { config } = load('worker', {
      ...BASE,
      OPENCTI_TOKEN: 'ChangeMe',
      CONNECTOR_LIVE_STREAM_ID: 'ChangeMe',
    });
    expect(config.opencti.token).toBe('');
    expect(config.connector.liveStreamId).toBe('');
  });
});

describe('values: accepted and normalised', () => {
  const ca = tempFile('ca.pem', '-----BEGIN CERTIFICATE-----\n');
  const cases: Array<[string, string, string, unknown]> = [
    ['OPENCTI_URL', 'https://opencti.example.com/', 'opencti.url', 'https://opencti.example.com'],
    ['OPENCTI_URL', 'http://opencti:8080/base//', 'opencti.url', 'http://opencti:8080/base'],
    ['OPENCTI_TOKEN', ` ${TOKEN} `, 'opencti.token', TOKEN],
    ['OPENCTI_SSL_VERIFY', 'False', 'opencti.sslVerify', false],
    ['CONNECTOR_ID', CONNECTOR_ID.toUpperCase(), 'connector.id', CONNECTOR_ID.toUpperCase()],
    ['CONNECTOR_TYPE', 'stream', 'connector.type', 'STREAM'],
    ['CONNECTOR_NAME', 'ab', 'connector.name', 'ab'],
    ['CONNECTOR_SCOPE', 'Indicator, Report,,', 'connector.scope', ['Indicator', 'Report']],
    ['CONNECTOR_LIVE_STREAM_ID', 'live-1.a_b', 'connector.liveStreamId', 'live-1.a_b'],
    ['CONNECTOR_LIVE_STREAM_LISTEN_DELETE', 'TRUE', 'connector.liveStreamListenDelete', true],
    ['CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES', 'no', 'connector.liveStreamNoDependencies', false],
    ['CONNECTOR_LIVE_STREAM_WITH_INFERENCES', 'True', 'connector.liveStreamWithInferences', true],
    [
      'CONNECTOR_LIVE_STREAM_START_TIMESTAMP',
      '1732615205120',
      'connector.liveStreamStartTimestamp',
      1732615205120,
    ],
    [
      'CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE',
      '2025-01-31',
      'connector.liveStreamRecoverIsoDate',
      '2025-01-31T00:00:00Z',
    ],
    [
      'CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE',
      '2025-01-31T10:00:00+02:00',
      'connector.liveStreamRecoverIsoDate',
      '2025-01-31T08:00:00Z',
    ],
    [
      'CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE',
      '2025-01-31T10:00:00',
      'connector.liveStreamRecoverIsoDate',
      '2025-01-31T10:00:00Z',
    ],
    ['CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE', 'None', 'connector.liveStreamRecoverIsoDate', false],
    ['CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE', 'no', 'connector.liveStreamRecoverIsoDate', false],
    ['CONNECTOR_LOG_LEVEL', 'WARNING', 'connector.logLevel', 'warn'],
    ['SEKOIA_INTEL_URL', 'https://api.sekoia.io/', 'sekoiaIntel.url', 'https://api.sekoia.io'],
    ['SEKOIA_INTEL_APIKEY', API_KEY, 'sekoiaIntel.apiKey', API_KEY],
    ['SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY', API_KEY, 'sekoiaIntel.probeViewOnlyApiKey', API_KEY],
    [
      'SEKOIA_INTEL_IOC_COLLECTION_UUID',
      '6F1B7C2D-3E4A-4B5C-8D9E-0F1A2B3C4D5E',
      'sekoiaIntel.iocCollectionUuid',
      COLLECTION,
    ],
    ['SEKOIA_INTEL_EXTRACTION_MODE', 'Lenient', 'sekoiaIntel.extractionMode', 'lenient'],
    [
      'SEKOIA_INTEL_DESCRIPTION_TEMPLATE',
      'OpenCTI {NAME} ({stix_id}) {score}',
      'sekoiaIntel.descriptionTemplate',
      'OpenCTI {NAME} ({stix_id}) {score}',
    ],
    ['SEKOIA_INTEL_VALID_UNTIL_ROUNDING', 'HOUR', 'sekoiaIntel.validUntilRounding', 'hour'],
    ['SEKOIA_INTEL_REQUESTS_PER_SECOND', '0.5', 'sekoiaIntel.requestsPerSecond', 0.5],
    ['SEKOIA_INTEL_REQUEST_BURST', '1', 'sekoiaIntel.requestBurst', 1],
    ['SEKOIA_INTEL_TIMEOUT_MS', '5000', 'sekoiaIntel.timeoutMs', 5000],
    ['SEKOIA_INTEL_BATCH_SIZE', '1', 'sekoiaIntel.batchSize', 1],
    ['SEKOIA_INTEL_BATCH_LINGER_MS', '0', 'sekoiaIntel.batchLingerMs', 0],
    ['REDIS_URL', 'redis://redis:6380/2', 'redis.url', 'redis://redis:6380/2'],
    ['REDIS_URL', 'rediss://app:pw@redis:6380', 'redis.url', 'rediss://app:pw@redis:6380'],
    [
      'REDIS_SENTINELS',
      's1:26379, 10.0.0.2:26380,[::1]:26381',
      'redis.sentinels',
      [
        { host: 's1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    ],
    ['REDIS_SENTINEL_MASTER', 'my-master.1', 'redis.sentinelMaster', 'my-master.1'],
    ['REDIS_SENTINEL_PASSWORD', 'sentinel pw', 'redis.sentinelPassword', 'sentinel pw'],
    [
      'REDIS_CLUSTER_NODES',
      'n1:7000,n2:7001',
      'redis.clusterNodes',
      [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
    ],
    ['REDIS_USERNAME', 'octi-sync', 'redis.username', 'octi-sync'],
    [
      'REDIS_CLUSTER_NODES',
      ' redis-a:7000, 10.0.0.2:7001,[::1]:7002',
      'redis.clusterNodes',
      [
        { host: 'redis-a', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    ],
    ['REDIS_PASSWORD', 'p@ss w0rd!', 'redis.password', 'p@ss w0rd!'],
    ['REDIS_TLS', 'tRuE', 'redis.tls', true],
    ['REDIS_TLS_CA_FILE', ca, 'redis.tlsCaFile', ca],
    ['REDIS_KEY_PREFIX', 'prod:octi-sekoia', 'redis.keyPrefix', 'prod:octi-sekoia'],
    ['REDIS_DEAD_LETTERS_MAX_BYTES', '0', 'redis.deadLettersMaxBytes', 0],
    ['WORKER_CONCURRENCY', '1', 'worker.concurrency', 1],
    ['WORKER_RETRY_ATTEMPTS', '3', 'worker.retryAttempts', 3],
    ['WORKER_BACKOFF_MS', '10', 'worker.backoffMs', 10],
    ['WORKER_BACKOFF_MAX_MS', '1000', 'worker.backoffMaxMs', 1000],
    ['WORKER_TRANSIENT_RETRY_WINDOW_S', '0', 'worker.transientRetryWindowS', 0],
    ['WORKER_HTTP_PORT', '0', 'worker.httpPort', 0],
    ['INGEST_BATCH_SIZE', '10', 'ingest.batchSize', 10],
    ['INGEST_HIGH_WATERMARK', '20000', 'ingest.highWatermark', 20000],
    ['INGEST_LOW_WATERMARK', '0', 'ingest.lowWatermark', 0],
    ['INGEST_MAX_EVENT_BYTES', '1048576', 'ingest.maxEventBytes', 1048576],
    ['INGEST_HEARTBEAT_TIMEOUT_S', '90', 'ingest.heartbeatTimeoutS', 90],
    ['INGEST_PING_INTERVAL_S', '10', 'ingest.pingIntervalS', 10],
    ['INGEST_HTTP_PORT', '65535', 'ingest.httpPort', 65535],
    ['INGEST_LINGER_MS', '1', 'ingest.lingerMs', 1],
    ['INGEST_LEASE_TTL_MS', '1500', 'ingest.leaseTtlMs', 1500],
    ['INGEST_POLL_MS', '50', 'ingest.pollMs', 50],
    ['INGEST_SHUTDOWN_GRACE_MS', '5000', 'ingest.shutdownGraceMs', 5000],
    ['INGEST_STREAM_BACKOFF_MS', '50', 'ingest.streamBackoffMs', 50],
    ['INGEST_STREAM_BACKOFF_MAX_MS', '5000', 'ingest.streamBackoffMaxMs', 5000],
    ...TUNING.map((r): [string, string, string, unknown] => [r.env, '7', tuningPath(r.yml), 7]),
    ['DASHBOARD_HOST', '0.0.0.0', 'dashboard.host', '0.0.0.0'],
    ['DASHBOARD_PORT', '8080', 'dashboard.port', 8080],
    ['DASHBOARD_BASE_PATH', 'octi/queues/', 'dashboard.basePath', '/octi/queues'],
    ['DASHBOARD_BASE_PATH', '/', 'dashboard.basePath', '/'],
    ['DASHBOARD_BASE_PATH', '//a//', 'dashboard.basePath', '/a'],
    ['DASHBOARD_USERNAME', 'ops', 'dashboard.username', 'ops'],
    ['DASHBOARD_PASSWORD', '12345678', 'dashboard.password', '12345678'],
    ['DASHBOARD_NO_AUTH', 'FALSE', 'dashboard.noAuth', false],
    ['DASHBOARD_READ_ONLY', 'True', 'dashboard.readOnly', true],
  ];
  it.each(cases)('%s=%j → %s = %j', (name, value, path, expected) => {
    expect(get(load(appUsing(name), { ...BASE, ...PARTNERS[name], [name]: value }).config, path)).toEqual(
      expected,
    );
  });

  it('covers every setting', () => {
    const covered = new Set(cases.map((c) => c[0]));
    expect(configTable().filter((r) => !covered.has(r.env))).toEqual([]);
  });
});

describe('values: malformed ones are named, shown and explained', () => {
  const cases: Array<[string, string]> = [
    ['OPENCTI_URL', 'ftp://opencti.example.com'],
    ['OPENCTI_URL', 'opencti.example.com'],
    ['OPENCTI_TOKEN', 'two words'],
    ['OPENCTI_SSL_VERIFY', 'maybe'],
    ['CONNECTOR_ID', 'not-a-uuid'],
    ['CONNECTOR_TYPE', 'EXTERNAL_IMPORT'],
    ['CONNECTOR_NAME', 'x'],
    ['CONNECTOR_SCOPE', ' , ,'],
    ['CONNECTOR_LIVE_STREAM_ID', 'live stream'],
    ['CONNECTOR_LIVE_STREAM_LISTEN_DELETE', '1'],
    ['CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES', 'on'],
    ['CONNECTOR_LIVE_STREAM_WITH_INFERENCES', 'enabled'],
    ['CONNECTOR_LIVE_STREAM_START_TIMESTAMP', '2025-01-01'],
    ['CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE', 'yesterday'],
    ['CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE', '2025-13-45'],
    ['CONNECTOR_LOG_LEVEL', 'verbose'],
    ['SEKOIA_INTEL_URL', 'https://api.sekoia.io/v2/inthreat/ioc-collections/ioc-collection--x'],
    ['SEKOIA_INTEL_URL', 'https://api.sekoia.io?x=1'],
    ['SEKOIA_INTEL_APIKEY', `Bearer ${API_KEY}`],
    ['SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY', `Bearer ${API_KEY}`],
    ['SEKOIA_INTEL_IOC_COLLECTION_UUID', 'from_OpenCTI'],
    ['SEKOIA_INTEL_IOC_COLLECTION_UUID', 'ioc-collection--1234'],
    ['SEKOIA_INTEL_EXTRACTION_MODE', 'loose'],
    ['SEKOIA_INTEL_DESCRIPTION_TEMPLATE', '{opencti_url}/x/{internal_id}'],
    ['SEKOIA_INTEL_VALID_UNTIL_ROUNDING', 'week'],
    ['SEKOIA_INTEL_REQUESTS_PER_SECOND', '0'],
    ['SEKOIA_INTEL_REQUEST_BURST', '0'],
    ['SEKOIA_INTEL_TIMEOUT_MS', '1.5'],
    ['SEKOIA_INTEL_BATCH_SIZE', '101'],
    ['SEKOIA_INTEL_BATCH_LINGER_MS', '-1'],
    ['REDIS_URL', 'http://redis:6379'],
    ['REDIS_SENTINELS', 's1'],
    ['REDIS_SENTINELS', 's1:26379,,s2:26379'],
    ['REDIS_SENTINELS', 's1:26379,s1:26379'],
    ['REDIS_SENTINELS', 'redis://s1:26379'],
    ['REDIS_SENTINEL_MASTER', 'my master'],
    ['REDIS_SENTINEL_PASSWORD', '"quoted-password"'],
    ['REDIS_CLUSTER_NODES', 'n1:70000'],
    ['REDIS_USERNAME', 'two words'],
    ['REDIS_CLUSTER_NODES', 'redis-a:7000,redis-b'],
    ['REDIS_PASSWORD', '"quoted-password"'],
    ['REDIS_TLS', 'si'],
    ['REDIS_TLS_CA_FILE', '/nonexistent/ca.pem'],
    ['REDIS_KEY_PREFIX', 'octi:'],
    ['REDIS_DEAD_LETTERS_MAX_BYTES', '-1'],
    ['WORKER_CONCURRENCY', '0'],
    ['WORKER_RETRY_ATTEMPTS', 'many'],
    ['WORKER_BACKOFF_MS', '0'],
    ['WORKER_BACKOFF_MAX_MS', '1e6'],
    ['WORKER_TRANSIENT_RETRY_WINDOW_S', '1h'],
    ['WORKER_HTTP_PORT', '65536'],
    ['INGEST_BATCH_SIZE', '0'],
    ['INGEST_HIGH_WATERMARK', 'lots'],
    ['INGEST_LOW_WATERMARK', '-5'],
    ['INGEST_MAX_EVENT_BYTES', '5MB'],
    ['INGEST_HEARTBEAT_TIMEOUT_S', '0'],
    ['INGEST_PING_INTERVAL_S', '40s'],
    ['INGEST_HTTP_PORT', 'http'],
    ['INGEST_LINGER_MS', '0'],
    ['INGEST_LEASE_TTL_MS', '15s'],
    ['INGEST_POLL_MS', '5'],
    ['INGEST_SHUTDOWN_GRACE_MS', '999'],
    ['INGEST_STREAM_BACKOFF_MS', '0'],
    ['INGEST_STREAM_BACKOFF_MAX_MS', 'never'],
    ...TUNING.map((r): [string, string] => [r.env, '0']),
    ['DASHBOARD_HOST', 'http://0.0.0.0'],
    ['DASHBOARD_PORT', 'tcp://10.0.0.12:3000'],
    ['DASHBOARD_BASE_PATH', '/a/../b'],
    ['DASHBOARD_USERNAME', 'admin:admin'],
    ['DASHBOARD_PASSWORD', 'hunter2'],
    ['DASHBOARD_NO_AUTH', 'nope'],
    ['DASHBOARD_READ_ONLY', '2'],
  ];
  const secrets = new Set(
    configTable()
      .filter((r) => r.secret)
      .map((r) => r.env),
  );

  it.each(cases)('%s=%j', (name, value) => {
    const err = problemsOf(appUsing(name), { ...BASE, ...PARTNERS[name], [name]: value });
    expect(err.problems).toHaveLength(1);
    const p = err.problems[0]!;
    const row = configTable().find((r) => r.env === name)!;
    expect(p).toMatchObject({ env: name, yml: row.yml });
    expect(p.expected.length).toBeGreaterThan(3);
    expect(p.line.startsWith(`${name} (${row.yml}) = '`)).toBe(true);
    expect(p.line).toContain(`: expected ${p.expected}`);
    if (secrets.has(name)) {
      expect(p.line).not.toContain(value.trim());
      expect(p.value).toMatch(/^(..)?\*\*\*$/);
    } else {
      expect(p.value).toBe(value.trim());
      expect(p.line).toContain(`'${value.trim()}'`);
    }
  });

  it('covers every setting', () => {
    const covered = new Set(cases.map((c) => c[0]));
    expect(configTable().filter((r) => !covered.has(r.env))).toEqual([]);
  });

  it('a Kubernetes service link in DASHBOARD_PORT gets a hint', () => {
    const err = problemsOf('dashboard', { ...BASE, DASHBOARD_PORT: 'tcp://10.0.0.12:3000' });
    expect(err.message).toContain('Kubernetes');
  });

  it('a value wrapped in quotes says so', () => {
    const err = problemsOf('ingest', { ...BASE, CONNECTOR_NAME: "'Sekoia'" });
    expect(err.message).toContain('wrapped in quotes');
  });

  it('a malformed value of a setting the app does not use is ignored', () => {
    const { config } = load('dashboard', { ...BASE, WORKER_CONCURRENCY: 'many', OPENCTI_URL: 'nope' });
    expect(config.worker.concurrency).toBe(50);
    expect(config.opencti.url).toBe('');
  });
});

describe('secrets never appear in problems', () => {
  const cases: Array<[string, Record<string, string>, string[]]> = [
    ['token with a Bearer prefix', { OPENCTI_TOKEN: `Bearer ${TOKEN}` }, [TOKEN]],
    [
      'API key with whitespace',
      { SEKOIA_INTEL_APIKEY: 'sk-live with space' },
      ['sk-live with space', 'with space'],
    ],
    ['short password', { DASHBOARD_PASSWORD: 'hunter2' }, ['hunter2']],
    ['password in a bad REDIS_URL', { REDIS_URL: 'redis://:s3cr3t-pw@redis:6379/x' }, ['s3cr3t-pw']],
    ['API key pasted into CONNECTOR_ID', { CONNECTOR_ID: API_KEY }, [API_KEY]],
    [
      'Redis password pasted into CONNECTOR_NAME',
      { REDIS_PASSWORD: 'redis-pw-42', CONNECTOR_SCOPE: 'redis-pw-42,' },
      [],
    ],
  ];
  it.each(cases)('%s', (_label, overrides, hidden) => {
    for (const app of ['ingest', 'worker', 'dashboard'] as const) {
      let message = '';
      try {
        load(app, { ...BASE, ...overrides });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        message = `${err.message}\n${JSON.stringify(err.problems)}`;
      }
      for (const h of hidden) expect(message).not.toContain(h);
    }
  });

  it('masks the password of REDIS_URL but keeps the rest', () => {
    const err = problemsOf('worker', { ...BASE, REDIS_URL: 'redis://user:s3cr3t-pw@redis:6379/x' });
    expect(err.problems[0]!.value).toBe('redis://user:***@redis:6379/x');
  });

  it('masks a secret that appears inside another invalid value', () => {
    const err = problemsOf('ingest', { ...BASE, CONNECTOR_LIVE_STREAM_ID: `id ${TOKEN}` });
    expect(err.problems[0]!.value).toBe('id ***');
  });
});

describe('booleans in any case', () => {
  const cases: Array<[string, boolean]> = [
    ['true', true],
    ['TRUE', true],
    ['True', true],
    ['tRUE', true],
    ['yes', true],
    ['YES', true],
    ['false', false],
    ['FALSE', false],
    ['False', false],
    ['no', false],
    [' false ', false],
  ];
  it.each(cases)('%j → %s', (value, expected) => {
    const { config } = load('ingest', { ...BASE, CONNECTOR_LIVE_STREAM_WITH_INFERENCES: value });
    expect(config.connector.liveStreamWithInferences).toBe(expected);
  });

  it.each([
    ['true', true],
    ['false', false],
    ["'True'", true],
    ['"no"', false],
  ])('config.yml %s → %s', (yml, expected) => {
    const file = tempFile('config.yml', `connector:\n  live_stream_with_inferences: ${yml}\n`);
    expect(load('ingest', BASE, file).config.connector.liveStreamWithInferences).toBe(expected);
  });
});

describe('log levels (pycti names)', () => {
  const cases: Array<[string, string]> = [
    ['debug', 'debug'],
    ['DEBUG', 'debug'],
    ['info', 'info'],
    ['INFO', 'info'],
    ['warn', 'warn'],
    ['warning', 'warn'],
    ['WARNING', 'warn'],
    ['error', 'error'],
    ['critical', 'fatal'],
    ['fatal', 'fatal'],
    ['trace', 'trace'],
  ];
  it.each(cases)('%s → %s', (value, expected) => {
    expect(load('cli', { ...BASE, CONNECTOR_LOG_LEVEL: value }).config.connector.logLevel).toBe(expected);
  });
});

describe('URL and id normalisation', () => {
  const sekoia: Array<[string, string]> = [
    ['https://api.sekoia.io', 'https://api.sekoia.io'],
    ['https://api.sekoia.io/', 'https://api.sekoia.io'],
    ['https://api.sekoia.io/v2/inthreat/ioc-collections', 'https://api.sekoia.io'],
    ['https://api.sekoia.io/v2/inthreat/ioc-collections/', 'https://api.sekoia.io'],
    ['https://app.fra2.sekoia.io/api', 'https://app.fra2.sekoia.io/api'],
    ['https://app.fra2.sekoia.io/api/', 'https://app.fra2.sekoia.io/api'],
    ['https://app.fra2.sekoia.io/api/v2/inthreat/ioc-collections', 'https://app.fra2.sekoia.io/api'],
    ['HTTPS://API.SEKOIA.IO', 'https://api.sekoia.io'],
    ['http://127.0.0.1:8090', 'http://127.0.0.1:8090'],
  ];
  it.each(sekoia)('SEKOIA_INTEL_URL %s → %s', (value, expected) => {
    expect(load('worker', { ...BASE, SEKOIA_INTEL_URL: value }).config.sekoiaIntel.url).toBe(expected);
  });

  it('warns when SEKOIA_INTEL_URL looks like the web console', () => {
    const { warnings } = load('worker', { ...BASE, SEKOIA_INTEL_URL: 'https://app.sekoia.io' });
    expect(warnings.some((w) => w.includes('https://app.sekoia.io/api'))).toBe(true);
  });

  const collections: Array<[string, string]> = [
    ['6f1b7c2d-3e4a-4b5c-8d9e-0f1a2b3c4d5e', COLLECTION],
    ['6F1B7C2D-3E4A-4B5C-8D9E-0F1A2B3C4D5E', COLLECTION],
    [COLLECTION, COLLECTION],
    [COLLECTION.toUpperCase(), COLLECTION],
  ];
  it.each(collections)('SEKOIA_INTEL_IOC_COLLECTION_UUID %s → %s', (value, expected) => {
    expect(
      load('worker', { ...BASE, SEKOIA_INTEL_IOC_COLLECTION_UUID: value }).config.sekoiaIntel
        .iocCollectionUuid,
    ).toBe(expected);
  });

  it.each([['redis://r:6379'], ['rediss://r:6380']])('REDIS_URL %s sets tls from the scheme', (url) => {
    expect(load('worker', { ...BASE, REDIS_URL: url }).config.redis.tls).toBe(url.startsWith('rediss'));
  });
});

describe('precedence: env > config.yml > default', () => {
  const cases: Array<[string, string, string, string, string, string, unknown, unknown]> = [
    // env, yml section, yml key, yml literal, env value, path, from yml, from env
    ['WORKER_CONCURRENCY', 'worker', 'concurrency', '7', '9', 'worker.concurrency', 7, 9],
    [
      'CONNECTOR_LOG_LEVEL',
      'connector',
      'log_level',
      'debug',
      'error',
      'connector.logLevel',
      'debug',
      'error',
    ],
    ['REDIS_TLS', 'redis', 'tls', 'true', 'false', 'redis.tls', true, false],
    [
      'REDIS_KEY_PREFIX',
      'redis',
      'key_prefix',
      "'yml-prefix'",
      'env-prefix',
      'redis.keyPrefix',
      'yml-prefix',
      'env-prefix',
    ],
    [
      'SEKOIA_INTEL_REQUESTS_PER_SECOND',
      'sekoia_intel',
      'requests_per_second',
      '2.5',
      '10',
      'sekoiaIntel.requestsPerSecond',
      2.5,
      10,
    ],
    [
      'CONNECTOR_SCOPE',
      'connector',
      'scope',
      '[Indicator, Report]',
      'Malware',
      'connector.scope',
      ['Indicator', 'Report'],
      ['Malware'],
    ],
    [
      'CONNECTOR_LIVE_STREAM_START_TIMESTAMP',
      'connector',
      'live_stream_start_timestamp',
      '1732615205120',
      '1700000000000',
      'connector.liveStreamStartTimestamp',
      1732615205120,
      1700000000000,
    ],
  ];
  it.each(cases)('%s', (env, section, key, literal, envValue, path, fromYml, fromEnv) => {
    const app = appUsing(env);
    const file = tempFile('config.yml', `${section}:\n  ${key}: ${literal}\n`);
    expect(get(load(app, without(BASE, env), file).config, path)).toEqual(fromYml);
    expect(get(load(app, { ...BASE, [env]: envValue }, file).config, path)).toEqual(fromEnv);
    if (
      !configTable()
        .find((r) => r.env === env)!
        .requiredFor.includes(app)
    ) {
      expect(get(load(app, without(BASE, env)).config, path)).not.toEqual(fromYml);
    }
  });

  it('CONFIG_FILE names the file', () => {
    const file = tempFile('custom.yml', 'worker:\n  concurrency: 3\n');
    expect(load('worker', { ...BASE, CONFIG_FILE: file }).config.worker.concurrency).toBe(3);
  });

  it('reads the Python connector config.yml', () => {
    const file = tempFile(
      'config.yml',
      [
        'opencti:',
        "  url: 'http://opencti:8080'",
        `  token: '${TOKEN}'`,
        'connector:',
        "  type: 'STREAM'",
        `  id: '${CONNECTOR_ID}'`,
        "  name: 'Sekoia'",
        "  scope: 'Sekoia'",
        "  log_level: 'info'",
        "  live_stream_id: 'live'",
        '  live_stream_listen_delete: true',
        '  live_stream_no_dependencies: true',
        '  confidence_level: 80',
        'sekoia_intel:',
        "  url: 'https://api.sekoia.io/v2/inthreat/ioc-collections'",
        `  apikey: '${API_KEY}'`,
        `  ioc_collection_uuid: '${COLLECTION}'`,
        '',
      ].join('\n'),
    );
    for (const app of ['ingest', 'worker'] as const) {
      const { config, warnings } = load(app, {}, file);
      expect(config.connector).toMatchObject({ id: CONNECTOR_ID, liveStreamListenDelete: true });
      expect(warnings).toContain("config.yml: unknown key 'connector.confidence_level' is ignored");
    }
    expect(load('ingest', {}, file).config.opencti).toEqual({
      url: 'http://opencti:8080',
      token: TOKEN,
      sslVerify: true,
    });
    expect(load('worker', {}, file).config.sekoiaIntel).toMatchObject({
      url: 'https://api.sekoia.io',
      apiKey: API_KEY,
      iocCollectionUuid: COLLECTION,
    });
  });
});

describe('config.yml problems', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['not YAML', 'opencti: [unclosed\n', /^CONFIG_FILE '.+' is not valid YAML/],
    ['a list', '- a\n- b\n', /^CONFIG_FILE '.+' is not a mapping/],
    ['a section that is a value', 'worker: 5\n', /^config\.yml section 'worker' is not a mapping/],
    [
      'a key that is a mapping',
      'worker:\n  concurrency:\n    a: 1\n',
      /^WORKER_CONCURRENCY \(worker\.concurrency\) is not a single value/,
    ],
    ['a list where a value goes', 'worker:\n  concurrency: [1, 2]\n', /^WORKER_CONCURRENCY/],
    [
      'a bad value',
      'worker:\n  concurrency: many\n',
      /^WORKER_CONCURRENCY \(worker\.concurrency\) = 'many' is invalid/,
    ],
  ];
  it.each(cases)('%s', (_label, content, line) => {
    const err = problemsOf('worker', BASE, tempFile('config.yml', content));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]!.line).toMatch(line);
  });

  it('a CONFIG_FILE that does not exist is a problem', () => {
    const err = problemsOf('worker', { ...BASE, CONFIG_FILE: '/nonexistent/config.yml' });
    expect(err.problems[0]!.line).toMatch(/^CONFIG_FILE '\/nonexistent\/config\.yml' does not exist/);
  });

  it('an empty file and empty sections are fine', () => {
    expect(() => load('worker', BASE, tempFile('config.yml', ''))).not.toThrow();
    expect(() => load('worker', BASE, tempFile('config.yml', 'worker:\nredis:\n'))).not.toThrow();
  });

  it('unknown sections and keys are warnings', () => {
    const { warnings } = load(
      'worker',
      BASE,
      tempFile('config.yml', 'mq:\n  host: x\nworker:\n  concurency: 3\n'),
    );
    expect(warnings).toEqual([
      "config.yml: unknown section 'mq' is ignored",
      "config.yml: unknown key 'worker.concurency' is ignored",
    ]);
  });

  it('a mistyped variable of ours is a warning', () => {
    const { warnings } = load('worker', {
      ...BASE,
      SEKOIA_INTEL_API_KEY: 'x',
      DASHBOARD_SERVICE_HOST: '10.0.0.1',
    });
    expect(warnings).toEqual(['unknown variable SEKOIA_INTEL_API_KEY is ignored']);
  });
});

describe('relations and warnings', () => {
  it.each([
    ['INGEST_LOW_WATERMARK', { INGEST_LOW_WATERMARK: '100', INGEST_HIGH_WATERMARK: '100' }, 'ingest'],
    ['WORKER_BACKOFF_MAX_MS', { WORKER_BACKOFF_MS: '5000', WORKER_BACKOFF_MAX_MS: '1000' }, 'worker'],
    [
      'INGEST_STREAM_BACKOFF_MAX_MS',
      { INGEST_STREAM_BACKOFF_MS: '5000', INGEST_STREAM_BACKOFF_MAX_MS: '1000' },
      'ingest',
    ],
  ] as const)('%s against its partner', (name, overrides, app) => {
    const err = problemsOf(app, { ...BASE, ...overrides });
    expect(err.problems.map((p) => p.env)).toEqual([name]);
  });

  it('one bad side gives one line, not two', () => {
    const err = problemsOf('ingest', { ...BASE, INGEST_HIGH_WATERMARK: 'lots' });
    expect(err.problems.map((p) => p.env)).toEqual(['INGEST_HIGH_WATERMARK']);
  });

  const warned: Array<[string, AppName, Record<string, string>, RegExp]> = [
    [
      'listen delete off',
      'ingest',
      { CONNECTOR_LIVE_STREAM_LISTEN_DELETE: 'false' },
      /^CONNECTOR_LIVE_STREAM_LISTEN_DELETE .*never/,
    ],
    [
      'no dependencies off',
      'ingest',
      { CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES: 'false' },
      /^CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES/,
    ],
    ['TLS not verified', 'ingest', { OPENCTI_SSL_VERIFY: 'false' }, /^OPENCTI_SSL_VERIFY/],
    [
      'timestamp in seconds',
      'ingest',
      { CONNECTOR_LIVE_STREAM_START_TIMESTAMP: '1732615205' },
      /looks like seconds/,
    ],
    [
      'CA file without TLS',
      'worker',
      { REDIS_TLS_CA_FILE: tempFile('ca.pem', 'x') },
      /^REDIS_TLS_CA_FILE .* ignored/,
    ],
    [
      'two Redis passwords',
      'worker',
      { REDIS_URL: 'redis://:a-password@r:6379', REDIS_PASSWORD: 'b-password' },
      /overrides/,
    ],
  ];
  it.each(warned)('warns: %s', (_label, app, overrides, re) => {
    const { warnings } = load(app, { ...BASE, ...overrides });
    expect(warnings.filter((w) => re.test(w))).toHaveLength(1);
  });

  it('a plain valid configuration has no warnings', () => {
    for (const app of ['ingest', 'worker', 'dashboard', 'cli'] as const)
      expect(load(app, BASE).warnings).toEqual([]);
  });
});

describe('Redis topology: exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES', () => {
  const SENTINEL = { REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'mymaster' };
  const CLUSTER = { REDIS_CLUSTER_NODES: 'n1:7000,n2:7000' };
  const conflicts: Array<[string, Record<string, string>, string[]]> = [
    ['URL and Sentinel', { REDIS_URL: 'redis://r:6379', ...SENTINEL }, ['REDIS_URL', 'REDIS_SENTINELS']],
    ['URL and Cluster', { REDIS_URL: 'redis://r:6379', ...CLUSTER }, ['REDIS_URL', 'REDIS_CLUSTER_NODES']],
    ['Sentinel and Cluster', { ...SENTINEL, ...CLUSTER }, ['REDIS_SENTINELS', 'REDIS_CLUSTER_NODES']],
    [
      'all three',
      { REDIS_URL: 'redis://r:6379', ...SENTINEL, ...CLUSTER },
      ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'],
    ],
  ];
  it.each(conflicts)('%s: one problem naming them, for every app', (_label, overrides, named) => {
    for (const app of ['ingest', 'worker', 'dashboard', 'cli'] as const) {
      const err = problemsOf(app, { ...BASE, ...overrides });
      expect(err.problems).toHaveLength(1);
      const line = err.problems[0]!.line;
      for (const env of named) expect(line).toContain(env);
      expect(line).toContain(
        'expected exactly one of REDIS_URL (standalone), REDIS_SENTINELS (Sentinel, with REDIS_SENTINEL_MASTER), REDIS_CLUSTER_NODES (Cluster)',
      );
    }
  });

  it('REDIS_URL in config.yml and REDIS_SENTINELS in the environment conflict too', () => {
    const file = tempFile('config.yml', 'redis:\n  url: redis://r:6379\n');
    const err = problemsOf('worker', { ...BASE, ...SENTINEL }, file);
    expect(err.problems.map((p) => p.env)).toEqual(['REDIS_URL']);
  });

  it('an invalid REDIS_URL beside REDIS_SENTINELS still reports the conflict', () => {
    const err = problemsOf('worker', { ...BASE, ...SENTINEL, REDIS_URL: 'http://r' });
    expect(err.problems.map((p) => p.line)).toEqual([
      expect.stringMatching(/^REDIS_URL \(redis\.url\) = 'http:\/\/r' is invalid/),
      expect.stringMatching(/^REDIS_URL \(redis\.url\) and REDIS_SENTINELS are both set/),
    ]);
  });

  it('REDIS_SENTINELS without REDIS_SENTINEL_MASTER', () => {
    const err = problemsOf('worker', { ...BASE, REDIS_SENTINELS: 's1:26379' });
    expect(err.problems.map((p) => p.line)).toEqual([
      'REDIS_SENTINEL_MASTER (redis.sentinel_master) is missing (REDIS_SENTINELS is set): expected the master name the sentinels monitor',
    ]);
  });

  it.each([
    ['REDIS_SENTINEL_MASTER', 'mymaster'],
    ['REDIS_SENTINEL_PASSWORD', 'a-sentinel-password'],
  ])('%s without REDIS_SENTINELS', (env, value) => {
    const err = problemsOf('ingest', { ...BASE, [env]: value });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]!.line).toMatch(
      new RegExp(`^${env} \\(redis\\.\\w+\\) is set but REDIS_SENTINELS is not`),
    );
    expect(err.problems[0]!.line).not.toContain('a-sentinel-password');
  });

  it('the default REDIS_URL does not count as set', () => {
    const { config } = load('worker', { ...BASE, ...SENTINEL });
    expect(config.redis).toMatchObject({
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      sentinelMaster: 'mymaster',
      tls: false,
    });
    expect(load('worker', { ...BASE, ...CLUSTER }).config.redis.clusterNodes).toHaveLength(2);
  });

  it('a YAML list of sentinels', () => {
    const file = tempFile(
      'config.yml',
      'redis:\n  sentinels:\n    - s1:26379\n    - s2:26379\n  sentinel_master: mymaster\n',
    );
    expect(load('cli', without(BASE), file).config.redis.sentinels).toEqual([
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
    ]);
  });

  it('the sentinel password is a secret: masked in check-config, redacted from logs', () => {
    const { config } = load('worker', { ...BASE, ...SENTINEL, REDIS_SENTINEL_PASSWORD: 'sentinel-pw-77' });
    expect(secretsOf(config)).toContain('sentinel-pw-77');
    expect(JSON.stringify(describeConfig(config))).not.toContain('sentinel-pw-77');
  });

  it('REDIS_USERNAME over a user in REDIS_URL is warned about', () => {
    const { warnings } = load('worker', {
      ...BASE,
      REDIS_URL: 'redis://app:pw-in-url@r:6379',
      REDIS_USERNAME: 'other',
    });
    expect(warnings).toContain('REDIS_USERNAME (redis.username) overrides the user in REDIS_URL');
  });
});

describe('loadRedisConfig and redisEnv (pnpm demo, pnpm bench)', () => {
  it('reads only the REDIS_* settings, by the same rules', () => {
    const env = {
      REDIS_SENTINELS: 's1:26379',
      REDIS_SENTINEL_MASTER: 'm',
      REDIS_PASSWORD: 'pw-1234',
      OPENCTI_URL: 'x',
    };
    expect(loadRedisConfig(env)).toMatchObject({
      sentinels: [{ host: 's1', port: 26379 }],
      sentinelMaster: 'm',
    });
    expect(() => loadRedisConfig({ REDIS_URL: 'redis://r:1', REDIS_CLUSTER_NODES: 'n:1' })).toThrow(
      /REDIS_URL \(redis\.url\) and REDIS_CLUSTER_NODES are both set/,
    );
  });

  it.each([
    [{ REDIS_URL: 'rediss://u:pw-url@r:6380/1' }],
    [
      {
        REDIS_SENTINELS: 's1:26379,[::1]:26380',
        REDIS_SENTINEL_MASTER: 'm',
        REDIS_SENTINEL_PASSWORD: 'spw-1234',
      },
    ],
    [{ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw-1234', REDIS_TLS: 'true' }],
  ])('redisEnv gives back the same settings: %j', (env) => {
    const redis = loadRedisConfig(env);
    expect(loadRedisConfig(redisEnv(redis))).toEqual(redis);
    const shown = JSON.stringify(redisEnv(redis, { secrets: false }));
    for (const secret of ['pw-url', 'spw-1234', 'pw-1234']) expect(shown).not.toContain(secret);
  });
});
