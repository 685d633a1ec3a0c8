import { configTable } from '@octi-sekoia/config';
import { describe, expect, it } from 'vitest';
import { envKeys, loadCompose, readRepoFile } from './files.ts';

const compose = loadCompose();
const apps = ['ingest', 'worker', 'dashboard'];

describe('docker-compose.yml', () => {
  it('has redis, ingest, worker and dashboard', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['redis', ...apps]));
  });

  it('runs redis with append-only persistence on a volume, noeviction and a healthcheck', () => {
    const redis = compose.services.redis!;
    const cmd = (redis.command as string[]).join(' ');
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.volumes.some((v: string) => v.endsWith(':/data'))).toBe(true);
    expect(redis.healthcheck?.test).toBeDefined();
  });

  it.each(apps)('%s has a restart policy, a healthcheck and waits for a healthy redis', (name) => {
    const svc = compose.services[name]!;
    expect(svc.restart).toBe('unless-stopped');
    expect(svc.healthcheck?.test).toBeDefined();
    expect(svc.depends_on?.redis?.condition).toBe('service_healthy');
  });

  it('keeps workers scalable with --scale worker=N (no container name, no host ports)', () => {
    const worker = compose.services.worker!;
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(worker.build.dockerfile).toBe('Dockerfile.worker');
  });

  it('builds ingest and worker from the two Dockerfiles and runs the dashboard from the worker image', () => {
    expect(compose.services.ingest!.build.dockerfile).toBe('Dockerfile.ingest');
    expect(compose.services.dashboard!.build).toBeUndefined();
    expect(compose.services.dashboard!.image).toBe(compose.services.worker!.image);
    expect(compose.services.dashboard!.command.join(' ')).toMatch(/dashboard\/dist\/main\.js/);
  });

  // fetch() loads undici: about three times the CPU of node:http per check; on a loaded host the check passed
  // its 5 s timeout and running apps were reported unhealthy (seen in the compose e2e).
  it('probes every service over node:http, not fetch', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (name === 'redis') continue;
      const test = ((svc.healthcheck?.test ?? []) as string[]).join(' ');
      expect(test, name).toMatch(/^CMD node -e require\('http'\)\.get\('http:\/\/127\.0\.0\.1:\d+\//);
      expect(test, name).not.toContain('fetch(');
    }
  });

  it('sets only environment keys that exist in the configuration schema', () => {
    const known = new Set(configTable().map((row) => row.env));
    for (const name of apps) {
      for (const key of envKeys(compose.services[name]!)) {
        expect(known.has(key), `${name} sets ${key}, which is not a configuration variable`).toBe(true);
      }
    }
  });

  it('bakes no secret into the compose file', () => {
    const secrets = new Set(
      configTable()
        .filter((r) => r.secret)
        .map((r) => r.env),
    );
    for (const name of apps) {
      for (const key of envKeys(compose.services[name]!)) expect(secrets.has(key)).toBe(false);
    }
  });

  it('publishes the dashboard on loopback only by default', () => {
    for (const p of compose.services.dashboard!.ports as string[])
      expect(p.startsWith('127.0.0.1:')).toBe(true);
  });
});

describe('the demo profile', () => {
  const sims = ['opencti-sim', 'sekoia-sim'];

  it.each(sims)('%s runs only with --profile demo, from the worker image, on loopback', (name) => {
    const svc = compose.services[name]!;
    expect(svc.profiles).toEqual(['demo']);
    expect(svc.build).toBeUndefined();
    expect(svc.image).toBe(compose.services.worker!.image);
    expect((svc.command as string[]).join(' ')).toMatch(/\/app\/simulators\/dist\/(opencti|sekoia)\/cli\.js/);
    expect(svc.ports).not.toHaveLength(0);
    for (const p of svc.ports as string[]) expect(p.startsWith('127.0.0.1:')).toBe(true);
    expect(svc.restart).toBe('unless-stopped');
  });

  // The worker image's HEALTHCHECK probes the worker port (9102), which a simulator does not serve: inherited, it
  // reported both simulators unhealthy forever (found by the compose e2e, scripts/compose-e2e).
  it.each(sims)('%s has its own healthcheck on the port it listens on', (name) => {
    const svc = compose.services[name]!;
    const command = svc.command as string[];
    const port = command[command.indexOf('--port') + 1];
    const test = (svc.healthcheck?.test ?? []) as string[];
    expect(test[0]).toBe('CMD');
    expect(test.join(' ')).toContain(`http://127.0.0.1:${port}/_sim/`);
    expect(test.join(' ')).not.toContain('9102');
  });

  it('keeps the product services out of the demo profile', () => {
    for (const name of ['redis', ...apps]) expect(compose.services[name]!.profiles).toBeUndefined();
  });

  it('demo.env points the apps at the simulators with configuration variables only', () => {
    const known = new Set(configTable().map((row) => row.env));
    const env = Object.fromEntries(
      readRepoFile('demo.env')
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    for (const key of Object.keys(env)) expect(known.has(key), key).toBe(true);
    const sekoia = (compose.services['sekoia-sim']!.command as string[]).join(' ');
    const opencti = (compose.services['opencti-sim']!.command as string[]).join(' ');
    expect(env.OPENCTI_URL).toBe('http://opencti-sim:4000');
    expect(env.SEKOIA_INTEL_URL).toBe('http://sekoia-sim:8080');
    expect(opencti).toContain(`--token ${env.OPENCTI_TOKEN}`);
    expect(opencti).toContain(`--stream-id ${env.CONNECTOR_LIVE_STREAM_ID}`);
    expect(sekoia).toContain(`--api-key ${env.SEKOIA_INTEL_APIKEY}`);
    expect(sekoia).toContain(`--collection ${env.SEKOIA_INTEL_IOC_COLLECTION_UUID}`);
  });
});
