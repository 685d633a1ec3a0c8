// The compose end-to-end scenario (README "Development"), run by scripts/compose-e2e/run once the engine and the
// test stand-in base images are there. It drives the product's own docker-compose.yml and Dockerfiles, unchanged,
// in a scratch copy of the repository (so a developer's .env is never touched) as a compose project of its own.
// The host reaches the containers only through their published 127.0.0.1 ports; the containers talk to each other
// on the compose network. Every step is timed; any failed check stops the run with exit 1 after printing the
// containers' state and recent logs, and the stack is removed (down -v) whatever happens.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  computeExpectedCollection,
  diffCollections,
  isConverged,
  messagesFromLog,
} from '@octi-sekoia/simulators';
import { freePort, waitFor } from '@octi-sekoia/testkit';

const root = join(import.meta.dirname, '..', '..');
const PROJECT = process.env.COMPOSE_E2E_PROJECT ?? 'octi-sekoia-e2e';
/**
 * The host ports published by docker-compose.yml, chosen at preflight: the defaults (3000, 4000, 8080) when free,
 * otherwise free ports given to compose through its interpolation variables, so a port held by anything else on the
 * machine (a developer's demo, another stack) never fails the run.
 */
const PUBLISHED = [
  { variable: 'DASHBOARD_PUBLISHED_PORT', default: 3000 },
  { variable: 'OPENCTI_SIM_PUBLISHED_PORT', default: 4000 },
  { variable: 'SEKOIA_SIM_PUBLISHED_PORT', default: 8080 },
] as const;
let DASHBOARD = '';
let OPENCTI = '';
let SEKOIA = '';
const PRODUCT_SERVICES = ['redis', 'ingest', 'worker', 'dashboard'];
const SIMULATORS = ['opencti-sim', 'sekoia-sim'];
const IMAGES = [
  'opencti-sekoia-sync-ingest:latest',
  'opencti-sekoia-sync-worker:latest',
  'node:20-bookworm-slim',
  'redis:7-alpine',
];
/** Sekoia.io routes that change the collection (the simulator's route names). */
const WRITE_ROUTES = ['create-batch', 'import-text', 'edit-indicator', 'revoke-indicator'];
/** Generous for a loaded 2-core machine; a healthy run takes a fraction of each. */
const HEALTHY_MS = 240_000;
const CONVERGE_MS = 300_000;

const demoEnv = Object.fromEntries(
  readFileSync(join(root, 'demo.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);

const timings: Array<{ step: string; ms: number }> = [];
async function step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  console.log(`\n▶ ${name}`);
  const out = await fn();
  const ms = Date.now() - t0;
  timings.push({ step: name, ms });
  console.log(`✓ ${name} (${(ms / 1000).toFixed(1)} s)`);
  return out;
}

function check(ok: unknown, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`  ok: ${what}`);
}

// ---- docker ----

let workdir = '';
function compose(args: string[], opts: { quiet?: boolean } = {}): string {
  const r = spawnSync('docker', ['compose', '-p', PROJECT, '--profile', 'demo', ...args], {
    cwd: workdir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', opts.quiet ? 'pipe' : 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`docker compose ${args.join(' ')} exited ${r.status}\n${r.stdout}${r.stderr ?? ''}`);
  }
  return r.stdout;
}
function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).trim();
}

interface PsEntry {
  ID: string;
  Name: string;
  Service: string;
  State: string;
  Health: string;
}
function ps(all = false): PsEntry[] {
  const out = compose(['ps', '--format', 'json', ...(all ? ['--all'] : [])], { quiet: true }).trim();
  if (out === '') return [];
  // Compose 2.21+ prints one object per line; older ones a JSON array.
  return out.startsWith('[') ? JSON.parse(out) : out.split('\n').map((l) => JSON.parse(l));
}

/**
 * Waits until the expected number of containers of each service run and each has been reported healthy since
 * the wait began. A container counts once it was healthy: on a loaded machine a later healthcheck may exceed its
 * timeout and flip it to unhealthy for a while, which says nothing about the product.
 */
async function allHealthy(services: string[], counts: Record<string, number> = {}): Promise<void> {
  const seenHealthy = new Set<string>();
  await waitFor(
    () => {
      const entries = ps();
      for (const e of entries) if (e.State === 'running' && e.Health === 'healthy') seenHealthy.add(e.ID);
      return services.every((s) => {
        const mine = entries.filter((e) => e.Service === s && e.State === 'running');
        return mine.length === (counts[s] ?? 1) && mine.every((e) => seenHealthy.has(e.ID));
      });
    },
    { timeoutMs: HEALTHY_MS, intervalMs: 2000, what: `every container healthy (${services.join(', ')})` },
  );
}

// ---- the product, seen from outside ----

async function http(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
}
async function json<T>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await http(url, init);
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
const opencti = <T>(method: string, arg: unknown = {}) =>
  json<T>(`${OPENCTI}/_sim/${method}`, { method: 'POST', body: JSON.stringify(arg) });

interface CollectionState {
  converged: boolean;
  expected: number;
  live: number;
  summary: string;
}
/** The oracle of @octi-sekoia/simulators on what the OpenCTI simulator streamed vs the Sekoia simulator's collection. */
async function collectionState(): Promise<CollectionState> {
  const entries =
    await opencti<Array<{ id: string; event: string; payload: string; noId?: boolean }>>('entries');
  const expected = computeExpectedCollection(messagesFromLog(entries), {
    openctiUrl: demoEnv.OPENCTI_URL ?? '',
    descriptionTemplate: demoEnv.SEKOIA_INTEL_DESCRIPTION_TEMPLATE ?? '',
    validUntilRounding: 'day',
    extractionMode: 'strict',
  });
  const actual = await json<Array<{ canonical: string; revoked: boolean } & Record<string, unknown>>>(
    `${SEKOIA}/_sim/indicators`,
  );
  const diff = diffCollections(
    expected,
    actual.map((i) => ({ ...i, value: i.canonical }) as never),
  );
  return {
    converged: isConverged(diff),
    expected: expected.size,
    live: actual.filter((i) => !i.revoked).length,
    summary: `missing ${diff.missing.length}, unexpected ${diff.unexpected.length}, wrong attributes ${diff.wrongAttributes.length}, duplicates ${diff.duplicates.length}`,
  };
}

async function converged(what: string): Promise<CollectionState> {
  let last: CollectionState | undefined;
  try {
    await waitFor(
      async () => {
        last = await collectionState();
        return last.converged;
      },
      { timeoutMs: CONVERGE_MS, intervalMs: 2000, what },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last diff: ${last?.summary ?? 'none'}`);
  }
  console.log(`  ok: ${what}: ${last?.expected} values expected, ${last?.live} live in the collection`);
  return last as CollectionState;
}

interface Status {
  stream: { state: string };
  queue: { waiting: number; active: number; delayed: number; failed: number; workers: number };
  dirty: { total: number };
  deadLetters: { total: number };
  values: { total: number; live: number };
}
/** `cli status --json` inside a worker container: the operator's view. Exit 1 (attention) still prints JSON. */
function cliStatus(): Status {
  const r = spawnSync(
    'docker',
    ['compose', '-p', PROJECT, 'exec', '-T', 'worker', 'node', '/app/cli/dist/main.js', 'status', '--json'],
    { cwd: workdir, encoding: 'utf8' },
  );
  if (r.status !== 0 && r.status !== 1) throw new Error(`cli status exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}
/** A key of this test's own in the product's Redis: proves what persistence keeps. */
const MARKER = 'compose-e2e:persistence-marker';
function redisCli(...args: string[]): string {
  return compose(['exec', '-T', 'redis', 'redis-cli', ...args], { quiet: true }).trim();
}

/** Once Redis answers (it may still be loading its append-only file), the marker is there. */
async function markerKept(what: string): Promise<void> {
  const value = await waitFor(
    () => {
      const v = redisCli('GET', MARKER);
      return /LOADING|Could not connect/.test(v) ? undefined : { v };
    },
    { timeoutMs: HEALTHY_MS, intervalMs: 1000, what: 'Redis answering' },
  );
  check(value.v === 'kept', what);
}

/** Waits until the stream is open and nothing is queued or dirty; returns that status. */
async function idleStatus(): Promise<Status> {
  return waitFor(
    () => {
      const s = cliStatus();
      const idle =
        s.stream.state === 'open' &&
        s.queue.waiting + s.queue.active + s.queue.delayed === 0 &&
        s.dirty.total === 0;
      return idle ? s : undefined;
    },
    {
      timeoutMs: CONVERGE_MS,
      intervalMs: 2000,
      what: 'the sync idle (stream open, nothing queued or dirty)',
    },
  );
}

async function sekoiaWrites(): Promise<number> {
  const counters = await json<Record<string, Record<string, number>>>(`${SEKOIA}/_sim/counters`);
  let n = 0;
  for (const route of WRITE_ROUTES) for (const c of Object.values(counters[route] ?? {})) n += c;
  return n;
}

function ipv4(i: number): string {
  return `198.51.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`;
}
async function addIndicators(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await opencti('createIndicator', { pattern: `[ipv4-addr:value = '${ipv4(i)}']`, score: 70 });
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function hostUidsOf(container: string): number[] {
  // `docker top` runs ps on the host for the container's processes; it needs the PID column to match them.
  return docker(['top', container, '-eo', 'pid,uid'])
    .split('\n')
    .slice(1)
    .map((l) => Number(l.trim().split(/\s+/)[1]));
}

// ---- the scenario ----

/** The product containers' logs taken before `down` removes them, for the secrets check. */
let logsBeforeDown = '';

async function scenario(): Promise<void> {
  await step('preflight: scratch copy with demo.env as .env, free published ports', async () => {
    workdir = mkdtempSync(join(tmpdir(), 'compose-e2e-'));
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root })
      .toString()
      .split('\0')
      .filter((f) => f !== '' && !f.includes('node_modules/'));
    for (const f of files) cpSync(join(root, f), join(workdir, f), { recursive: true });
    // A stack of this project left by an interrupted run would hold the ports: remove it first.
    compose(['down', '-v', '--remove-orphans'], { quiet: true });
    const ports: number[] = [];
    for (const p of PUBLISHED) {
      const port = (await portFree(p.default)) ? p.default : await freePort();
      if (port !== p.default) console.log(`  127.0.0.1:${p.default} is taken: ${p.variable}=${port}`);
      ports.push(port);
    }
    check(new Set(ports).size === ports.length, `distinct published ports (${ports.join(', ')})`);
    const url = (port: number | undefined) => `http://127.0.0.1:${port}`;
    [DASHBOARD, OPENCTI, SEKOIA] = [url(ports[0]), url(ports[1]), url(ports[2])];
    const env = readFileSync(join(root, 'demo.env'), 'utf8');
    const published = PUBLISHED.map((p, i) => `${p.variable}=${ports[i]}`).join('\n');
    writeFileSync(join(workdir, '.env'), `${env.trimEnd()}\n${published}\n`);
  });

  await step('docker compose --profile demo up -d --build', () => {
    compose(['up', '-d', '--build', '--quiet-pull']);
  });
  const sizes = IMAGES.map((i) => ({
    image: i,
    mb: Number(docker(['image', 'inspect', '-f', '{{ .Size }}', i])) / 1e6,
  }));

  await step('every service healthy, simulators included', () =>
    allHealthy([...PRODUCT_SERVICES, ...SIMULATORS], { worker: 2 }),
  );

  await step(
    'the collection equals what OpenCTI says (oracle) and the CLI reports no attention',
    async () => {
      await converged('seeded bundles synced');
      const s = await idleStatus();
      check(s.deadLetters.total === 0, 'no dead letters');
      check(s.queue.failed === 0, 'no failed jobs');
    },
  );

  await step('--scale worker=3', async () => {
    compose(['up', '-d', '--scale', 'worker=3', '--no-recreate']);
    await allHealthy(['worker'], { worker: 3 });
    await waitFor(() => cliStatus().queue.workers === 3, { timeoutMs: HEALTHY_MS, what: '3 BullMQ workers' });
    check(true, '3 worker containers healthy, 3 BullMQ workers on the queue');
  });

  const before = cliStatus().values.total;
  await step('SIGKILL one worker, restart Redis, add indicators: converges with nothing lost', async () => {
    const victim = ps().find((e) => e.Service === 'worker') as PsEntry;
    const restarts = Number(docker(['inspect', '-f', '{{ .RestartCount }}', victim.ID]));
    // A crash, not `docker kill` (which counts as a manual stop and disables the restart policy).
    const pid = docker(['inspect', '-f', '{{ .State.Pid }}', victim.ID]);
    execFileSync('kill', ['-KILL', pid]);
    console.log(`  SIGKILLed ${victim.Name} (host pid ${pid})`);
    await addIndicators(0, 20);
    redisCli('SET', MARKER, 'kept');
    compose(['restart', 'redis']);
    check(
      redisCli('GET', MARKER) === 'kept',
      'Redis restarted with its data (append-only file on the volume)',
    );
    await addIndicators(20, 20);
    const first = (await opencti<Array<{ internalId: string }>>('listIndicators'))[0];
    if (first) await opencti('revokeIndicator', { internalId: first.internalId });
    await waitFor(() => Number(docker(['inspect', '-f', '{{ .RestartCount }}', victim.ID])) > restarts, {
      timeoutMs: HEALTHY_MS,
      what: `${victim.Name} restarted by its restart policy`,
    });
    await allHealthy(PRODUCT_SERVICES, { worker: 3 });
    check(true, `${victim.Name} restarted after SIGKILL and is healthy again`);
    await converged('40 new indicators and one revoke synced after the crash and the Redis restart');
    const s = await idleStatus();
    check(s.values.total === before + 40, `40 more values in the sync state (${before} → ${s.values.total})`);
    check(s.deadLetters.total === 0, 'no dead letters');
  });

  await step('down then up: the state is kept (volume), nothing is re-sent to Sekoia.io', async () => {
    const writes = await sekoiaWrites();
    const values = cliStatus().values.total;
    // The simulators stand for OpenCTI and Sekoia.io, which outlive a redeploy: only the product goes down.
    logsBeforeDown = compose(['logs', '--no-color', ...PRODUCT_SERVICES], { quiet: true });
    compose(['down', ...PRODUCT_SERVICES]);
    check(
      ps(true).every((e) => SIMULATORS.includes(e.Service)),
      'only the simulators are left',
    );
    compose(['up', '-d']);
    await allHealthy([...PRODUCT_SERVICES, ...SIMULATORS], { worker: 2 });
    await markerKept('Redis came back with the data of its volume');
    const s = await idleStatus();
    check(s.values.total === values, `the sync state is back (${values} values)`);
    check(
      (await sekoiaWrites()) === writes,
      `no write request to Sekoia.io after the restart (${writes} before)`,
    );
    await addIndicators(40, 1);
    await converged('an indicator added after the restart synced');
    check((await sekoiaWrites()) === writes + 1, 'exactly one write request for it');
  });

  await step('dashboard on the published port: 401 without credentials, 200 with them', async () => {
    check((await http(`${DASHBOARD}/`)).status === 401, 'GET / without credentials → 401');
    const auth = `Basic ${Buffer.from(`${demoEnv.DASHBOARD_USERNAME}:${demoEnv.DASHBOARD_PASSWORD}`).toString('base64')}`;
    check(
      (await http(`${DASHBOARD}/`, { headers: { authorization: auth } })).status === 200,
      'with them → 200',
    );
  });

  await step('containers run as non-root', () => {
    for (const e of ps()) {
      const uids = hostUidsOf(e.ID);
      check(
        uids.length > 0 && uids.every((u) => u !== 0),
        `${e.Name}: every process runs as uid ${uids.join(',')}`,
      );
    }
    for (const image of IMAGES.slice(0, 2)) {
      check(
        docker(['image', 'inspect', '-f', '{{ .Config.User }}', image]) === 'node',
        `${image}: USER node`,
      );
    }
  });

  await step("no secret in the product containers' logs", () => {
    const logs = logsBeforeDown + compose(['logs', '--no-color', ...PRODUCT_SERVICES], { quiet: true });
    check(logs.length > 0, `${logs.split('\n').length} log lines read`);
    for (const key of ['OPENCTI_TOKEN', 'SEKOIA_INTEL_APIKEY', 'DASHBOARD_PASSWORD']) {
      const secret = demoEnv[key] ?? '';
      check(secret !== '' && !logs.includes(secret), `${key}'s value appears in no log line`);
    }
  });

  await step('docker compose down -v leaves nothing', () => {
    compose(['down', '-v', '--remove-orphans']);
    const label = `label=com.docker.compose.project=${PROJECT}`;
    check(docker(['ps', '-aq', '--filter', label]) === '', 'no container');
    check(docker(['volume', 'ls', '-q', '--filter', label]) === '', 'no volume');
    check(docker(['network', 'ls', '-q', '--filter', label]) === '', 'no network');
  });

  console.log('\nimage sizes:');
  for (const s of sizes) console.log(`  ${s.image.padEnd(40)} ${s.mb.toFixed(0).padStart(5)} MB`);
}

const t0 = Date.now();
let failed = false;
try {
  await scenario();
} catch (err) {
  failed = true;
  console.error(`\n✗ ${(err as Error).message}`);
  if (workdir) {
    spawnSync('docker', ['compose', '-p', PROJECT, '--profile', 'demo', 'ps', '--all'], {
      cwd: workdir,
      stdio: 'inherit',
    });
    spawnSync(
      'docker',
      ['compose', '-p', PROJECT, '--profile', 'demo', 'logs', '--no-color', '--tail', '40'],
      {
        cwd: workdir,
        stdio: 'inherit',
      },
    );
  }
} finally {
  if (workdir) {
    spawnSync('docker', ['compose', '-p', PROJECT, '--profile', 'demo', 'down', '-v', '--remove-orphans'], {
      cwd: workdir,
      stdio: 'ignore',
    });
    rmSync(workdir, { recursive: true, force: true });
  }
}
console.log('\nstep times:');
for (const t of timings) console.log(`  ${(t.ms / 1000).toFixed(1).padStart(7)} s  ${t.step}`);
console.log(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(7)} s  total`);
console.log(`compose-e2e: ${timings.length} passed, ${failed ? 1 : 0} failed`);
process.exit(failed ? 1 : 0);
