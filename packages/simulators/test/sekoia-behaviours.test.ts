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
