// `pnpm cli probe` end to end: the real CLI over HTTP against the Sekoia.io simulator started in each variant of
// every behaviour switch (issue 14), the OpenCTI simulator and a real Redis. The probe must report exactly the
// variant the simulator was started with, write only documentation-range values, revoke all of them, and record
// the profile.
import { budgetKeys, keys } from '@octi-sekoia/queue';
import { isVariant, readProfile } from '@octi-sekoia/sekoia';
import {
  type OpenCtiSimulator,
  type SekoiaBehavior,
  type SekoiaSimulator,
  startOpenCtiSimulator,
  startSekoiaSimulator,
} from '@octi-sekoia/simulators';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProbeReport } from '../src/probe.ts';
import { isDocumentationValue } from '../src/probe-classify.ts';
import { CONNECTOR_ID, cli, redisEnv } from './helpers.ts';

const VIEW_ONLY = 'sim-view-only-0123456789';

let octi: OpenCtiSimulator;
let r: TestRedis;
let sim: SekoiaSimulator | undefined;
beforeAll(async () => {
  octi = await startOpenCtiSimulator();
});
afterAll(async () => {
  await octi.close();
});
beforeEach(async () => {
  r = await testRedis('cli-probe');
});
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await r.cleanup();
});

async function startSim(behavior: Partial<SekoiaBehavior> = {}, quotaFull = false) {
  sim = await startSekoiaSimulator({
    behavior,
    faults: { quotaFull },
    keys: [{ key: VIEW_ONLY, view: true, manage: false }],
  });
  return { sim, scratch: sim.control.createCollection({ name: 'probe scratch' }) };
}

function env(s: SekoiaSimulator, extra: Record<string, string> = {}) {
  return redisEnv(r, {
    SEKOIA_INTEL_URL: s.url,
    SEKOIA_INTEL_APIKEY: s.apiKey,
    SEKOIA_INTEL_IOC_COLLECTION_UUID: s.collectionId,
    SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY: VIEW_ONLY,
    SEKOIA_INTEL_REQUESTS_PER_SECOND: '500',
    SEKOIA_INTEL_REQUEST_BURST: '50',
    OPENCTI_URL: octi.url,
    OPENCTI_TOKEN: octi.token,
    CONNECTOR_LIVE_STREAM_ID: octi.streamId,
    CONNECTOR_NAME: 'Sekoia Intel',
    CONNECTOR_SCOPE: 'Indicator',
    ...extra,
  });
}

async function probe(
  s: SekoiaSimulator,
  scratch: string,
  extra: Record<string, string> = {},
  args: string[] = [],
) {
  const res = await cli(['probe', '--collection', scratch, '--json', ...args], env(s, extra));
  let report: ProbeReport | undefined;
  try {
    report = JSON.parse(res.stdout) as ProbeReport;
  } catch {
    throw new Error(`probe printed no JSON report (exit ${res.code}): ${res.stderr}`);
  }
  return { ...res, report };
}

const observed = (report: ProbeReport) =>
  Object.fromEntries(report.behaviours.map((b) => [b.behaviour, b.variant]));

/** The variant each behaviour shows under the simulator's defaults (the references' answers). */
const DEFAULTS = {
  createName: 'as-sent',
  putNull: 'clear',
  putOmitted: 'partial',
  hasMore: 'present',
  reimportRevoked: 'new',
  repeatRevoke: '200',
  forbiddenBody: 'json',
  killChainPhases: 'accept-all',
  quotaFull: 'unknown',
  termSearch: 'substring',
  collectionFeed: 'usable',
};

/**
 * One simulator start per variant that is not a default: the switch, the variant the probe must see, and the
 * degraded modes it forces (exit 1; none: exit 0).
 */
const VARIANTS: Array<[string, Partial<SekoiaBehavior>, Partial<typeof DEFAULTS>, string[]?]> = [
  ['row 1 canonical', { itemName: 'canonical' }, { createName: 'canonical' }],
  ['row 1 upper-hashes', { itemName: 'upper-hashes' }, { createName: 'upper-hashes' }],
  ['row 1 ipv6-expanded', { itemName: 'ipv6-expanded' }, { createName: 'ipv6-expanded' }],
  ['row 1 file-hashes', { itemName: 'file-hashes' }, { createName: 'file-hashes' }],
  ['row 2 reject', { putNull: 'reject' }, { putNull: 'reject' }, ['fields-not-clearable']],
  ['row 2 keep', { putNull: 'keep' }, { putNull: 'keep' }, ['fields-not-clearable']],
  ['row 3 replace', { putMode: 'replace' }, { putOmitted: 'replace' }],
  ['row 4 absent', { hasMore: 'absent' }, { hasMore: 'absent' }],
  ['row 5 reactivate', { reimportRevoked: 'reactivate' }, { reimportRevoked: 'reactivate' }],
  [
    'row 5 ignore',
    { reimportRevoked: 'ignore' },
    { reimportRevoked: 'ignore' },
    ['revoked-values-not-recreatable'],
  ],
  ['row 6 404', { repeatRevoke: 404 }, { repeatRevoke: '404' }],
  ['row 6 400', { repeatRevoke: 400 }, { repeatRevoke: '400' }],
  ['row 7 text', { forbiddenBody: 'text' }, { forbiddenBody: 'text' }],
  ['row 7 html', { forbiddenBody: 'html' }, { forbiddenBody: 'html' }],
  [
    'row 8 mitre-lockheed',
    { killChainPhases: 'mitre-lockheed' },
    { killChainPhases: 'mitre-lockheed' },
    ['custom-kill-chains-dropped'],
  ],
  ['row 10 case-insensitive', { termSearch: 'case-insensitive' }, { termSearch: 'case-insensitive' }],
  ['row 10 tokenised', { termSearch: 'tokenised' }, { termSearch: 'tokenised' }],
  ['row 11 stix objects', { feed: 'stix', feedItemsKey: 'objects' }, {}],
  ['row 11 cursor at the end, pages capped', { feedEndCursor: 'repeat', feedPageCap: 3 }, {}],
  ['row 11 absent', { feed: 'absent' }, { collectionFeed: 'not-a-feed' }],
  ['row 11 limit', { feedMaxLimit: 1000 }, { collectionFeed: 'limit-refused' }],
  ['row 11 no description', { feedOmits: ['description'] }, { collectionFeed: 'fields-missing' }],
  ['row 11 no kill chains', { feedOmits: ['kill_chain_phases'] }, { collectionFeed: 'fields-missing' }],
  ['row 11 no revoked flag', { feedOmits: ['revoked'] }, { collectionFeed: 'fields-missing' }],
  ['row 11 modified order', { feedOrder: 'modified' }, { collectionFeed: 'inconsistent' }],
];

/** Everything the probe leaves in the scratch collection: documentation values only, none of them live. */
function expectCleanCollection(s: SekoiaSimulator, scratch: string, report: ProbeReport) {
  // What the probe sent (refused writes included) and what Sekoia stored.
  expect(report.written.length).toBeGreaterThan(0);
  for (const value of report.written) expect(isDocumentationValue(value), value).toBe(true);
  const written = s.control.indicators(scratch);
  expect(written.length).toBeGreaterThan(0);
  for (const i of written) {
    for (const value of i.canonical.split(',')) expect(isDocumentationValue(value), value).toBe(true);
  }
  expect(s.control.liveValues(scratch)).toEqual([]);
  // The production collection was not touched.
  expect(s.control.indicators()).toEqual([]);
}

describe('pnpm cli probe against the Sekoia.io simulator', () => {
  it("defaults: reports the references' variants, revokes everything, records the profile, exit 0", async () => {
    const { sim: s, scratch } = await startSim();
    const res = await probe(s, scratch);
    expect(observed(res.report!)).toEqual(DEFAULTS);
    expect(res.report!.degraded).toEqual([]);
    expect(res.report!.problems).toEqual([]);
    expect(res.report!.opencti).toMatchObject({
      version: '6.8.10',
      stream: { id: octi.streamId, exists: true, live: true },
      canRegisterConnector: true,
    });
    expect(res.code).toBe(0);
    expectCleanCollection(s, scratch, res.report!);
    expect(res.report!.leftLive).toEqual([]);
    expect(res.report!.revoked).toBe(res.report!.created);
    const stored = await readProfile(r.client, keys(r.prefix, CONNECTOR_ID).sekoiaProfile);
    expect(stored.state).toBe('recorded');
    if (stored.state === 'recorded') {
      expect(stored.profile.behaviours).toEqual(DEFAULTS);
      expect(stored.profile).toMatchObject({ collectionId: scratch, sekoiaHost: new URL(s.url).host });
    }
    // Every request went through the shared budget of this host + key (the workers' GCRA record).
    expect(s.control.requestCount()).toBe(res.report!.sekoiaRequests);
    expect(await r.client.exists(budgetKeys(r.prefix, new URL(s.url).host, s.apiKey).tat)).toBe(1);
    expect(res.stdout + res.stderr).not.toContain(s.apiKey);
    expect(res.stdout + res.stderr).not.toContain(VIEW_ONLY);
  });

  it.each(VARIANTS)(
    '%s: reported exactly, every other row at its default',
    async (_name, behavior, expected, modes = []) => {
      const { sim: s, scratch } = await startSim(behavior);
      const res = await probe(s, scratch);
      expect(observed(res.report!)).toEqual({ ...DEFAULTS, ...expected });
      expectCleanCollection(s, scratch, res.report!);
      expect(res.report!.degraded.map((d) => d.mode)).toEqual(modes);
      expect(res.report!.problems).toEqual([]);
      expect(res.code).toBe(modes.length > 0 ? 1 : 0);
      const stored = await readProfile(r.client, keys(r.prefix, CONNECTOR_ID).sekoiaProfile);
      expect(stored.state === 'recorded' && stored.profile.behaviours).toEqual({ ...DEFAULTS, ...expected });
    },
  );

  it.each([
    [400, 'json-code'],
    [403, 'json-message'],
    [422, 'text'],
    [429, 'json-code'],
  ] as const)(
    'row 9, quota full: %s %s reported, nothing else observable, exit 1 quota-full',
    async (status, body) => {
      const { sim: s, scratch } = await startSim(
        { quotaOverflowStatus: status, quotaOverflowBody: body },
        true,
      );
      const res = await probe(s, scratch);
      const seen = observed(res.report!);
      expect(seen.quotaFull).toBe(`${status} ${body}`);
      expect(isVariant('quotaFull', seen.quotaFull)).toBe(true);
      expect(seen.forbiddenBody).toBe('json');
      for (const b of [
        'createName',
        'putNull',
        'putOmitted',
        'hasMore',
        'reimportRevoked',
        'repeatRevoke',
      ] as const) {
        expect(seen[b]).toBe('unknown');
      }
      expect(res.report!.degraded.map((d) => d.mode)).toEqual(['quota-full']);
      expect(res.code).toBe(1);
      expect(s.control.liveValues(scratch)).toEqual([]);
    },
  );
});

describe('pnpm cli probe: text output', () => {
  it('the table names every behaviour, the variant and what the product does; a degraded mode is named, exit 1', async () => {
    const { sim: s, scratch } = await startSim({ reimportRevoked: 'ignore' });
    const res = await cli(['probe', '--collection', scratch], env(s));
    expect(res.code).toBe(1);
    const rows = res.stdout.split('\n').filter((l) => /^ ?\d{1,2} {2}/.test(l));
    expect(rows).toHaveLength(11);
    expect(res.stdout).toMatch(
      /^11 {2}cursor feed of the collection +usable +collection reads through the feed/m,
    );
    expect(res.stdout).toMatch(
      /^ 5 {2}re-import of a revoked value +ignore +revoked-values-not-recreatable/m,
    );
    expect(res.stdout).toMatch(
      /^ 1 {2}name of created items +as-sent +items matched back by canonical name$/m,
    );
    expect(res.stdout).toMatch(/^degraded: revoked-values-not-recreatable — /m);
    expect(res.stdout).toMatch(/^verdict: attention — revoked-values-not-recreatable$/m);
    expect(res.stdout).toMatch(/^profile recorded at .*:sekoia-profile/m);
    expect(s.control.liveValues(scratch)).toEqual([]);
  });
});

describe('pnpm cli probe: refusals and problems', () => {
  it('refuses the production collection without --yes-this-collection: exit 2, nothing written', async () => {
    const { sim: s } = await startSim();
    for (const given of [s.collectionId, s.collectionId.replace('ioc-collection--', '').toUpperCase()]) {
      const res = await cli(['probe', '--collection', given], env(s));
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('is the production collection');
    }
    expect(s.control.requestCount()).toBe(0);
    expect(await r.client.keys(`*${r.prefix}*`)).toEqual([]);
  });

  it('with --yes-this-collection it probes the production collection and leaves nothing live there', async () => {
    const { sim: s } = await startSim();
    const res = await probe(s, s.collectionId, {}, ['--yes-this-collection']);
    expect(res.code).toBe(0);
    expect(s.control.indicators().length).toBeGreaterThan(0);
    expect(s.control.liveValues()).toEqual([]);
  });

  it.each([
    [['probe'], 'usage error: probe: --collection'],
    [['probe', '--collection', 'scratch'], 'usage error: probe: --collection must be'],
  ])('%j → usage error, exit 2', async (args, start) => {
    const { sim: s } = await startSim();
    const res = await cli(args, env(s));
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toContain(start);
  });

  it('bad configuration: a missing setting and a refused key are exit 2', async () => {
    const { sim: s, scratch } = await startSim();
    const missing = await cli(['probe', '--collection', scratch], env(s, { OPENCTI_URL: '' }));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^config error: OPENCTI_URL/m);
    const refused = await probe(s, scratch, { SEKOIA_INTEL_APIKEY: 'sim-not-a-key-0123456789' });
    expect(refused.code).toBe(2);
    expect(refused.report!.problems.map((p) => p.what)).toContain(
      'Sekoia.io refused SEKOIA_INTEL_APIKEY (401)',
    );
    expect(await r.client.exists(keys(r.prefix, CONNECTOR_ID).sekoiaProfile)).toBe(0);
    expect(s.control.indicators(scratch)).toEqual([]);
  });

  it('OpenCTI: a stopped stream is exit 1, a token without CONNECTORAPI exit 2', async () => {
    const { sim: s, scratch } = await startSim();
    octi.control.stopStream();
    try {
      const stopped = await probe(s, scratch);
      expect(stopped.report!.opencti.stream).toMatchObject({ exists: true, live: false });
      expect(stopped.code).toBe(1);
    } finally {
      octi.control.startStream();
    }
    octi.control.addToken({ token: 'reader-token-0123456789', capabilities: ['TAXIIAPI'] });
    const reader = await probe(s, scratch, { OPENCTI_TOKEN: 'reader-token-0123456789' });
    expect(reader.report!.opencti.canRegisterConnector).toBe(false);
    expect(reader.code).toBe(2);
    expect(s.control.liveValues(scratch)).toEqual([]);
  });

  it('without SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY row 7 is unknown and the rest is probed', async () => {
    const { sim: s, scratch } = await startSim();
    const res = await probe(s, scratch, { SEKOIA_INTEL_PROBE_VIEW_ONLY_APIKEY: '' });
    expect(observed(res.report!)).toEqual({ ...DEFAULTS, forbiddenBody: 'unknown' });
    expect(res.code).toBe(0);
  });
});
