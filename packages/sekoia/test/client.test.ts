import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SekoiaClient } from '../src/index.ts';
import { type Setup, setup } from './helpers.ts';

let s: Setup;
afterEach(async () => {
  await s?.close();
});

describe('SekoiaClient against the simulator', () => {
  it('accepts every form of base URL and a bare collection UUID', async () => {
    s = await setup();
    const bare = s.sim.collectionId.slice('ioc-collection--'.length);
    for (const baseUrl of [
      s.sim.url,
      `${s.sim.url}/`,
      `${s.sim.url}/api`,
      `${s.sim.url}/v2/inthreat/ioc-collections`,
      `${s.sim.url}/api/v2/inthreat/ioc-collections/`,
    ]) {
      const c = new SekoiaClient({ baseUrl, apiKey: s.sim.apiKey, collectionId: bare, timeoutMs: 5000 });
      try {
        expect((await c.getCollection()).id).toBe(s.sim.collectionId);
      } finally {
        c.close();
      }
    }
  });

  it('getCollection and countTotalIocs', async () => {
    s = await setup();
    await s.client.createBatch({}, [{ value: '203.0.113.9' }]);
    expect(await s.client.getCollection()).toMatchObject({ id: s.sim.collectionId, indicators_count: 1 });
    expect(await s.client.countTotalIocs()).toEqual({ count: 1, max: 500000 });
  });

  it('createBatch sends default fields and per-value valid_from, and matches ids by name', async () => {
    s = await setup({ behavior: { itemOrder: 'shuffled' } });
    const values = Array.from({ length: 40 }, (_, i) => ({ value: `198.51.100.${i}` }));
    values[3] = { value: '198.51.100.3', valid_from: '2026-01-02T00:00:00Z' } as (typeof values)[number];
    const out = await s.client.createBatch(
      {
        description: 'https://octi.example/dashboard/observations/indicators/42',
        valid_until: '2030-01-01T00:00:00Z',
        kill_chain_phases: [{ kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: 'delivery' }],
        valid_from: undefined,
      },
      values,
    );
    expect(out.map((o) => o.value)).toEqual(values.map((v) => v.value));
    const state = new Map(s.sim.control.indicators().map((i) => [i.id, i]));
    for (const o of out) expect(state.get(o.id)?.name).toBe(o.value);
    const third = state.get(out[3]!.id)!;
    expect(third.valid_from).toBe('2026-01-02T00:00:00.000Z');
    expect(third).toMatchObject({
      description: 'https://octi.example/dashboard/observations/indicators/42',
      valid_until: '2030-01-01T00:00:00.000Z',
      kill_chain_phases: [{ kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: 'delivery' }],
    });
  });

  it('createBatch matches by canonical name when Sekoia normalises the value', async () => {
    s = await setup({ behavior: { itemName: 'canonical' } });
    const out = await s.client.createBatch({}, [
      { value: 'Evil.EXAMPLE' },
      { value: 'D41D8CD98F00B204E9800998ECF8427E' },
    ]);
    expect(out.map((o) => o.value)).toEqual(['Evil.EXAMPLE', 'D41D8CD98F00B204E9800998ECF8427E']);
    expect(out.every((o) => o.id.startsWith('indicator--'))).toBe(true);
  });

  it('createBatch leaves out values Sekoia did not store, flags a value answered with a revoked indicator', async () => {
    s = await setup({ behavior: { invalidValue: 'reject-item', reimportRevoked: 'ignore' } });
    const [first] = await s.client.createBatch({}, [{ value: '203.0.113.1' }]);
    await s.client.revoke(first!.id);
    const out = await s.client.createBatch({}, [
      { value: '203.0.113.1' },
      { value: 'not a value' },
      { value: '203.0.113.2' },
    ]);
    // Re-import of a revoked value ignored: the revoked indicator comes back flagged; the invalid one is left out.
    expect(out.map((o) => [o.value, o.revoked ?? false])).toEqual([
      ['203.0.113.1', true],
      ['203.0.113.2', false],
    ]);
    expect(out[0]!.id).toBe(first!.id);
  });

  it('forceDelete: refused within 24 h of the revocation, deletes after, not-found once gone', async () => {
    s = await setup({ behavior: { reimportRevoked: 'ignore' } });
    const [a] = await s.client.createBatch({}, [{ value: '203.0.113.1' }]);
    await s.client.revoke(a!.id);
    await expect(s.client.forceDelete(a!.id)).rejects.toMatchObject({ policy: 'rejected', status: 400 });
    s.sim.control.advanceClock(24 * 3600_000 + 1000);
    expect(await s.client.forceDelete(a!.id)).toBe('deleted');
    expect(await s.client.forceDelete(a!.id)).toBe('not-found');
    // Gone for good: the value can be created again.
    const [b] = await s.client.createBatch({}, [{ value: '203.0.113.1' }]);
    expect(b).toMatchObject({ value: '203.0.113.1' });
    expect(b!.revoked).toBeUndefined();
  });

  it('createBatch returns the existing id on an update re-import', async () => {
    s = await setup();
    const [a] = await s.client.createBatch({ description: 'one' }, [{ value: '203.0.113.1' }]);
    const [b] = await s.client.createBatch({ description: 'two' }, [{ value: '203.0.113.1' }]);
    expect(b!.id).toBe(a!.id);
  });

  it('createBatch refuses fewer than 1 or more than 100 values before any request', async () => {
    s = await setup();
    await expect(s.client.createBatch({}, [])).rejects.toThrow(RangeError);
    const many = Array.from({ length: 101 }, (_, i) => ({ value: `10.0.0.${i}` }));
    await expect(s.client.createBatch({}, many)).rejects.toThrow(RangeError);
    expect(s.tokens()).toBe(0);
  });

  it('edit changes the editable fields', async () => {
    s = await setup();
    const [a] = await s.client.createBatch({ description: 'one' }, [{ value: '203.0.113.1' }]);
    const edited = await s.client.edit(a!.id, { description: 'two', valid_until: '2030-01-01T00:00:00Z' });
    expect(edited).toMatchObject({ id: a!.id, description: 'two', valid_until: '2030-01-01T00:00:00.000Z' });
    expect(s.sim.control.indicators()[0]?.description).toBe('two');
  });

  it('revoke: revoked, then not-found on a repeat that answers 404, revoked on one that answers 200', async () => {
    s = await setup();
    const [a] = await s.client.createBatch({}, [{ value: '203.0.113.1' }]);
    expect(await s.client.revoke(a!.id)).toBe('revoked');
    expect(s.sim.control.liveValues()).toEqual([]);
    expect(await s.client.revoke(a!.id)).toBe('revoked');
    s.sim.control.setBehavior({ repeatRevoke: 404 });
    expect(await s.client.revoke(a!.id)).toBe('not-found');
    expect(await s.client.revoke('indicator--00000000-0000-4000-8000-000000000000')).toBe('not-found');
  });

  it('searchExact drops substring false hits, reads every page, flags revoked ones', async () => {
    s = await setup({ behavior: { reimport: 'duplicate' } });
    await s.client.createBatch({}, [
      { value: '1.2.3.45' },
      { value: '11.2.3.4' },
      { value: '1.2.3.4.example' },
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 130; i++)
      ids.push(...(await s.client.createBatch({}, [{ value: '1.2.3.4' }])).map((o) => o.id));
    await s.client.revoke(ids[0]!);
    s.sim.control.resetCounters();
    const before = s.tokens();
    const hits = await s.client.searchExact('1.2.3.4');
    expect(hits).toHaveLength(130);
    expect(new Set(hits.map((h) => h.id))).toEqual(new Set(ids));
    expect(hits.filter((h) => h.revoked).map((h) => h.id)).toEqual([ids[0]]);
    expect(hits.every((h) => h.value === '1.2.3.4')).toBe(true);
    // 133 substring hits over pages of 100: two requests, each announced through beforeRequest.
    expect(s.sim.control.requestCount('list-indicators', 200)).toBe(2);
    expect(s.tokens() - before).toBe(2);
  });

  it('searchExact URL-encodes the term (&, #, ?, +, spaces)', async () => {
    s = await setup();
    const url = 'http://evil.example/a?b=1&c=a+b#frag';
    await s.client.createBatch({}, [{ value: url }, { value: 'http://evil.example/a?b=1' }]);
    const hits = await s.client.searchExact(url);
    expect(hits.map((h) => h.value)).toEqual([url]);
    expect(await s.client.searchExact('http://nothing.example/')).toEqual([]);
  });

  it('listAll pages through every indicator, revoked included', async () => {
    s = await setup();
    for (let b = 0; b < 3; b++) {
      await s.client.createBatch(
        {},
        Array.from({ length: 84 }, (_, i) => ({ value: `10.0.${b}.${i}` })),
      );
    }
    const [first] = s.sim.control.indicators();
    await s.client.revoke(first!.id);
    const pages: number[] = [];
    const seen = new Set<string>();
    const n = await s.client.listAll(async (items) => {
      pages.push(items.length);
      for (const i of items) seen.add(i.id);
    });
    expect(n).toBe(252);
    expect(pages).toEqual([100, 100, 52]);
    expect(seen.size).toBe(252);
  });

  it('beforeRequest is awaited before every HTTP request', async () => {
    s = await setup();
    const [a] = await s.client.createBatch({}, [{ value: '203.0.113.1' }]);
    await s.client.getCollection();
    await s.client.countTotalIocs();
    await s.client.edit(a!.id, { description: 'x' });
    await s.client.revoke('indicator--00000000-0000-4000-8000-000000000000'); // DELETE + GET collection
    await s.client.searchExact('203.0.113.1');
    expect(s.tokens()).toBe(s.sim.control.requestCount());
    expect(s.tokens()).toBe(7);
  });

  it('a failing beforeRequest stops the request', async () => {
    s = await setup({}, { beforeRequest: async () => Promise.reject(new Error('budget closed')) });
    await expect(s.client.getCollection()).rejects.toThrow('budget closed');
    expect(s.sim.control.requestCount()).toBe(0);
  });

  it('sends the Bearer key, Accept, Content-Type and the User-Agent', async () => {
    s = await setup();
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ items: [{ id: 'indicator--1', name: '203.0.113.1', revoked: false }], total: 1 }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const c = new SekoiaClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: 'k1',
      collectionId: 'ioc-collection--x',
      timeoutMs: 5000,
      userAgent: 'octi-sekoia-sync/test',
    });
    try {
      expect(await c.createBatch({}, [{ value: '203.0.113.1' }])).toEqual([
        { id: 'indicator--1', value: '203.0.113.1' },
      ]);
    } finally {
      c.close();
      server.close();
    }
    expect(seen[0]).toMatchObject({
      authorization: 'Bearer k1',
      accept: 'application/json',
      'content-type': 'application/json',
      'user-agent': 'octi-sekoia-sync/test',
      connection: 'keep-alive',
    });
  });
});
