import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractObservables } from '@octi-sekoia/stix';
import { afterAll, describe, expect, it } from 'vitest';
import { seededUuids } from '../src/opencti/uuid.ts';
import { World } from '../src/opencti/world.ts';
import {
  applyScenario,
  DEFAULT_MIX,
  generateScenario,
  listBundles,
  type Mix,
  type PatternKind,
  SCENARIO_OPS,
  type Scenario,
  summarizeScenario,
} from '../src/scenario/index.ts';

/** A World as the OpenCTI simulator builds it (server.ts), with a manual clock. */
function newWorld(opts: { seed?: number; mergeDeletesSources?: boolean } = {}): World {
  let clock = Date.parse('2026-11-01T00:00:00.000Z');
  return new World({
    now: () => clock++,
    uuid: seededUuids(opts.seed ?? 1),
    origin: { socket: 'query', ip: '::ffff:127.0.0.1', user_id: '88ec0c6a-13ce-5e39-b486-354fe4a7084f' },
    mergeDeletesSources: () => opts.mergeDeletesSources ?? false,
  });
}

// A small bundle (the shape of the real ones in packages/simulators/data/) plus a JSON file that is not one.
const bundleDir = mkdtempSync(join(tmpdir(), 'scenario-bundles-'));
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));
writeFileSync(
  join(bundleDir, 'tiny-bundle.json'),
  JSON.stringify({
    type: 'bundle',
    id: 'bundle--6f6c7a8e-1b7e-4a57-9d43-7c1d8b6a0c11',
    objects: [
      {
        type: 'identity',
        spec_version: '2.1',
        id: 'identity--0c7a9f3e-5d8b-4f6e-9a1b-2c3d4e5f6a7b',
        created: '2015-05-15T09:12:16.432Z',
        modified: '2015-05-15T09:12:16.432Z',
        name: 'Bundle Author',
        identity_class: 'organization',
      },
      {
        type: 'indicator',
        spec_version: '2.1',
        id: 'indicator--1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f',
        created: '2015-05-15T09:12:16.432678Z',
        modified: '2015-05-15T09:12:16.432678Z',
        pattern: "[ipv4-addr:value = '203.0.113.200' OR domain-name:value = 'bundle.example']",
        pattern_type: 'stix',
        valid_from: '2015-05-15T09:12:16.432678Z',
        created_by_ref: 'identity--0c7a9f3e-5d8b-4f6e-9a1b-2c3d4e5f6a7b',
      },
      {
        type: 'indicator',
        spec_version: '2.1',
        id: 'indicator--2d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f',
        created: '2016-09-09T05:58:03.000Z',
        modified: '2016-09-09T05:58:03.000Z',
        pattern: "[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']",
        pattern_type: 'stix',
        valid_from: '2016-09-09T05:58:03.000Z',
        valid_until: '2017-09-09T05:58:03.000Z',
        kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'execution' }],
      },
    ],
  }),
);
writeFileSync(
  join(bundleDir, 'not-a-bundle.json'),
  JSON.stringify([{ pattern: "[ipv4-addr:value = '1.2.3.4']" }]),
);

describe('generateScenario: reproducible', () => {
  it.each([
    { seed: 1, indicators: 300 },
    { seed: 2, indicators: 300, sharedFields: true },
    { seed: 3, indicators: 300, mix: { merge: 0.3, delete: 0.3 } },
  ])('the same options give the same steps: %o', (opts) => {
    const a = generateScenario(opts);
    const b = generateScenario(opts);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    // Plain data: a JSON round trip changes nothing.
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it.each([
    [
      { seed: 1, indicators: 200 },
      { seed: 2, indicators: 200 },
    ],
    [
      { seed: 5, indicators: 200 },
      { seed: 5, indicators: 200, sharedFields: true },
    ],
    [
      { seed: 5, indicators: 200 },
      { seed: 5, indicators: 200, startAt: '2026-06-01T00:00:00Z' },
    ],
  ])('different seeds or options differ: %o vs %o', (x, y) => {
    expect(JSON.stringify(generateScenario(x).steps)).not.toBe(JSON.stringify(generateScenario(y).steps));
  });
});

describe('generateScenario: shape', () => {
  it('scales to 100,000 indicators in a bounded number of steps', () => {
    const s = generateScenario({ seed: 9, indicators: 100_000 });
    const sum = summarizeScenario(s);
    const perCreate = Object.entries(DEFAULT_MIX)
      .filter(([k]) => !['compound', 'nonStix', 'sharedValue'].includes(k))
      .reduce((acc, [, rate]) => acc + Math.ceil(rate), 1);
    expect(sum.ops.create).toBe(100_000);
    expect(s.steps.length).toBeLessThanOrEqual(100_000 * perCreate);
    // The mix's expectations hold roughly (±25%): ~0.5 updates and ~0.06 deletes per create.
    expect(sum.ops.update).toBeGreaterThan(100_000 * DEFAULT_MIX.update * 0.75);
    expect(sum.ops.update).toBeLessThan(100_000 * DEFAULT_MIX.update * 1.25);
    expect(sum.ops.delete).toBeGreaterThan(100_000 * DEFAULT_MIX.delete * 0.75);
  });

  it('covers every kind of step, pattern and object at a moderate size', () => {
    const s = generateScenario({ seed: 4, indicators: 3000, includeBundles: true, bundlesDir: bundleDir });
    const sum = summarizeScenario(s);
    for (const op of SCENARIO_OPS) expect(sum.ops[op], op).toBeGreaterThan(0);
    const kinds: PatternKind[] = [
      'single',
      'or',
      'in',
      'hash-and',
      'hashes',
      'non-stix',
      'negated',
      'like',
      'and-only',
      'invalid',
    ];
    for (const k of kinds) expect(sum.kinds[k] ?? 0, k).toBeGreaterThan(0);
    expect(sum.sharedValues).toBeGreaterThan(0);
    expect(sum.collisions).toBeGreaterThan(0);
    for (const t of ['identity', 'marking-definition', 'malware', 'relationship']) {
      expect(sum.nonIndicators[t] ?? 0, t).toBeGreaterThan(0);
    }
    expect(sum.ops.loadBundle).toBe(1); // not-a-bundle.json is skipped
    const patternTypes = new Set(
      s.steps.flatMap((st) =>
        st.op === 'create'
          ? [st.input.patternType ?? 'stix']
          : st.op === 'changePattern' && st.patternType
            ? [st.patternType]
            : [],
      ),
    );
    for (const t of ['stix', 'yara', 'sigma', 'snort', 'suricata']) expect(patternTypes.has(t), t).toBe(true);
    const updated = new Set(
      s.steps.flatMap((st) =>
        st.op === 'update'
          ? [...Object.keys(st.set ?? {}), ...(st.unset ?? []), ...Object.keys(st.extension ?? {})]
          : [],
      ),
    );
    expect([...updated].sort()).toEqual(
      ['description', 'kill_chain_phases', 'labels', 'name', 'score', 'valid_until'].sort(),
    );
  });

  it('values shared by several indicators: some value is exported by more than one created pattern', () => {
    const s = generateScenario({ seed: 6, indicators: 2000 });
    const holders = new Map<string, number>();
    for (const st of s.steps) {
      if (st.op !== 'create') continue;
      const values = new Set(extractObservables(st.input.pattern).observables.map((o) => o.value));
      for (const v of values) holders.set(v, (holders.get(v) ?? 0) + 1);
    }
    expect([...holders.values()].filter((n) => n > 1).length).toBeGreaterThan(10);
  });

  it('values stay in documentation/reserved ranges and .example names', () => {
    const s = generateScenario({ seed: 8, indicators: 3000 });
    const ipv4Ok =
      /^(192\.0\.2|198\.51\.100|203\.0\.113|198\.1[89]\.\d+|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+|10\.\d+\.\d+)\.\d+(\/\d+)?$/;
    let checked = 0;
    for (const st of s.steps) {
      const pattern =
        st.op === 'create' ? st.input.pattern : st.op === 'changePattern' ? st.pattern : undefined;
      if (pattern === undefined) continue;
      for (const o of extractObservables(pattern, { mode: 'lenient' }).observables) {
        checked++;
        if (o.type === 'ipv4-addr') expect(o.value).toMatch(ipv4Ok);
        else if (o.type === 'ipv6-addr') expect(o.value).toMatch(/^2001:db8:/);
        else if (o.type === 'domain-name' || o.type === 'email-addr') expect(o.value).toMatch(/\.example$/);
        else if (o.type === 'url') expect(new URL(o.value).hostname).toMatch(/\.example$/);
        else expect(o.value).toMatch(/^[0-9a-f]+$/);
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });

  it('validity: valid_from = creation time, valid_until 30..365 days later with seconds, mostly distinct', () => {
    const s = generateScenario({ seed: 10, indicators: 2000 });
    const creates = s.steps.flatMap((st) => (st.op === 'create' ? [st.input] : []));
    const untils = new Set<string>();
    for (const c of creates) {
      expect(c.validFrom).toBe(c.at);
      if (c.validUntil === undefined) continue;
      untils.add(c.validUntil);
      const days = (Date.parse(c.validUntil) - Date.parse(c.at)) / 86_400_000;
      expect(days).toBeGreaterThanOrEqual(29);
      expect(days).toBeLessThanOrEqual(366);
    }
    expect(untils.size).toBeGreaterThan(creates.length * 0.85);
  });

  it('sharedFields: day-rounded validity and few distinct attribute tuples (creates can batch)', () => {
    const s = generateScenario({ seed: 11, indicators: 2000, sharedFields: true });
    const tuples = new Set<string>();
    for (const st of s.steps) {
      if (st.op !== 'create') continue;
      const { validFrom, validUntil, killChainPhases } = st.input;
      expect(validFrom).toMatch(/T00:00:00\.000Z$/);
      expect(validUntil).toMatch(/T00:00:00\.000Z$/);
      tuples.add(JSON.stringify([validFrom, validUntil, killChainPhases ?? []]));
    }
    expect(tuples.size).toBeLessThan(60);
  });

  it('finds the real bundles of packages/simulators/data/ when they are there', () => {
    const found = listBundles();
    const s = generateScenario({ seed: 12, indicators: 50, includeBundles: true });
    expect(summarizeScenario(s).ops.loadBundle).toBe(found.length);
    expect(s.bundlesDir).toBeUndefined();
  });
});

describe('applyScenario: every step applies cleanly to a fresh World', () => {
  const stress: Partial<Mix> = {
    merge: 0.3,
    delete: 0.3,
    recreate: 0.3,
    patternCollision: 0.2,
    revoke: 0.3,
    unrevoke: 0.3,
  };
  it.each([
    { seed: 1, indicators: 1500 },
    { seed: 2, indicators: 1500, sharedFields: true, mergeDeletesSources: true },
    { seed: 3, indicators: 800, mix: stress },
    { seed: 4, indicators: 800, mix: stress, mergeDeletesSources: true },
    { seed: 5, indicators: 800, includeBundles: true },
  ])('%o', ({ mergeDeletesSources, ...opts }) => {
    const s = generateScenario({ ...opts, bundlesDir: bundleDir });
    const world = newWorld({ seed: opts.seed, mergeDeletesSources });
    const refs = applyScenario(world, s);
    const indicatorSteps = s.steps.filter((st) => st.op !== 'nonIndicator' && st.op !== 'loadBundle').length;
    expect(refs.length).toBeGreaterThanOrEqual(indicatorSteps);
    // The generator's prediction of pattern collisions matched OpenCTI's merges (applyScenario checks each).
    expect(refs.filter((r) => r.mergedInto !== undefined).length).toBe(summarizeScenario(s).collisions);
    // Every created indicator exists, and exactly the deleted / merged ones are gone.
    const gone = new Set<string>();
    for (const st of s.steps) {
      if (st.op === 'delete') gone.add(st.internalId);
      if (st.op === 'merge') for (const id of st.sourceIds) gone.add(id);
      if (st.op === 'changePattern' && st.collidesWith) gone.add(st.internalId);
    }
    for (const st of s.steps) {
      if (st.op !== 'create' && st.op !== 'recreate') continue;
      const e = world.get(st.input.internalId);
      expect(e?.deleted).toBe(gone.has(st.input.internalId));
    }
  });

  it('from/to: applying in two slices gives the same log as applying at once', () => {
    const s: Scenario = generateScenario({ seed: 13, indicators: 400 });
    const whole = newWorld();
    applyScenario(whole, s);
    const sliced = newWorld();
    const mid = Math.floor(s.steps.length / 2);
    applyScenario(sliced, s, { to: mid });
    applyScenario(sliced, s, { from: mid });
    expect(sliced.entries().map((e) => [e.event, e.payload])).toEqual(
      whole.entries().map((e) => [e.event, e.payload]),
    );
  });

  it('a step that does not fit the World fails with its index', () => {
    const s = generateScenario({ seed: 14, indicators: 20 });
    const world = newWorld();
    expect(() => applyScenario(world, s, { from: 1 })).not.toThrow(/step 0/);
    const again = newWorld();
    applyScenario(again, s);
    expect(() => applyScenario(again, s, { to: 1 })).toThrow(/step 0 \(create\)/);
  });
});
