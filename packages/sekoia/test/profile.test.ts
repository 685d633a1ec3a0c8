import { testRedis } from '@octi-sekoia/testkit';
import { describe, expect, it } from 'vitest';
import {
  BEHAVIOURS,
  behavioursFor,
  degradedModes,
  parseProfile,
  productResponse,
  readProfile,
  type SekoiaBehaviours,
  type SekoiaProfile,
  unknownBehaviours,
  writeProfile,
} from '../src/profile.ts';

const profile = (b: Partial<SekoiaBehaviours> = {}): SekoiaProfile => ({
  version: 1,
  observedAt: '2026-12-07T00:00:00.000Z',
  sekoiaHost: 'api.sekoia.io',
  collectionId: 'ioc-collection--6f1c0000-0000-4000-8000-000000000001',
  behaviours: { ...unknownBehaviours(), ...b },
});

describe('parseProfile', () => {
  it('round-trips a profile', () => {
    const p = profile({ createName: 'file-hashes', quotaFull: '403 text', repeatRevoke: '400' });
    expect(parseProfile(JSON.stringify(p))).toEqual({ profile: p });
  });

  it('a behaviour missing from the record is unknown (a newer probe row read by an older record)', () => {
    const { behaviours: _b, ...rest } = profile();
    const r = parseProfile(JSON.stringify({ ...rest, behaviours: { hasMore: 'absent' } }));
    expect(r).toEqual({ profile: profile({ hasMore: 'absent' }) });
  });

  it.each([
    ['not json', '{', 'not JSON'],
    ['not an object', '3', 'not an object'],
    ['other version', JSON.stringify({ ...profile(), version: 2 }), 'version 2'],
    ['no host', JSON.stringify({ ...profile(), sekoiaHost: undefined }), '"sekoiaHost"'],
    ['bad variant', JSON.stringify(profile({ hasMore: 'sometimes' as 'absent' })), 'hasMore: "sometimes"'],
    ['bad quota variant', JSON.stringify(profile({ quotaFull: '4000 json' as '400 text' })), 'quotaFull'],
  ])('%s: refused with the problem named', (_name, text, part) => {
    const r = parseProfile(text);
    expect('error' in r && r.error).toContain(part);
  });
});

describe('behavioursFor', () => {
  it.each([
    ['absent', { state: 'absent' } as const, 'api.sekoia.io', 'unknown'],
    ['invalid', { state: 'invalid', error: 'x' } as const, 'api.sekoia.io', 'unknown'],
    [
      'other host',
      { state: 'recorded', profile: profile({ hasMore: 'absent' }) } as const,
      'app.sekoia.io',
      'unknown',
    ],
    [
      'same host',
      { state: 'recorded', profile: profile({ hasMore: 'absent' }) } as const,
      'API.sekoia.io',
      'absent',
    ],
  ])('%s', (_name, read, host, hasMore) => {
    expect(behavioursFor(read, host).hasMore).toBe(hasMore);
  });
});

describe('degradedModes', () => {
  it.each([
    [{}, []],
    [{ putNull: 'clear', putOmitted: 'partial' }, []],
    [{ putNull: 'reject', putOmitted: 'replace' }, []],
    [{ putNull: 'keep', putOmitted: 'replace' }, []],
    [{ putNull: 'reject', putOmitted: 'partial' }, ['fields-not-clearable']],
    [{ putNull: 'keep' }, ['fields-not-clearable']],
    [{ reimportRevoked: 'ignore' }, ['revoked-values-not-recreatable']],
    [{ reimportRevoked: 'reactivate', repeatRevoke: '400', hasMore: 'absent', termSearch: 'tokenised' }, []],
    [{ forbiddenBody: 'html' }, []],
    [{ forbiddenBody: 'text' }, []],
    [{ killChainPhases: 'mitre-lockheed' }, ['custom-kill-chains-dropped']],
    [{ quotaFull: '400 json-code' }, ['quota-full']],
  ] as Array<[Partial<SekoiaBehaviours>, string[]]>)('%j → %j', (b, modes) => {
    expect(degradedModes({ ...unknownBehaviours(), ...b }).map((m) => m.mode)).toEqual(modes);
  });
});

describe('productResponse', () => {
  it('has a sentence for every behaviour unknown', () => {
    for (const b of BEHAVIOURS) expect(productResponse(b, 'unknown')).toMatch(/\w{4}/);
  });
  it('an observed quota answer reads as quota-full', () => {
    expect(productResponse('quotaFull', '429 json-message')).toContain('quota-full');
  });
});

describe('readProfile / writeProfile on Redis', () => {
  it('absent, recorded, then invalid when the record is damaged', async () => {
    const r = await testRedis('profile');
    try {
      const key = `${r.prefix}:sekoia-profile`;
      expect(await readProfile(r.client, key)).toEqual({ state: 'absent' });
      const p = profile({ putNull: 'keep' });
      await writeProfile(r.client, key, p);
      expect(await readProfile(r.client, key)).toEqual({ state: 'recorded', profile: p });
      await r.client.set(key, '{"version":1}');
      expect(await readProfile(r.client, key)).toMatchObject({ state: 'invalid' });
    } finally {
      await r.cleanup();
    }
  });
});
