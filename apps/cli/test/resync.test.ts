import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, redisEnv } from './helpers.ts';
import { connectorKeys } from './seed.ts';

describe('resync', () => {
  let r: TestRedis;
  beforeEach(async () => {
    r = await testRedis('cli-resync');
  });
  afterEach(async () => {
    await r.cleanup();
  });

  it('sets the request key to now and says what will happen; exit 0', async () => {
    const k = connectorKeys(r);
    await r.client.set(k.generation, '3');
    await r.client.set(k.lease, 'token', 'PX', 60_000);
    const before = Date.now();
    const res = await cli(['resync'], redisEnv(r));
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    const requested = await r.client.get(k.resyncRequested);
    expect(requested).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(requested as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(requested as string)).toBeLessThanOrEqual(Date.now());
    expect(res.stdout).toContain(`re-sync requested at ${requested} (${k.resyncRequested})`);
    expect(res.stdout).toContain('full recovery');
    expect(res.stdout).toContain('revoked from the Sekoia.io collection');
    expect(res.stdout).toContain('Current generation: 3; the re-sync starts the next.');
    expect(res.stdout).not.toContain('no ingest replica');
  });

  it('--json; a pending request is replaced; without a reader it says the request waits', async () => {
    const k = connectorKeys(r);
    await r.client.set(k.resyncRequested, '2026-01-01T00:00:00.000Z');
    const res = await cli(['resync', '--json'], redisEnv(r));
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out).toEqual({
      key: k.resyncRequested,
      requestedAt: await r.client.get(k.resyncRequested),
      replaces: '2026-01-01T00:00:00.000Z',
      leader: false,
      generation: null,
    });
    const human = await cli(['resync'], redisEnv(r));
    expect(human.stdout).toContain(
      'note: no ingest replica holds the reader lease right now: the request waits until one does.',
    );
  });
});
