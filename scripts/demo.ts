// `pnpm demo`: the whole product on the built-in simulators, no accounts and no internet needed.
// Starts the OpenCTI simulator (real STIX bundles + generated indicators), the Sekoia.io simulator, Redis (the
// one at REDIS_URL if it answers, else a private redis-server), ingest, two workers and the dashboard, prints
// the URLs and a live one-line summary until Ctrl-C, which stops everything cleanly.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppConfig, ConfigError, loadRedisConfig, redisEnv } from '@octi-sekoia/config';
import { connectRedis, describeRedis, NODE_FLAGS } from '@octi-sekoia/ops';
import { keyPrefixPatterns, scanKeys } from '@octi-sekoia/queue';
import {
  applyScenario,
  computeExpectedCollection,
  controlTarget,
  diffCollections,
  generateScenario,
  isConverged,
  messagesFromLog,
  startOpenCtiSimulator,
  startSekoiaSimulator,
} from '@octi-sekoia/simulators';
import { freePort } from '@octi-sekoia/testkit';

const root = join(import.meta.dirname, '..');
const CONNECTOR_ID = 'd3e0c0de-5e40-4a11-9d3e-000000000001';
const INDICATORS = Number(process.env.DEMO_INDICATORS ?? 300);
const DESCRIPTION_TEMPLATE = 'OpenCTI indicator (demo): {opencti_url}/dashboard/observations/indicators';
const DASHBOARD_USER = 'demo';
const DASHBOARD_PASSWORD = 'demo-password';
const logDir = process.env.DEMO_LOG_DIR ?? join(tmpdir(), `octi-sekoia-demo-${process.pid}`);
mkdirSync(logDir, { recursive: true });

const children: Array<{ name: string; proc: ChildProcess }> = [];
let ownRedis: ChildProcess | undefined;
let stopping = false;

type RedisConfig = AppConfig['redis'];

async function redisAnswers(redis: RedisConfig): Promise<boolean> {
  const c = connectRedis(redis, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

/** The demo's keys on a Redis it did not start (its prefix is unique to this run). */
async function removeKeys(redis: RedisConfig, prefix: string): Promise<void> {
  const c = connectRedis(redis, { maxRetriesPerRequest: 1 });
  try {
    // One key per UNLINK: on a cluster the keys of several hash tags live in different slots.
    for (const pattern of keyPrefixPatterns(prefix))
      for await (const keys of scanKeys(c, pattern)) await Promise.all(keys.map((k) => c.unlink(k)));
  } finally {
    c.disconnect();
  }
}

/**
 * The operator's Redis (REDIS_URL, or REDIS_SENTINELS…, or REDIS_CLUSTER_NODES, read by the apps' own rules) if
 * it answers; with nothing configured and nothing at the default URL, a private redis-server.
 */
async function demoRedis(): Promise<RedisConfig> {
  let wanted: RedisConfig;
  try {
    wanted = loadRedisConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) console.error(`config error: ${p.line}`);
    process.exit(2);
  }
  const where = describeRedis(wanted);
  if (await redisAnswers(wanted)) {
    console.log(`Redis: using ${where}`);
    return wanted;
  }
  if (wanted.sentinels || wanted.clusterNodes) {
    console.error(`No Redis answers at ${where}: check the sentinels or cluster nodes (or unset them).`);
    process.exit(1);
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.error(
      `No Redis answers at ${where} and redis-server is not installed: apt-get install redis-server (or set REDIS_URL).`,
    );
    process.exit(1);
  }
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--maxmemory-policy',
    'noeviction',
  ];
  ownRedis = spawn('redis-server', args, { stdio: 'ignore', detached: true });
  const own: RedisConfig = { ...wanted, url: `redis://127.0.0.1:${port}` };
  delete own.password;
  delete own.username;
  own.tls = false;
  for (let i = 0; i < 100 && !(await redisAnswers(own)); i++) await new Promise((r) => setTimeout(r, 100));
  console.log(`Redis: nothing answered at ${where}, started a private redis-server at ${own.url}`);
  return own;
}

function withoutInitCwd(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { INIT_CWD: _typedIn, ...rest } = env;
  return rest;
}

function startApp(name: string, app: 'ingest' | 'worker' | 'dashboard', env: Record<string, string>): void {
  const out = createWriteStream(join(logDir, `${name}.log`));
  // The app's node flags, as its image's command passes them (packages/ops heap.ts NODE_FLAGS).
  const args = [...NODE_FLAGS[app], '--import', 'tsx', join(root, 'apps', app, 'src', 'main.ts')];
  const proc = spawn(process.execPath, args, {
    cwd: join(root, 'apps', app),
    // INIT_CWD dropped: the demo is configured by its environment alone, never by a config.yml where
    // `pnpm demo` was typed (the apps read config.yml from there, see packages/config configFilePath).
    env: { ...withoutInitCwd(process.env), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C signals the terminal's whole foreground group, and an app that got that
    // SIGINT *and* the demo's SIGTERM would skip its graceful stop ("second signal"). Only the demo signals it.
    detached: true,
  });
  proc.stdout?.pipe(out);
  proc.stderr?.pipe(out);
  proc.on('exit', (code, signal) => {
    if (!stopping)
      console.error(`\n${name} exited (${code ?? signal}); its log: ${join(logDir, `${name}.log`)}`);
  });
  children.push({ name, proc });
}

/** Sum of a Prometheus counter over the given apps, skipping series whose labels match `exclude`. */
async function metric(urls: string[], name: string, exclude?: RegExp): Promise<number> {
  let sum = 0;
  for (const url of urls) {
    try {
      const text = await (await fetch(`${url}/metrics`)).text();
      for (const line of text.split('\n')) {
        if (!line.startsWith(name) || (exclude && exclude.test(line))) continue;
        sum += Number(line.split(' ').at(-1));
      }
    } catch {
      // Not up yet (or stopping): counted as nothing.
    }
  }
  return sum;
}

/** The exact `pnpm cli status` command line for this run (its key prefix carries the demo's pid). */
function cliLine(redis: RedisConfig, prefix: string): string {
  // The passwords stay out of the terminal: the operator's environment has them.
  const shown = Object.entries(redisEnv(redis, { secrets: false })).map(([k, v]) => `${k}=${v}`);
  return `${shown.join(' ')} REDIS_KEY_PREFIX=${prefix} CONNECTOR_ID=${CONNECTOR_ID} pnpm cli status`;
}

// The apps live in their own process groups: if the demo ends any other way than `stop()` (an error), they
// must not outlive it.
process.on('exit', () => {
  const running = (p: ChildProcess) => p.exitCode === null && p.signalCode === null && !p.killed;
  for (const { proc } of children) if (running(proc)) proc.kill('SIGKILL');
  if (ownRedis && running(ownRedis)) ownRedis.kill('SIGKILL');
});

/**
 * The leader of the demo's process group: `pnpm demo` when typed in a shell (the job's first process). pnpm
 * ends on a SIGINT sent to it alone without passing it on; the demo then stops as if it had got it. Undefined
 * where /proc is not available or the demo leads its own group (started with `tsx scripts/demo.ts`).
 */
function launcherPid(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(pgid) && pgid > 1 && pgid !== process.pid ? pgid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const launcher = launcherPid();
  const redis = await demoRedis();
  const opencti = await startOpenCtiSimulator({ heartbeatMs: 1000 });
  const sekoia = await startSekoiaSimulator({ faults: { latencyMs: 20 } });

  const scenario = generateScenario({
    seed: 42,
    indicators: INDICATORS,
    sharedFields: true,
    includeBundles: true,
  });
  applyScenario(controlTarget(opencti.control), scenario);

  const [ingestPort, worker1Port, worker2Port, dashboardPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const env: Record<string, string> = {
    OPENCTI_URL: opencti.url,
    OPENCTI_TOKEN: opencti.token,
    CONNECTOR_ID,
    CONNECTOR_NAME: 'Sekoia.io demo',
    CONNECTOR_SCOPE: 'sekoia',
    CONNECTOR_LIVE_STREAM_ID: opencti.streamId,
    CONNECTOR_LOG_LEVEL: process.env.CONNECTOR_LOG_LEVEL ?? 'info',
    SEKOIA_INTEL_URL: sekoia.url,
    SEKOIA_INTEL_APIKEY: sekoia.apiKey,
    SEKOIA_INTEL_IOC_COLLECTION_UUID: sekoia.collectionId,
    SEKOIA_INTEL_DESCRIPTION_TEMPLATE: DESCRIPTION_TEMPLATE,
    SEKOIA_INTEL_VALID_UNTIL_ROUNDING: 'day',
    ...redisEnv(redis),
    REDIS_KEY_PREFIX: `octi-sekoia-demo-${process.pid}`,
    DASHBOARD_HOST: '127.0.0.1',
    DASHBOARD_USERNAME: DASHBOARD_USER,
    DASHBOARD_PASSWORD,
  };
  startApp('ingest', 'ingest', { ...env, INGEST_HTTP_PORT: String(ingestPort) });
  startApp('worker-1', 'worker', { ...env, WORKER_HTTP_PORT: String(worker1Port) });
  startApp('worker-2', 'worker', { ...env, WORKER_HTTP_PORT: String(worker2Port) });
  startApp('dashboard', 'dashboard', { ...env, DASHBOARD_PORT: String(dashboardPort) });

  console.log(`
OpenCTI → Sekoia.io sync demo (${INDICATORS} generated indicators + the OASIS/OpenCTI sample bundles)
  dashboard          http://127.0.0.1:${dashboardPort}/   (user ${DASHBOARD_USER}, password ${DASHBOARD_PASSWORD})
  OpenCTI simulator  ${opencti.url}   (stream ${opencti.streamId}; control API ${opencti.url}/_sim/)
  Sekoia simulator   ${sekoia.url}   (collection ${sekoia.collectionId}; state ${sekoia.url}/_sim/indicators)
  metrics            ingest http://127.0.0.1:${ingestPort}/metrics  workers http://127.0.0.1:${worker1Port}/metrics http://127.0.0.1:${worker2Port}/metrics
  logs               ${logDir}
  CLI                ${cliLine(redis, env.REDIS_KEY_PREFIX!)}
Press Ctrl-C to stop.
`);

  const config = {
    openctiUrl: opencti.url,
    descriptionTemplate: DESCRIPTION_TEMPLATE,
    validUntilRounding: 'day' as const,
    extractionMode: 'strict' as const,
  };
  const tty = process.stdout.isTTY;
  let lastPrinted = '';
  const timer = setInterval(async () => {
    if (launcher !== undefined && !isAlive(launcher)) {
      console.log(`\nthe demo's launcher (pid ${launcher}) ended`);
      void stop();
      return;
    }
    const expected = computeExpectedCollection(messagesFromLog(opencti.control.entries()), config);
    const actual = sekoia.control.indicators().map((i) => ({ ...i, value: i.canonical }));
    const converged = isConverged(diffCollections(expected, actual));
    const local = (port: number) => `http://127.0.0.1:${port}`;
    const events = await metric(
      [local(ingestPort)],
      'ingest_stream_events_total',
      /type="(heartbeat|connected)"/,
    );
    const done = await metric([local(worker1Port), local(worker2Port)], 'worker_jobs_total');
    const dead = await metric([local(dashboardPort)], 'dashboard_dead_letters');
    const live = sekoia.control.liveValues().length;
    const state = converged ? 'converged: the collection equals OpenCTI' : 'syncing…';
    const line = `events read ${events} · jobs done ${done} · values live ${live} (OpenCTI: ${expected.size}) · dead letters ${dead} · ${state}`;
    if (tty) process.stdout.write(`\r${line.padEnd(120)}`);
    else if (line !== lastPrinted) console.log(line);
    lastPrinted = line;
  }, 1000);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    console.log('\nstopping…');
    await Promise.all(
      children.map(
        ({ proc }) =>
          new Promise<void>((resolve) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
            const t = setTimeout(() => proc.kill('SIGKILL'), 25_000);
            proc.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            proc.kill('SIGTERM');
          }),
      ),
    );
    await Promise.all([opencti.close(), sekoia.close()]);
    if (ownRedis) ownRedis.kill('SIGTERM');
    else await removeKeys(redis, env.REDIS_KEY_PREFIX!);
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

await main();
