import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENCTI_EXTENSION, type StreamMessage } from '@octi-sekoia/opencti';
import { describe, expect, it } from 'vitest';
import { type NormalizeConfig, normalizeMessage } from '../src/index.ts';
import { config, indicator, message, parseSse, summary } from './helpers.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const frames = parseSse(readFileSync(join(fixtures, 'reference-frames.sse'), 'utf8'));
const openctiSample = JSON.parse(
  readFileSync(join(fixtures, 'opencti-stream-event-stix2-indicators.json'), 'utf8'),
) as Record<string, unknown>[];

const upsert = (indicatorId: string, values: string[], previous?: string[]) => ({
  op: 'upsert',
  indicatorId,
  values,
  previous,
});
const remove = (indicatorId: string, previous: string[]) => ({
  op: 'remove',
  indicatorId,
  values: [],
  previous,
});

describe('reference frames (docs/opencti-api.md)', () => {
  const ID = '5f3c2a10-8d7e-4b1a-9c3d-2e1f0a9b8c7d';
  const cases: { event: string; id: string | undefined; want: unknown }[] = [
    { event: 'connected', id: undefined, want: { outcome: 'skipped', reason: 'connected' } },
    {
      event: 'create',
      id: '1732615205120-0',
      want: { outcome: 'jobs', jobs: [upsert(ID, ['198.51.100.7'])], findings: [] },
    },
    { event: 'heartbeat', id: '1732615210120-0', want: { outcome: 'skipped', reason: 'heartbeat' } },
    {
      event: 'update',
      id: '1732615300456-0',
      want: { outcome: 'jobs', jobs: [upsert(ID, ['198.51.100.8'], ['198.51.100.7'])], findings: [] },
    },
    {
      event: 'delete',
      id: '1732615400789-0',
      want: { outcome: 'jobs', jobs: [remove(ID, ['198.51.100.8'])], findings: [] },
    },
    {
      event: 'create',
      id: '1732615205101-0',
      want: { outcome: 'jobs', jobs: [upsert(ID, ['198.51.100.7'])], findings: [] },
    },
  ];

  it('has one frame per case, in order', () => {
    expect(frames.map((f) => [f.event, f.id])).toEqual(cases.map((c) => [c.event, c.id]));
  });

  it.each(cases.map((c, i) => ({ ...c, i })))('frame $i: $event $id', ({ i, want }) => {
    expect(summary(normalizeMessage(frames[i]!, config))).toEqual(want);
  });

  it('fills the whole job from the create frame', () => {
    expect(normalizeMessage(frames[1]!, config)).toEqual({
      outcome: 'jobs',
      findings: [],
      jobs: [
        {
          kind: 'indicator',
          generation: 1,
          eventId: '1732615205120-0',
          op: 'upsert',
          indicatorId: ID,
          stixId: 'indicator--0a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d',
          attributes: {
            validFrom: '2024-11-26T10:00:05.000Z',
            validUntil: '2025-02-24T10:00:05.000Z',
            killChainPhases: [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
            description: `https://opencti.example.org/dashboard/observations/indicators/${ID}`,
          },
          values: ['198.51.100.7'],
        },
      ],
    });
  });

  it('takes the new STIX id after a pattern change, the internal id stays', () => {
    const r = normalizeMessage(frames[3]!, { ...config, generation: 7 });
    expect(
      r.outcome === 'jobs' && r.jobs.map((j) => [j.indicatorId, j.stixId, j.generation, j.eventId]),
    ).toEqual([[ID, 'indicator--7c6d5e4f-3a2b-5c1d-9e8f-7a6b5c4d3e2f', 7, '1732615300456-0']]);
  });
});

describe('OpenCTI platform sample (both indicators revoked)', () => {
  it.each([
    { i: 0, id: 'cee1aad9-81a9-4e38-a829-a06b56b29338', previous: ['www.xolod-teplo.ru'] },
    {
      i: 1,
      id: '12c19a66-d623-4ae7-9bc0-88e83198d188',
      previous: ['2a0169c72c84e6d3fa49af701fd46ee7aaf1d1d9e107798d93a6ca8df5d25957'],
    },
  ])('revoked indicator $i → remove', ({ i, id, previous }) => {
    for (const event of ['create', 'update']) {
      expect(summary(normalizeMessage(message(event, openctiSample[i]!), config))).toEqual({
        outcome: 'jobs',
        jobs: [remove(id, previous)],
        findings: [],
      });
    }
  });

  it('un-revoked, the same objects export their canonical values', () => {
    const r = openctiSample.map((o) =>
      summary(normalizeMessage(message('update', { ...o, revoked: false }), config)),
    );
    expect(r).toEqual([
      {
        outcome: 'jobs',
        jobs: [upsert('cee1aad9-81a9-4e38-a829-a06b56b29338', ['www.xolod-teplo.ru'])],
        findings: [],
      },
      {
        outcome: 'jobs',
        jobs: [
          upsert('12c19a66-d623-4ae7-9bc0-88e83198d188', [
            '2a0169c72c84e6d3fa49af701fd46ee7aaf1d1d9e107798d93a6ca8df5d25957',
          ]),
        ],
        findings: [],
      },
    ]);
  });
});

const A = 'iid-a';
const patternChange = (oldPattern: string, newPattern: string, extra: Record<string, unknown>[] = []) => ({
  patch: [{ op: 'replace', path: '/pattern', value: newPattern }],
  reverse_patch: [{ op: 'replace', path: '/pattern', value: oldPattern }, ...extra],
});

const rows: { name: string; msg: StreamMessage; cfg?: Partial<NormalizeConfig>; want: unknown }[] = [
  // Event names (the SSE name is authoritative, not the envelope type).
  {
    name: 'update leaving the filters arrives as event delete with an update envelope → remove',
    msg: message('delete', indicator({}, A), { type: 'update', context: { patch: [], reverse_patch: [] } }),
    want: { outcome: 'jobs', jobs: [remove(A, ['198.51.100.7'])], findings: [] },
  },
  {
    name: 'update entering the filters arrives as event create with an update envelope → upsert',
    msg: message('create', indicator({}, A), { type: 'update', context: { patch: [], reverse_patch: [] } }),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: [] },
  },
  {
    name: 'revoked via update → remove',
    msg: message('update', indicator({ revoked: true }, A), {
      context: {
        patch: [{ op: 'replace', path: '/revoked', value: true }],
        reverse_patch: [{ op: 'replace', path: '/revoked', value: false }],
      },
    }),
    want: { outcome: 'jobs', jobs: [remove(A, ['198.51.100.7'])], findings: [] },
  },
  {
    name: 'revoked together with a pattern change → remove; previous covers both patterns',
    msg: message('update', indicator({ revoked: true }, A), {
      context: patternChange("[ipv4-addr:value = '198.51.100.1']", "[ipv4-addr:value = '198.51.100.7']"),
    }),
    want: { outcome: 'jobs', jobs: [remove(A, ['198.51.100.1', '198.51.100.7'])], findings: [] },
  },
  {
    name: 'update without pattern change → no previous',
    msg: message('update', indicator({ name: 'renamed' }, A), {
      context: {
        patch: [{ op: 'replace', path: '/name', value: 'renamed' }],
        reverse_patch: [{ op: 'replace', path: '/name', value: 'test' }],
      },
    }),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: [] },
  },
  {
    name: 'pattern switched from stix to yara → upsert [] (old values must go), previous = old values',
    msg: message('update', indicator({ pattern_type: 'yara', pattern: 'rule x { condition: true }' }, A), {
      context: patternChange("[domain-name:value = 'Evil.Example']", 'rule x { condition: true }', [
        { op: 'replace', path: '/pattern_type', value: 'stix' },
      ]),
    }),
    want: { outcome: 'jobs', jobs: [upsert(A, [], ['evil.example'])], findings: ['non-stix-pattern'] },
  },
  {
    name: 'previous pattern was invalid → previous []',
    msg: message('update', indicator({}, A), {
      context: patternChange('[ipv4-addr:value = ', "[ipv4-addr:value = '198.51.100.7']"),
    }),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'], [])], findings: [] },
  },
  {
    name: 'reverse_patch op without a value → previous unknown',
    msg: message('update', indicator({}, A), {
      context: { patch: [], reverse_patch: [{ op: 'replace', path: '/pattern' }] },
    }),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: [] },
  },
  {
    name: 'recovery create (minimal envelope) → upsert',
    msg: {
      id: '1732615205101-0',
      event: 'create',
      data: JSON.stringify({
        data: indicator({}, A),
        message: 'creates',
        origin: { referer: 'init-create' },
        version: '4',
      }),
    },
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: [] },
  },
  {
    name: 'indicator delivered as a dependency message → upsert like any create',
    msg: {
      id: '1732615205120-0',
      event: 'create',
      data: JSON.stringify({
        data: indicator({}, A),
        message: 'creates',
        origin: { referer: 'init-dependencies' },
        version: '4',
      }),
    },
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: [] },
  },
  // Merge: target upserted, each source removed.
  {
    name: 'merge → upsert target + remove each source (deduplicated, target never removed)',
    msg: message('merge', indicator({}, A), {
      context: {
        patch: [],
        reverse_patch: [],
        sources: [
          indicator({ pattern: "[domain-name:value = 'a.example']" }, 'iid-s1'),
          indicator({ pattern: "[domain-name:value = 'b.example']", revoked: true }, 'iid-s2'),
          indicator({}, 'iid-s1'),
          indicator({}, A),
        ],
      },
    }),
    want: {
      outcome: 'jobs',
      jobs: [upsert(A, ['198.51.100.7']), remove('iid-s1', ['a.example']), remove('iid-s2', ['b.example'])],
      findings: [],
    },
  },
  {
    name: 'merge source without internal id → finding, the rest goes on',
    msg: message('merge', indicator({}, A), {
      context: { sources: [indicator({}, null), indicator({}, 'iid-s1')] },
    }),
    want: {
      outcome: 'jobs',
      jobs: [upsert(A, ['198.51.100.7']), remove('iid-s1', ['198.51.100.7'])],
      findings: ['merge-source-without-id'],
    },
  },
  {
    name: 'merge without context → upsert of the target only',
    msg: message('merge', indicator({}, A)),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: [] },
  },
  // Patterns.
  {
    name: 'sigma → upsert []',
    msg: message('create', indicator({ pattern_type: 'sigma', pattern: 'title: x\ndetection: {}' }, A)),
    want: { outcome: 'jobs', jobs: [upsert(A, [])], findings: ['non-stix-pattern'] },
  },
  {
    name: 'pattern_type STIX in capitals is stix',
    msg: message('create', indicator({ pattern_type: 'STIX' }, A)),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: [] },
  },
  {
    name: 'invalid pattern → upsert []',
    msg: message('create', indicator({ pattern: "[ipv4-addr:value = '198.51.100.7'" }, A)),
    want: { outcome: 'jobs', jobs: [upsert(A, [])], findings: ['invalid-pattern'] },
  },
  {
    name: 'stix indicator without pattern → upsert []',
    msg: message('create', indicator({ pattern: undefined }, A)),
    want: { outcome: 'jobs', jobs: [upsert(A, [])], findings: ['missing-pattern'] },
  },
  {
    name: '!= → upsert [] in strict mode',
    msg: message('create', indicator({ pattern: "[ipv4-addr:value != '198.51.100.7']" }, A)),
    want: { outcome: 'jobs', jobs: [upsert(A, [])], findings: ['value-skipped', 'nothing-exportable'] },
  },
  {
    name: 'OR exports the union, canonical, deduplicated and sorted',
    msg: message(
      'create',
      indicator(
        {
          pattern:
            "[domain-name:value = 'WWW.Example.COM'] OR [ipv6-addr:value = '2001:DB8:0:0:0:0:0:1'] OR [ipv4-addr:value = '198.51.100.7/32'] OR [domain-name:value = 'www.example.com']",
        },
        A,
      ),
    ),
    want: {
      outcome: 'jobs',
      jobs: [upsert(A, ['198.51.100.7', '2001:db8::1', 'www.example.com'])],
      findings: [],
    },
  },
  {
    name: 'OR with a non-exportable branch → the rest, plus a finding',
    msg: message(
      'create',
      indicator({ pattern: "[ipv4-addr:value = '198.51.100.7' OR file:name = 'x.exe']" }, A),
    ),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7'])], findings: ['value-skipped'] },
  },
  {
    name: 'AND of observations → nothing in strict mode',
    msg: message(
      'create',
      indicator({ pattern: "[ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'a.example']" }, A),
    ),
    want: {
      outcome: 'jobs',
      jobs: [upsert(A, [])],
      findings: expect.arrayContaining(['nothing-exportable']),
    },
  },
  {
    name: 'AND of observations → both values in lenient mode',
    cfg: { extractionMode: 'lenient' },
    msg: message(
      'create',
      indicator({ pattern: "[ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'a.example']" }, A),
    ),
    want: { outcome: 'jobs', jobs: [upsert(A, ['198.51.100.7', 'a.example'])], findings: expect.any(Array) },
  },
  // Skipped.
  {
    name: 'heartbeat',
    msg: { id: '1-0', event: 'heartbeat', data: '"2024-11-26T10:00:10.120Z"' },
    want: { outcome: 'skipped', reason: 'heartbeat' },
  },
  {
    name: 'consumer_metrics',
    msg: { id: '1-0', event: 'consumer_metrics', data: '{"deliveryRate":1}' },
    want: { outcome: 'skipped', reason: 'consumer-metrics' },
  },
  {
    name: 'no-recover',
    msg: { id: '1-0', event: 'no-recover', data: '{"stream":"s","message":"m","resume_from":"1-0"}' },
    want: { outcome: 'skipped', reason: 'no-recover' },
  },
  {
    name: 'error',
    msg: { event: 'error', data: '{"stream":"s","message":"m"}' },
    want: { outcome: 'skipped', reason: 'stream-error' },
  },
  {
    name: 'unknown event name (even with an indicator) is ignored',
    msg: { ...message('create', indicator({}, A)), event: 'patch' },
    want: { outcome: 'skipped', reason: 'unknown-event', detail: 'patch' },
  },
  {
    name: 'event name from Object.prototype is unknown, not a crash',
    msg: { event: 'constructor', data: '' },
    want: { outcome: 'skipped', reason: 'unknown-event', detail: 'constructor' },
  },
  {
    name: 'identity (dependency message) → not-indicator',
    msg: message('create', { id: 'identity--1', type: 'identity', name: 'ACME' }),
    want: { outcome: 'skipped', reason: 'not-indicator', detail: 'identity' },
  },
  {
    name: 'relationship delete → not-indicator',
    msg: message('delete', { id: 'relationship--1', type: 'relationship', relationship_type: 'indicates' }),
    want: { outcome: 'skipped', reason: 'not-indicator', detail: 'relationship' },
  },
  {
    name: 'oversize non-indicator → not-indicator without parsing',
    cfg: { maxEventBytes: 100 },
    msg: message('create', { id: 'report--1', type: 'report', object_refs: Array(50).fill('indicator--x') }),
    want: { outcome: 'skipped', reason: 'not-indicator', detail: 'oversize' },
  },
  // Malformed.
  {
    name: 'oversize indicator',
    cfg: { maxEventBytes: 100 },
    msg: message('create', indicator({}, A)),
    want: { outcome: 'malformed', reason: expect.stringMatching(/bytes, above the limit of 100 bytes/) },
  },
  {
    name: 'bad JSON',
    msg: { id: '1-0', event: 'create', data: '{"data": {' },
    want: { outcome: 'malformed', reason: expect.stringMatching(/^data is not valid JSON/) },
  },
  {
    name: 'JSON that is not an object',
    msg: { id: '1-0', event: 'update', data: '"2024-11-26T10:00:10.120Z"' },
    want: { outcome: 'malformed', reason: expect.stringMatching(/not a JSON object/) },
  },
  {
    name: 'envelope without data',
    msg: { id: '1-0', event: 'delete', data: '{"version":"4","type":"delete"}' },
    want: { outcome: 'malformed', reason: 'event envelope has no `data` object' },
  },
  {
    name: 'data event without data',
    msg: { id: '1-0', event: 'create' } as unknown as StreamMessage,
    want: { outcome: 'malformed', reason: '`create` event without data' },
  },
  {
    name: 'data event without id',
    msg: { event: 'create', data: message('create', indicator({}, A)).data },
    want: { outcome: 'malformed', reason: '`create` event without an id' },
  },
  {
    name: 'data event with an id that is not <ms>-<seq>',
    msg: { ...message('merge', indicator({}, A)), id: '1732615205120' },
    want: { outcome: 'malformed', reason: expect.stringMatching(/is not a <ms>-<seq> id/) },
  },
  {
    name: 'indicator without OpenCTI internal id',
    msg: message('create', indicator({}, null)),
    want: { outcome: 'malformed', reason: expect.stringMatching(/without OpenCTI internal id/) },
  },
  {
    name: 'indicator without STIX id',
    msg: message('create', indicator({ id: undefined }, A)),
    want: { outcome: 'malformed', reason: expect.stringMatching(/without a STIX id/) },
  },
  {
    name: 'upsert without valid_from nor created',
    msg: message('create', indicator({ valid_from: undefined, created: undefined }, A)),
    want: { outcome: 'malformed', reason: expect.stringMatching(/without valid_from/) },
  },
  {
    name: 'remove without valid_from is fine (attributes are informational)',
    msg: message('delete', indicator({ valid_from: undefined, created: undefined }, A)),
    want: { outcome: 'jobs', jobs: [remove(A, ['198.51.100.7'])], findings: [] },
  },
];

describe('normalizeMessage', () => {
  it.each(rows)('$name', ({ msg, cfg, want }) => {
    expect(summary(normalizeMessage(msg, { ...config, ...cfg }))).toEqual(want);
  });

  it('gives every job of a merge the message id and distinct job ids', async () => {
    const { jobId } = await import('../src/index.ts');
    const r = normalizeMessage(
      message('merge', indicator({}, A), {
        id: '1732615205120-3',
        context: { sources: [indicator({}, 'iid-s1')] },
      }),
      config,
    );
    if (r.outcome !== 'jobs') throw new Error(r.outcome);
    expect(r.jobs.map((j) => j.eventId)).toEqual(['1732615205120-3', '1732615205120-3']);
    expect(new Set(r.jobs.map(jobId)).size).toBe(2);
  });

  it('names the indicator and the skipped comparison in findings', () => {
    const r = normalizeMessage(
      message('create', indicator({ pattern: "[ipv4-addr:value != '198.51.100.7']" }, A)),
      config,
    );
    if (r.outcome !== 'jobs') throw new Error(r.outcome);
    expect(r.findings[0]).toMatchObject({
      kind: 'value-skipped',
      indicatorId: A,
      stixId: `indicator--stix-${A}`,
    });
    expect(r.findings[0]?.skip?.reason).toEqual(expect.any(String));
  });

  it('reports where an invalid pattern breaks', () => {
    const r = normalizeMessage(message('create', indicator({ pattern: '[ipv4-addr:value = ' }, A)), config);
    if (r.outcome !== 'jobs') throw new Error(r.outcome);
    expect(r.findings).toEqual([
      expect.objectContaining({ kind: 'invalid-pattern', indicatorId: A, position: expect.any(Number) }),
    ]);
  });

  it('renders the description template and rounds valid_until', () => {
    const data = indicator(
      {
        name: 'n',
        description: 'd',
        labels: ['c2', 'apt'],
        valid_until: '2025-02-24T10:00:05.000Z',
        kill_chain_phases: [
          { kill_chain_name: 'mitre-attack', phase_name: 'execution', x: 1 },
          { kill_chain_name: 'lockheed', phase_name: 'delivery' },
        ],
      },
      A,
    );
    const r = normalizeMessage(message('create', data), {
      ...config,
      validUntilRounding: 'day',
      descriptionTemplate:
        '{name}|{description}|{score}|{labels}|{pattern_type}|{main_observable_type}|{stix_id}|{OPENCTI_URL}|{id}',
    });
    if (r.outcome !== 'jobs') throw new Error(r.outcome);
    expect(r.jobs[0]?.attributes).toEqual({
      validFrom: '2024-11-26T10:00:05.000Z',
      validUntil: '2025-02-25T00:00:00.000Z',
      killChainPhases: [
        { kill_chain_name: 'lockheed', phase_name: 'delivery' },
        { kill_chain_name: 'mitre-attack', phase_name: 'execution' },
      ],
      description: `n|d|80|c2, apt|stix|IPv4-Addr|indicator--stix-${A}|https://opencti.example.org|${A}`,
    });
  });

  it('leaves validUntil absent when the indicator has none', () => {
    const r = normalizeMessage(message('create', indicator({}, A)), {
      ...config,
      validUntilRounding: 'hour',
    });
    if (r.outcome !== 'jobs') throw new Error(r.outcome);
    expect(r.jobs[0]?.attributes).not.toHaveProperty('validUntil');
  });

  it('checks the byte size of the UTF-8 data, not its UTF-16 length', () => {
    const msg = message('create', indicator({ description: '😀'.repeat(100) }, A));
    const bytes = Buffer.byteLength(msg.data);
    expect(bytes).toBeGreaterThan(msg.data.length);
    expect(normalizeMessage(msg, { ...config, maxEventBytes: bytes }).outcome).toBe('jobs');
    expect(normalizeMessage(msg, { ...config, maxEventBytes: msg.data.length }).outcome).toBe('malformed');
  });

  it('uses the OpenCTI extension key of the reference', () => {
    expect(OPENCTI_EXTENSION).toBe('extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba');
  });
});
