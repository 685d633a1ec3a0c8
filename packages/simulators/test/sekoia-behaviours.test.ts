import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SekoiaSimulator } from '../src/sekoia/index.ts';
import { call, createBatch, startSim } from './sekoia-helpers.ts';

// The switches of issue 14 (one per behaviour no public source settles), each variant over real HTTP.

let sim: SekoiaSimulator;
afterEach(async () => {
  await sim?.close();
});

const list = (query: string) => call(sim, 'GET', `${sim.collectionId}/indicators?${query}`);
const del = (id: string) => call(sim, 'DELETE', `${sim.collectionId}/indicators/${id}`);
const put = (id: string, body: unknown) => call(sim, 'PUT', `${sim.collectionId}/indicators/${id}`, body);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('row 1: itemName', () => {
  const hashUpper = sha256('row 1').toUpperCase();
  const md5Lower = md5('row 1');
  const sent = [hashUpper, md5Lower, '2001:DB8:0:0::1', '192.0.2.1'];
  it.each([
    ['as-sent', [hashUpper, md5Lower, '2001:DB8:0:0::1', '192.0.2.1']],
    ['canonical', [hashUpper.toLowerCase(), md5Lower, '2001:db8::1', '192.0.2.1']],
    ['upper-hashes', [hashUpper, md5Lower.toUpperCase(), '2001:db8::1', '192.0.2.1']],
    [
      'ipv6-expanded',
      [hashUpper.toLowerCase(), md5Lower, '2001:0db8:0000:0000:0000:0000:0000:0001', '192.0.2.1'],
    ],
    ['file-hashes', [`SHA-256:${hashUpper.toLowerCase()}`, `MD5:${md5Lower}`, '2001:db8::1', '192.0.2.1']],
  ] as const)('%s', async (itemName, names) => {
    sim = await startSim({ behavior: { itemName } });
    const r = await createBatch(sim, sent);
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { name: string }) => i.name)).toEqual(names);
  });
});

describe('row 2: putNull', () => {
  it.each([
    ['clear', 200, null, null],
    ['reject', 400, 'd', '2030-01-01T00:00:00.000Z'],
    ['keep', 200, 'd', '2030-01-01T00:00:00.000Z'],
  ] as const)('%s', async (putNull, status, description, validUntil) => {
    sim = await startSim({ behavior: { putNull } });
    const [ind] = (await createBatch(sim, ['192.0.2.2'], { description: 'd', valid_until: '2030-01-01' }))
      .body.items;
    expect((await put(ind.id, { description: null, valid_until: null })).status).toBe(status);
    const [state] = sim.control.indicators();
    expect(state).toMatchObject({ description, valid_until: validUntil });
  });
});

describe('row 4: hasMore', () => {
  it.each([
    ['present', true],
    ['absent', false],
  ] as const)('%s', async (hasMore, present) => {
    sim = await startSim({ behavior: { hasMore } });
    await createBatch(sim, ['192.0.2.3', '192.0.2.4']);
    const page = await list('limit=1');
    expect(page.body.total).toBe(2);
    expect('has_more' in page.body).toBe(present);
    if (present) expect(page.body.has_more).toBe(true);
  });
});

describe('row 6: repeatRevoke', () => {
  it.each([200, 404, 400] as const)('%s', async (repeatRevoke) => {
    sim = await startSim({ behavior: { repeatRevoke } });
    const [ind] = (await createBatch(sim, ['192.0.2.5'])).body.items;
    expect((await del(ind.id)).status).toBe(200);
    expect((await del(ind.id)).status).toBe(repeatRevoke);
  });
});

describe('row 7: forbiddenBody', () => {
  it.each([
    ['json', 'application/json'],
    ['text', 'text/plain'],
    ['html', 'text/html'],
  ] as const)('%s', async (forbiddenBody, type) => {
    sim = await startSim({ behavior: { forbiddenBody }, keys: [{ key: 'view-only', manage: false }] });
    const r = await call(
      sim,
      'POST',
      `${sim.collectionId}/indicators`,
      { default_fields: {}, indicators: [{ value: '192.0.2.6' }] },
      { key: 'view-only' },
    );
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toContain(type);
    expect(r.text).toContain('Manage IOC collections');
    expect(sim.control.indicators()).toEqual([]);
  });
});

describe('row 8: killChainPhases', () => {
  const custom = [{ kill_chain_name: 'octi-custom', phase_name: 'stage-one' }];
  const known = [
    { kill_chain_name: 'mitre-attack', phase_name: 'initial-access' },
    { kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: 'weaponization' },
  ];
  it('accept-all takes any phase', async () => {
    sim = await startSim();
    expect((await createBatch(sim, ['192.0.2.7'], { kill_chain_phases: custom })).status).toBe(200);
  });
  it('mitre-lockheed refuses unknown phase names on create and edit, takes known ones', async () => {
    sim = await startSim({ behavior: { killChainPhases: 'mitre-lockheed' } });
    expect((await createBatch(sim, ['192.0.2.7'], { kill_chain_phases: custom })).status).toBe(400);
    expect(sim.control.indicators()).toEqual([]);
    const ok = await createBatch(sim, ['192.0.2.8'], { kill_chain_phases: known });
    expect(ok.status).toBe(200);
    expect((await put(ok.body.items[0].id, { kill_chain_phases: custom })).status).toBe(400);
  });
});

describe('row 9: quotaOverflowStatus + quotaOverflowBody', () => {
  it.each([
    [400, 'json-code', 'application/json', { code: 'INTHREAT4013' }],
    [403, 'json-message', 'application/json', {}],
    [422, 'text', 'text/plain', undefined],
  ] as const)('%s %s', async (quotaOverflowStatus, quotaOverflowBody, type, body) => {
    sim = await startSim({
      behavior: { quotaOverflowStatus, quotaOverflowBody },
      faults: { quotaFull: true },
    });
    const r = await createBatch(sim, ['192.0.2.9']);
    expect(r.status).toBe(quotaOverflowStatus);
    expect(r.headers.get('content-type')).toContain(type);
    if (body) expect(r.body).toMatchObject({ message: expect.stringContaining('IOC limit'), ...body });
    else expect(r.text).toContain('IOC limit');
    if (quotaOverflowBody === 'json-message') expect(r.body.code).toBeUndefined();
  });
});

describe('row 10: termSearch', () => {
  it.each([
    ['substring', 1, 0],
    ['case-insensitive', 1, 2],
    ['tokenised', 0, 1],
  ] as const)('%s', async (termSearch, bySubstring, byUpperValue) => {
    sim = await startSim({ behavior: { termSearch } });
    await createBatch(sim, ['probe-term.example.com', 'https://probe-term.example.com/a?b=c']);
    expect((await list('term=robe-term.example')).body.total).toBe(bySubstring * 2);
    expect((await list('term=PROBE-TERM.EXAMPLE.COM')).body.total).toBe(byUpperValue);
    expect((await list('term=probe-term.example.com')).body.total).toBe(termSearch === 'tokenised' ? 1 : 2);
    // A quoted value is one token whatever it holds, so exact search of URLs still works when tokenised.
    expect(
      (await list(`term=${encodeURIComponent('https://probe-term.example.com/a?b=c')}`)).body.total,
    ).toBe(1);
  });
});

describe('row 11: the cursor feed', () => {
  const feed = (query: string, id = sim.collectionId) =>
    call(sim, 'GET', `/v2/inthreat/collections/${id}/objects?${query}`);
  /** Every object id of a walk at `limit`, running `between` after the first page. */
  async function walk(limit: number, between?: () => Promise<void>): Promise<string[]> {
    const ids: string[] = [];
    let cursor = '';
    for (let page = 1; page < 100; page++) {
      const r = await feed(`limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      ids.push(...r.body.items.map((i: { id: string }) => i.id));
      if (!r.body.next_cursor) return ids;
      cursor = r.body.next_cursor;
      if (page === 1) await between?.();
    }
    throw new Error('the feed did not end');
  }

  it('pages by cursor; stable in creation order while objects are created, edited and revoked', async () => {
    sim = await startSim();
    const items = (await createBatch(sim, ['192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13'])).body
      .items;
    const before = items.map((i: { id: string }) => i.id);
    const seen = await walk(2, async () => {
      await put(items[0].id, { description: 'edited' });
      await del(items[3].id);
      await createBatch(sim, ['192.0.2.14']);
    });
    expect(seen.slice(0, 3)).toEqual(before.slice(0, 3)); // the revoked one left out, none skipped
    expect(seen).toHaveLength(4);
    expect((await feed('limit=10001')).status).toBe(400);
    const all = await feed('limit=10000&include_revoked=true');
    expect(all.body.items.find((i: { id: string }) => i.id === items[3].id)).toMatchObject({ revoked: true });
    expect((await feed('limit=10', 'ioc-collection--00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it("'modified' order: an edit during a walk makes it skip an object (what the probe calls inconsistent)", async () => {
    sim = await startSim({ behavior: { feedOrder: 'modified' } });
    const items = (await createBatch(sim, ['192.0.2.20', '192.0.2.21', '192.0.2.22', '192.0.2.23'])).body
      .items;
    const seen = await walk(2, async () => {
      sim.control.advanceClock(1000); // the test clock is frozen: the edit must come later
      await put(items[0].id, { description: 'edited later' });
    });
    // Page 1 gave 0 and 1; the edit moved 0 to the end, so position 2 is now 3: 2 is never given.
    expect(seen).not.toContain(items[2].id);
    expect(seen).toHaveLength(4);
  });

  it('expired indicators are left out unless skip_expired=false; shapes and switches', async () => {
    sim = await startSim({ behavior: { feed: 'stix', feedItemsKey: 'objects', feedOmits: ['description'] } });
    await createBatch(sim, ['192.0.2.30'], { valid_from: '2020-01-01', valid_until: '2020-02-01' });
    await createBatch(sim, ['192.0.2.31']);
    expect((await feed('limit=10')).body.objects).toHaveLength(1);
    const both = (await feed('limit=10&skip_expired=false')).body.objects;
    expect(both).toHaveLength(2);
    expect(both[0]).not.toHaveProperty('name');
    expect(both[0]).not.toHaveProperty('description');
    expect(both[0]).not.toHaveProperty('x_ic_collection_ref');
    expect(both[0]).toMatchObject({
      type: 'indicator',
      spec_version: '2.1',
      pattern: "[ipv4-addr:value = '192.0.2.30']",
    });
    sim.control.setBehavior({ feed: 'absent' });
    expect((await feed('limit=10')).status).toBe(404);
  });
});
