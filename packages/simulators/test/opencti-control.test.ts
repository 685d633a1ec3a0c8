import { fileURLToPath } from 'node:url';
import { startProcess, waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '../src/opencti/index.ts';
import { auth, gql, json, openRaw, streamUrl } from './opencti-helpers.ts';

const sims: OpenCtiSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function post(url: string, method: string, body: unknown = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/_sim/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('OpenCTI simulator control over HTTP (/_sim)', () => {
  it('exposes the control methods: create, change, inspect; unknown method 404, bad input 400', async () => {
    const sim = await startOpenCtiSimulator({ heartbeatMs: 50 });
    sims.push(sim);
    const created = await post(sim.url, 'createIndicator', {
      pattern: "[domain-name:value = 'evil.example']",
    });
    expect(created.status).toBe(200);
    expect(created.body.stixId).toMatch(/^indicator--/);
    const changed = await post(sim.url, 'changePattern', {
      internalId: created.body.internalId,
      pattern: "[domain-name:value = 'evil2.example']",
    });
    expect(changed.body.internalId).toBe(created.body.internalId);
    expect(changed.body.stixId).not.toBe(created.body.stixId);
    const list = (await (await fetch(`${sim.url}/_sim/listIndicators`)).json()) as Array<{
      stix: { pattern: string };
    }>;
    expect(list).toHaveLength(1);
    expect(list[0]?.stix.pattern).toBe("[domain-name:value = 'evil2.example']");
    expect((await post(sim.url, 'nope')).status).toBe(404);
    const bad = await post(sim.url, 'revokeIndicator', { internalId: 'missing' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('missing');

    const r = await openRaw(streamUrl(sim), auth(sim.token, { 'last-event-id': '0-0' }));
    await waitFor(
      async () => ((await (await fetch(`${sim.url}/_sim/connections`)).json()) as unknown[]).length === 1,
      {
        what: 'conn',
      },
    );
    expect((await post(sim.url, 'cutConnections', { mode: 'end' })).body).toBe(1);
    expect(await r.ended).toBe('end');
    expect(
      r
        .frames()
        .filter((f) => f.event === 'update')
        .map((f) => json(f).data.pattern),
    ).toEqual(["[domain-name:value = 'evil2.example']"]);
  });
});

describe('OpenCTI simulator CLI', () => {
  it('starts with --port/--token/--stream-id/--heartbeat-ms/--seed-bundle and prints its URL', async () => {
    const cli = fileURLToPath(new URL('../src/opencti/cli.ts', import.meta.url));
    const bundle = fileURLToPath(new URL('../data/oasis-poisonivy.json', import.meta.url));
    const proc = startProcess(process.execPath, [
      '--import',
      'tsx',
      cli,
      '--port',
      '0',
      '--token',
      'cli-token',
      '--stream-id',
      'cli-stream',
      '--heartbeat-ms',
      '100',
      '--seed-bundle',
      bundle,
    ]);
    try {
      await proc.waitForOutput(/listening on (http:\/\/\S+)/);
      const url = /listening on (http:\/\/\S+)/.exec(proc.output())?.[1] as string;
      expect(proc.output()).toMatch(/25 indicators/);
      expect(proc.output()).not.toContain('cli-token');
      const about = await gql({ url }, 'cli-token', 'query { about { version } }');
      expect(about.body.data.about.version).toBe('6.8.10');
      const r = await openRaw(
        `${url}/stream/cli-stream`,
        auth('cli-token', { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
      );
      await waitFor(
        () => r.frames().filter((f) => f.event === 'create' && json(f).type === 'create').length === 25,
        {
          what: '25 indicator creates',
        },
      );
      await waitFor(() => r.frames().some((f) => f.event === 'heartbeat'), { what: 'a heartbeat' });
      r.close();
    } finally {
      proc.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    }
  });
});
