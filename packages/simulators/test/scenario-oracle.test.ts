import { createHash } from 'node:crypto';
import {
  DEFAULT_DESCRIPTION_TEMPLATE,
  type IocAttributes,
  normalizeKillChainPhases,
} from '@octi-sekoia/model';
import { compareEventIds, type StreamMessage } from '@octi-sekoia/opencti';
import { extractObservables } from '@octi-sekoia/stix';
import { waitFor } from '@octi-sekoia/testkit';
import { describe, expect, it } from 'vitest';
import { startOpenCtiSimulator } from '../src/opencti/index.ts';
import { seededUuids } from '../src/opencti/uuid.ts';
import { World } from '../src/opencti/world.ts';
import {
  type ActualIoc,
  applyScenario,
  type CollectionDiff,
  computeExpectedCollection,
  controlTarget,
  diffCollections,
  type ExpectedIoc,
  generateScenario,
  isConverged,
  messagesFromLog,
  type OracleConfig,
  type ScenarioIndicatorInput,
  type ScenarioStep,
} from '../src/scenario/index.ts';
import { auth, openRaw, streamUrl } from './opencti-helpers.ts';

// ---------------------------------------------------------------------------------------------------------
// Stream messages in the shape of docs/opencti-api.md, written by hand (no World, no product code).
// `StreamFixture.apply(steps)` turns scenario steps into the frames OpenCTI would send, so the same case can
// also run through the simulator's World and be compared.

const X = 'extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba';
const MITRE = 'extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b';
const ORIGIN = {
  socket: 'query',
  ip: '::ffff:10.0.0.5',
  user_id: '88ec0c6a-13ce-5e39-b486-354fe4a7084f',
  group_ids: ['9c746e48-2ea5-4f2e-8b3a-0a4b1f9d6c21'],
  organization_ids: [],
  user_metadata: {},
};

type Json = Record<string, unknown>;

/** A uuid-shaped id derived from text (stands in for OpenCTI's uuidv5 of the pattern). */
function fakeUuid(text: string): string {
  const h = createHash('sha1').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function ext(o: Json): Json {
  return (o.extensions as Record<string, Json>)[X] as Json;
}

/** RFC 6902 ops from `a` to `b` over top-level keys and the OpenCTI extension's fields. */
function patch(a: Json, b: Json): Json[] {
  const ops: Json[] = [];
  const walk = (x: Json, y: Json, prefix: string) => {
    for (const k of Object.keys(y)) {
      if (k === 'extensions') continue;
      if (!(k in x)) ops.push({ op: 'add', path: `${prefix}/${k}`, value: y[k] });
      else if (JSON.stringify(x[k]) !== JSON.stringify(y[k]))
        ops.push({ op: 'replace', path: `${prefix}/${k}`, value: y[k] });
    }
    for (const k of Object.keys(x)) if (!(k in y)) ops.push({ op: 'remove', path: `${prefix}/${k}` });
  };
  walk(a, b, '');
  if (a.extensions && b.extensions) walk(ext(a), ext(b), `/extensions/${X}`);
  return ops;
}

class StreamFixture {
  readonly messages: StreamMessage[] = [];
  /** Current (or last, once deleted) STIX state per internal id. */
  readonly states = new Map<string, Json>();
  private ms = 1_780_000_000_000;
  private tick = 0;

  /** `noise`: interleave heartbeats, consumer_metrics and unknown events, as a live connection shows them. */
  constructor(private readonly noise = true) {
    if (noise) {
      this.messages.push({
        event: 'connected',
        data: JSON.stringify({
          lastEventId: '0-0',
          firstEventId: '0-0',
          firstEventDate: '1970-01-01T00:00:00.000Z',
          lastEventDate: '1970-01-01T00:00:00.000Z',
          streamSize: 0,
          connectionId: '0b6a7c52-6c1e-4f0e-9a55-1f4ad7c1e0d2',
        }),
      });
    }
  }

  nextId(): string {
    this.ms += 1000;
    return `${this.ms}-0`;
  }

  private emit(event: string, envelope: Json, id = this.nextId()): void {
    if (this.noise) {
      const kind = this.tick++ % 3;
      if (kind === 0)
        this.messages.push({ id, event: 'heartbeat', data: JSON.stringify(new Date(this.ms).toISOString()) });
      else if (kind === 1) {
        this.messages.push({
          id,
          event: 'consumer_metrics',
          data: JSON.stringify({
            deliveryRate: 1,
            processingRate: 1,
            resolutionRate: 1,
            productionRate: 1,
            timeLag: 0,
          }),
        });
      } else
        this.messages.push({ event: 'unknown_future_event', data: JSON.stringify({ data: envelope.data }) });
    }
    this.messages.push({ id, event, data: JSON.stringify(envelope) });
  }

  private envelope(type: string, message: string, data: Json, at: string, context?: Json): Json {
    const env: Json = { version: '4', type, scope: 'external', message, origin: ORIGIN, data };
    if (context) env.context = context;
    env.event_id = `${Date.parse(at)}-0`;
    return env;
  }

  indicator(input: ScenarioIndicatorInput): Json {
    const at = input.at;
    const o: Json = {
      id: `indicator--${fakeUuid(input.pattern)}`,
      spec_version: '2.1',
      type: 'indicator',
      extensions: {
        [X]: {
          extension_type: 'property-extension',
          id: input.internalId,
          type: 'Indicator',
          created_at: at,
          updated_at: at,
          is_inferred: false,
          creator_ids: [ORIGIN.user_id],
          detection: true,
          score: input.score ?? 50,
          main_observable_type: 'Unknown',
        },
        [MITRE]: { extension_type: 'property-extension' },
      },
      created: at,
      modified: at,
      revoked: input.revoked ?? false,
      confidence: input.confidence ?? 75,
      lang: 'en',
    };
    if (input.labels) o.labels = input.labels;
    o.name = input.name ?? input.pattern;
    if (input.description) o.description = input.description;
    o.pattern = input.pattern;
    o.pattern_type = input.patternType ?? 'stix';
    o.valid_from = input.validFrom ?? at;
    if (input.validUntil) o.valid_until = input.validUntil;
    if (input.killChainPhases) o.kill_chain_phases = input.killChainPhases;
    return o;
  }

  create(input: ScenarioIndicatorInput): void {
    const o = this.indicator(input);
    this.states.set(input.internalId, o);
    this.emit('create', this.envelope('create', `creates a Indicator \`${String(o.name)}\``, o, input.at));
  }

  private update(internalId: string, at: string, mutate: (o: Json) => void): void {
    const before = this.states.get(internalId)!;
    const after = structuredClone(before);
    mutate(after);
    after.modified = at;
    ext(after).updated_at = at;
    this.states.set(internalId, after);
    const context = { patch: patch(before, after), reverse_patch: patch(after, before) };
    this.emit('update', this.envelope('update', 'updates the object', after, at, context));
  }

  delete(internalId: string, at: string): void {
    const last = this.states.get(internalId)!;
    this.emit('delete', this.envelope('delete', `deletes a Indicator \`${String(last.name)}\``, last, at));
  }

  merge(targetId: string, sourceIds: string[], at: string): void {
    const before = this.states.get(targetId)!;
    const after = structuredClone(before);
    const sources = sourceIds.map((id) => this.states.get(id)!);
    const labels = new Set<string>((after.labels as string[] | undefined) ?? []);
    const stixIds = new Set<string>((ext(after).stix_ids as string[] | undefined) ?? []);
    for (const s of sources) {
      for (const l of (s.labels as string[] | undefined) ?? []) labels.add(l);
      stixIds.add(String(s.id));
    }
    if (labels.size > 0) after.labels = [...labels];
    ext(after).stix_ids = [...stixIds];
    after.modified = at;
    ext(after).updated_at = at;
    this.states.set(targetId, after);
    const context = { patch: patch(before, after), reverse_patch: patch(after, before), sources };
    this.emit('merge', this.envelope('merge', 'merges Indicator', after, at, context));
  }

  /** A non-indicator object, as a create with the OpenCTI extension. */
  object(object: Json, internalId: string, at: string): void {
    const data: Json = {
      ...object,
      extensions: {
        [X]: {
          extension_type: 'property-extension',
          id: internalId,
          type: String(object.type),
          created_at: at,
          updated_at: at,
        },
      },
    };
    this.emit('create', this.envelope('create', `creates a ${String(object.type)}`, data, at));
  }

  /** Any message as given (malformed ones included). */
  raw(message: StreamMessage): void {
    this.messages.push(message);
  }

  apply(steps: ScenarioStep[]): this {
    for (const step of steps) {
      switch (step.op) {
        case 'create':
        case 'recreate':
          this.create(step.input);
          break;
        case 'update':
          this.update(step.internalId, step.at, (o) => {
            for (const [k, v] of Object.entries(step.set ?? {})) o[k] = v;
            for (const k of step.unset ?? []) delete o[k];
            Object.assign(ext(o), step.extension ?? {});
          });
          break;
        case 'changePattern':
          if (step.collidesWith) this.merge(step.collidesWith, [step.internalId], step.at);
          else {
            this.update(step.internalId, step.at, (o) => {
              o.id = `indicator--${fakeUuid(step.pattern)}`;
              o.pattern = step.pattern;
              if (step.patternType) o.pattern_type = step.patternType;
            });
          }
          break;
        case 'revoke':
        case 'unrevoke':
          this.update(step.internalId, step.at, (o) => {
            o.revoked = step.op === 'revoke';
          });
          break;
        case 'delete':
          this.delete(step.internalId, step.at);
          break;
        case 'merge':
          this.merge(step.targetId, step.sourceIds, step.at);
          break;
        case 'nonIndicator':
          this.object(step.object, step.internalId, step.at);
          break;
        case 'loadBundle':
          throw new Error('bundles are not part of the hand-written fixtures');
      }
    }
    return this;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Cases

const URL_BASE = 'https://octi.example';
const CONFIG: OracleConfig = {
  openctiUrl: `${URL_BASE}/`,
  descriptionTemplate: DEFAULT_DESCRIPTION_TEMPLATE,
  validUntilRounding: 'none',
  extractionMode: 'strict',
};

const A = '0a000000-0000-4000-8000-00000000000a';
const B = '0b000000-0000-4000-8000-00000000000b';
const C = '0c000000-0000-4000-8000-00000000000c';
const D = '0d000000-0000-4000-8000-00000000000d';
const E = '0e000000-0000-4000-8000-00000000000e';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const t = (i: number) => new Date(T0 + i * 60_000).toISOString();
const until = (i: number) => new Date(T0 + i * 60_000 + 90 * 86_400_000 + 7_000).toISOString();

const IP = '198.51.100.7';
const DOM = 'evil.example';
const P_IP = `[ipv4-addr:value = '${IP}']`;
const P_DOM = `[domain-name:value = '${DOM}']`;
const P_IP_DOM = `[ipv4-addr:value = '${IP}' OR domain-name:value = '${DOM}']`;
const MD5 = '0123456789abcdef0123456789abcdef';
const SHA1 = '0123456789abcdef0123456789abcdef01234567';
const SHA256 = 'a'.repeat(64);
const SHA512 = 'b'.repeat(128);

function create(
  id: string,
  pattern: string,
  i: number,
  extra: Partial<ScenarioIndicatorInput> = {},
): ScenarioStep {
  return {
    op: 'create',
    input: { internalId: id, at: t(i), pattern, validFrom: t(i), validUntil: until(i), ...extra },
    kind: 'single',
    sharedValues: 0,
  };
}
const change = (id: string, pattern: string, i: number, more: Partial<ScenarioStep> = {}): ScenarioStep =>
  ({
    op: 'changePattern',
    internalId: id,
    pattern,
    kind: 'single',
    sharedValues: 0,
    at: t(i),
    ...more,
  }) as ScenarioStep;
const update = (
  id: string,
  i: number,
  more: { set?: Json; unset?: string[]; extension?: Json },
): ScenarioStep => ({
  op: 'update',
  internalId: id,
  at: t(i),
  ...more,
});
const revoke = (id: string, i: number): ScenarioStep => ({ op: 'revoke', internalId: id, at: t(i) });
const unrevoke = (id: string, i: number): ScenarioStep => ({ op: 'unrevoke', internalId: id, at: t(i) });
const del = (id: string, i: number): ScenarioStep => ({ op: 'delete', internalId: id, at: t(i) });
const merge = (targetId: string, sourceIds: string[], i: number): ScenarioStep => ({
  op: 'merge',
  targetId,
  sourceIds,
  at: t(i),
});
const object = (o: Json, internalId: string, i: number): ScenarioStep => ({
  op: 'nonIndicator',
  object: { spec_version: '2.1', created: t(i), modified: t(i), ...o },
  internalId,
  at: t(i),
});

/** value → live holders and whose attributes it carries (optionally spelled out). */
type Expectation = Record<string, { ids: string[]; from: string; attributes?: Partial<IocAttributes> }>;

interface Case {
  name: string;
  steps: ScenarioStep[];
  expected: Expectation;
  config?: Partial<OracleConfig>;
}

const sharedSteps = [create(A, P_IP, 1), create(B, P_IP_DOM, 2)];
const MALWARE = 'malware--6b0f5e2a-2f0c-4a8e-9d7e-7c1d3e5f9a01';

const CASES: Case[] = [
  {
    name: 'shared value: both hold it, the later event gives the attributes',
    steps: sharedSteps,
    expected: { [IP]: { ids: [A, B], from: B }, [DOM]: { ids: [B], from: B } },
  },
  {
    name: 'shared value: one holder deleted → live with the survivor’s attributes',
    steps: [...sharedSteps, del(B, 3)],
    expected: { [IP]: { ids: [A], from: A } },
  },
  {
    name: 'shared value: both holders deleted → gone',
    steps: [...sharedSteps, del(B, 3), del(A, 4)],
    expected: {},
  },
  {
    name: 'pattern change: old value gone, new value live',
    steps: [create(A, P_IP, 1), change(A, "[domain-name:value = 'new.example']", 2)],
    expected: { 'new.example': { ids: [A], from: A } },
  },
  ...(
    [
      ['yara', 'rule r { strings: $a = "evil.example" condition: $a }', 'yara'],
      [
        'sigma',
        "title: t\ndetection:\n  selection:\n    query: 'evil.example'\n  condition: selection",
        'sigma',
      ],
      ['!=', `[ipv4-addr:value != '${IP}']`, undefined],
      ['LIKE', "[domain-name:value LIKE '%.evil.example']", undefined],
      ['AND-only', `[ipv4-addr:value = '${IP}'] AND [domain-name:value = '${DOM}']`, undefined],
      ['invalid', `[ipv4-addr:value = '${IP}'`, undefined],
    ] as const
  ).map(
    ([label, pattern, patternType]): Case => ({
      name: `switch to a non-exportable pattern (${label}): the values go`,
      steps: [create(A, P_IP_DOM, 1), change(A, pattern, 2, patternType ? { patternType } : {})],
      expected: {},
    }),
  ),
  {
    name: 'AND-only in lenient mode exports its values',
    steps: [
      create(A, P_IP, 1),
      change(A, `[ipv4-addr:value = '${IP}'] AND [domain-name:value = '${DOM}']`, 2),
    ],
    expected: { [IP]: { ids: [A], from: A }, [DOM]: { ids: [A], from: A } },
    config: { extractionMode: 'lenient' },
  },
  {
    name: 'back from yara to a stix pattern',
    steps: [
      create(A, 'rule r { condition: true }', 1, { patternType: 'yara' }),
      change(A, P_DOM, 2, { patternType: 'stix' }),
    ],
    expected: { [DOM]: { ids: [A], from: A } },
  },
  {
    name: 'revoke: the values go',
    steps: [create(A, P_IP, 1), create(B, P_DOM, 2), revoke(A, 3)],
    expected: { [DOM]: { ids: [B], from: B } },
  },
  {
    name: 'un-revoke: the values come back',
    steps: [create(A, P_IP, 1), create(B, P_DOM, 2), revoke(A, 3), unrevoke(A, 4)],
    expected: { [IP]: { ids: [A], from: A }, [DOM]: { ids: [B], from: B } },
  },
  {
    name: 'revoking one holder of a shared value leaves it to the other',
    steps: [...sharedSteps, revoke(B, 3)],
    expected: { [IP]: { ids: [A], from: A } },
  },
  {
    name: 'an update of a revoked indicator does not bring it back',
    steps: [create(A, P_IP, 1), revoke(A, 2), update(A, 3, { set: { description: 'still revoked' } })],
    expected: {},
  },
  {
    name: 'merge: the sources’ values go unless the target has them',
    steps: [
      create(A, P_IP, 1),
      create(B, "[domain-name:value = 'only-b.example']", 2),
      create(C, `[ipv4-addr:value = '${IP}' OR domain-name:value = 'only-c.example']`, 3),
      merge(A, [B, C], 4),
    ],
    expected: { [IP]: { ids: [A], from: A } },
  },
  {
    name: 'merge into a revoked target: nothing is live',
    steps: [create(A, P_IP, 1), revoke(A, 2), create(B, P_DOM, 3), merge(A, [B], 4)],
    expected: {},
  },
  {
    name: 'pattern change onto another indicator’s pattern: OpenCTI merges it into the owner',
    steps: [create(A, P_IP, 1), create(B, P_DOM, 2), change(B, P_IP, 3, { collidesWith: A })],
    expected: { [IP]: { ids: [A], from: A } },
  },
  {
    name: 're-creation after delete: new internal id, same pattern',
    steps: [
      create(A, P_IP, 1),
      del(A, 2),
      { ...(create(C, P_IP, 3) as Extract<ScenarioStep, { op: 'create' }>), op: 'recreate', previousId: A },
    ],
    expected: { [IP]: { ids: [C], from: C } },
  },
  {
    name: 'attribute winner = the holder whose latest event came last (an update of the older holder)',
    steps: [...sharedSteps, update(A, 3, { set: { valid_until: until(50) } })],
    expected: {
      [IP]: { ids: [A, B], from: A, attributes: { validFrom: t(1), validUntil: until(50) } },
      [DOM]: { ids: [B], from: B },
    },
  },
  {
    name: 'attribute winner: a later event of the other holder wins back',
    steps: [
      ...sharedSteps,
      update(A, 3, { set: { valid_until: until(50) } }),
      update(B, 4, {
        extension: { score: 90 },
        set: { kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'impact' }] },
      }),
    ],
    expected: {
      [IP]: {
        ids: [A, B],
        from: B,
        attributes: {
          validUntil: until(2),
          killChainPhases: [{ kill_chain_name: 'mitre-attack', phase_name: 'impact' }],
        },
      },
      [DOM]: { ids: [B], from: B },
    },
  },
  {
    name: 'listen-delete false: deletes are never seen, merges still remove their sources',
    steps: [
      create(A, P_IP, 1),
      create(B, P_DOM, 2),
      create(C, "[domain-name:value = 'c.example']", 3),
      del(A, 4),
      merge(B, [C], 5),
    ],
    expected: { [IP]: { ids: [A], from: A }, [DOM]: { ids: [B], from: B } },
    config: { listenDelete: false },
  },
  {
    name: 'listen-delete true (default): the same deletes remove',
    steps: [
      create(A, P_IP, 1),
      create(B, P_DOM, 2),
      create(C, "[domain-name:value = 'c.example']", 3),
      del(A, 4),
      merge(B, [C], 5),
    ],
    expected: { [DOM]: { ids: [B], from: B } },
  },
  {
    name: 'non-indicators (identity, marking, malware, relationship) are ignored',
    steps: [
      create(A, P_IP, 1),
      object(
        {
          type: 'identity',
          id: 'identity--5b7e4c1d-0f3a-4e2b-9c8d-1a2b3c4d5e6f',
          name: 'ACME',
          identity_class: 'organization',
        },
        C,
        2,
      ),
      object(
        {
          type: 'marking-definition',
          id: 'marking-definition--9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b',
          name: 'Statement',
          definition_type: 'statement',
          definition: { statement: 'Copyright ACME' },
        },
        D,
        3,
      ),
      object({ type: 'malware', id: MALWARE, name: 'BadThing', is_family: true }, E, 4),
      object(
        {
          type: 'relationship',
          id: 'relationship--1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b',
          relationship_type: 'indicates',
          source_ref: MALWARE,
          target_ref: 'identity--5b7e4c1d-0f3a-4e2b-9c8d-1a2b3c4d5e6f',
        },
        '0f000000-0000-4000-8000-00000000000f',
        5,
      ),
    ],
    expected: { [IP]: { ids: [A], from: A } },
  },
  {
    name: 'compound patterns and canonical values: OR of types, IN, AND of hashes, several hashes, spellings',
    steps: [
      create(A, "[ipv4-addr:value = '198.51.100.8/32' OR domain-name:value = 'MiXeD.Example']", 1),
      create(B, "[domain-name:value IN ('a.example', 'mixed.example')]", 2),
      create(
        C,
        `[file:hashes.MD5 = '${MD5.toUpperCase()}' AND file:hashes.'SHA-256' = '${SHA256}' AND file:size = 10]`,
        3,
      ),
      create(
        D,
        `[file:hashes.'SHA-1' = '${SHA1}' OR file:hashes.'SHA-512' = '${SHA512}'] OR [ipv6-addr:value = '2001:DB8:0:0:0:0:0:1']`,
        4,
      ),
      create(E, `[url:value = 'HTTPS://Evil.Example/a?b=c&d' OR email-addr:value = 'Bob@Evil.Example']`, 5),
    ],
    expected: {
      '198.51.100.8': { ids: [A], from: A },
      'mixed.example': { ids: [A, B], from: B },
      'a.example': { ids: [B], from: B },
      [MD5]: { ids: [C], from: C },
      [SHA256]: { ids: [C], from: C },
      [SHA1]: { ids: [D], from: D },
      [SHA512]: { ids: [D], from: D },
      '2001:db8::1': { ids: [D], from: D },
      'https://evil.example/a?b=c&d': { ids: [E], from: E },
      'bob@evil.example': { ids: [E], from: E },
    },
  },
  {
    name: 'rounding of valid_until and the description template',
    steps: [create(A, P_IP, 1, { name: 'Bad IP', score: 80, labels: ['c2', 'apt'] })],
    expected: {
      [IP]: {
        ids: [A],
        from: A,
        attributes: {
          validUntil: new Date(Math.ceil(Date.parse(until(1)) / 3_600_000) * 3_600_000).toISOString(),
          description: `Bad IP (80) c2, apt ${A}`,
        },
      },
    },
    config: { validUntilRounding: 'hour', descriptionTemplate: '{name} ({score}) {labels} {id}' },
  },
];

/** The attributes a live indicator's last state implies (default template): the test's own expectation. */
function stateAttributes(fixture: StreamFixture, id: string): IocAttributes {
  const s = fixture.states.get(id)!;
  const attributes: IocAttributes = {
    validFrom: String(s.valid_from),
    killChainPhases: normalizeKillChainPhases(s.kill_chain_phases),
    description: `${URL_BASE}/dashboard/observations/indicators/${id}`,
  };
  if (s.valid_until !== undefined) attributes.validUntil = String(s.valid_until);
  return attributes;
}

function expectedMap(c: Case, fixture: StreamFixture): Record<string, ExpectedIoc> {
  const out: Record<string, ExpectedIoc> = {};
  for (const [value, e] of Object.entries(c.expected)) {
    out[value] = {
      value,
      indicatorIds: [...e.ids].sort(),
      attributes: { ...stateAttributes(fixture, e.from), ...e.attributes },
    };
  }
  return out;
}

const plain = (m: Map<string, ExpectedIoc>) => Object.fromEntries(m);

function newWorld(mergeDeletesSources = false): World {
  let clock = Date.parse('2026-11-01T00:00:00.000Z');
  return new World({
    now: () => clock++,
    uuid: seededUuids(7),
    origin: { socket: 'query', ip: '::ffff:127.0.0.1', user_id: '88ec0c6a-13ce-5e39-b486-354fe4a7084f' },
    mergeDeletesSources: () => mergeDeletesSources,
  });
}

describe('computeExpectedCollection on hand-written stream messages (§6 frames, with heartbeats and noise)', () => {
  it.each(CASES)('$name', (c) => {
    const fixture = new StreamFixture().apply(c.steps);
    const got = computeExpectedCollection(fixture.messages, { ...CONFIG, ...c.config });
    expect(plain(got)).toEqual(expectedMap(c, fixture));
  });
});

describe('the same cases through the simulator’s World and its log give the same answer', () => {
  it.each(
    CASES.flatMap((c) => [
      { ...c, mergeDeletesSources: false },
      { ...c, mergeDeletesSources: true },
    ]),
  )('$name (merge deletes sources: $mergeDeletesSources)', (c) => {
    const world = newWorld(c.mergeDeletesSources);
    applyScenario(world, { seed: 0, steps: c.steps });
    const got = computeExpectedCollection(messagesFromLog(world.entries()), { ...CONFIG, ...c.config });
    expect(plain(got)).toEqual(expectedMap(c, new StreamFixture(false).apply(c.steps)));
  });
});

describe('computeExpectedCollection: what only raw messages can show', () => {
  const base = () => new StreamFixture();
  const input = (id: string, pattern: string, i: number): ScenarioIndicatorInput => ({
    internalId: id,
    at: t(i),
    pattern,
    validFrom: t(i),
    validUntil: until(i),
  });

  it('the SSE event name decides: `delete` carrying an update envelope (left the filters) removes', () => {
    const f = base();
    f.create(input(A, P_IP, 1));
    const left = { ...f.states.get(A)!, labels: ['moved-out'] };
    f.raw({
      id: f.nextId(),
      event: 'delete',
      data: JSON.stringify({
        version: '4',
        type: 'update',
        scope: 'external',
        message: 'adds a label',
        data: left,
        context: { patch: [], reverse_patch: [] },
      }),
    });
    expect(computeExpectedCollection(f.messages, CONFIG).size).toBe(0);
  });

  it('`create` carrying an update envelope (entered the filters) makes it live; a recovery create too', () => {
    const f = base();
    const o = f.indicator(input(A, P_IP, 1));
    f.raw({
      id: f.nextId(),
      event: 'create',
      data: JSON.stringify({ version: '4', type: 'update', scope: 'external', data: o }),
    });
    const r = f.indicator(input(B, P_DOM, 2));
    f.raw({
      id: `${Date.parse(t(2))}-0`,
      event: 'create',
      data: JSON.stringify({ data: r, message: 'creates', origin: { referer: 'init-create' }, version: '4' }),
    });
    expect([...computeExpectedCollection(f.messages, CONFIG).keys()].sort()).toEqual([IP, DOM]);
  });

  it('a replayed older event (reconnect, recovery) does not undo a newer one', () => {
    const f = base();
    f.create(input(A, P_IP, 1));
    const firstCreate = f.messages[f.messages.length - 1]!;
    f.apply([change(A, P_DOM, 2)]);
    f.raw(firstCreate);
    const got = computeExpectedCollection(f.messages, CONFIG);
    expect([...got.keys()]).toEqual([DOM]);
  });

  it('messages the product cannot act on change nothing', () => {
    const f = base();
    f.create(input(A, P_IP, 1));
    const o = f.indicator(input(B, P_DOM, 2));
    const noExt = { ...o, extensions: {} };
    const env = (data: Json) => JSON.stringify({ version: '4', type: 'create', scope: 'external', data });
    f.raw({ event: 'create', data: env(o) }); // no id
    f.raw({ id: 'not-an-id', event: 'create', data: env(o) });
    f.raw({ id: f.nextId(), event: 'create', data: '{"version":"4","data":' }); // truncated JSON
    f.raw({ id: f.nextId(), event: 'create', data: env(noExt) });
    f.raw({ id: f.nextId(), event: 'create', data: env({ ...o, id: undefined }) });
    f.raw({
      id: f.nextId(),
      event: 'create',
      data: env({ ...o, valid_from: undefined, created: undefined }),
    });
    f.raw({ id: f.nextId(), event: 'update', data: JSON.stringify({ version: '4', type: 'update' }) });
    f.raw({ id: f.nextId(), event: 'no-recover', data: env(o) });
    f.raw({ event: 'error', data: JSON.stringify({ stream: 's', message: 'boom' }) });
    f.raw({ id: f.nextId(), event: 'delete', data: env({ ...f.states.get(A)!, extensions: {} }) });
    expect([...computeExpectedCollection(f.messages, CONFIG).keys()]).toEqual([IP]);
  });

  it('merge sources without an internal id or of another type are skipped; the target stays live', () => {
    const f = base();
    f.create(input(A, P_IP, 1));
    f.create(input(B, P_DOM, 2));
    const target = f.states.get(A)!;
    const sources = [
      { ...f.states.get(B)!, extensions: {} },
      { type: 'identity', id: 'identity--x', extensions: { [X]: { id: B } } },
    ];
    f.raw({
      id: f.nextId(),
      event: 'merge',
      data: JSON.stringify({ version: '4', type: 'merge', data: target, context: { sources } }),
    });
    expect([...computeExpectedCollection(f.messages, CONFIG).keys()].sort()).toEqual([IP, DOM]);
  });

  it('pattern_type is compared case-insensitively and pattern_version 2.0 is honoured', () => {
    const f = base();
    f.create({ ...input(A, P_IP, 1), patternType: 'STIX' });
    const exists = f.indicator(input(B, "[domain-name:value = 'x.example' OR EXISTS domain-name:value]", 2));
    f.raw({
      id: f.nextId(),
      event: 'create',
      data: JSON.stringify({ version: '4', type: 'create', data: { ...exists, pattern_version: '2.0' } }),
    });
    expect([...computeExpectedCollection(f.messages, CONFIG).keys()]).toEqual([IP]);
  });
});

describe('the oracle on a generated scenario agrees with the World’s final state', () => {
  it.each([
    { seed: 21, indicators: 1500 },
    {
      seed: 22,
      indicators: 800,
      mix: { merge: 0.3, delete: 0.3, recreate: 0.3, patternCollision: 0.2, revoke: 0.3, unrevoke: 0.3 },
    },
    { seed: 23, indicators: 600, sharedFields: true, includeBundles: true },
  ])('%o', (opts) => {
    const scenario = generateScenario(opts);
    const world = newWorld(opts.seed % 2 === 0);
    applyScenario(world, scenario);
    for (const extractionMode of ['strict', 'lenient'] as const) {
      const config = { ...CONFIG, extractionMode };
      const got = computeExpectedCollection(messagesFromLog(world.entries()), config);

      // Ground truth from the World's objects: live = not deleted, not revoked; winner = latest updated_at.
      const truth = new Map<string, { ids: string[]; winner: string; at: number; tie: boolean }>();
      for (const e of world.objects()) {
        const s = e.stix as Json;
        if (e.deleted || s.type !== 'indicator' || s.revoked === true || s.pattern_type !== 'stix') continue;
        const r = extractObservables(String(s.pattern), { mode: extractionMode });
        const at = Date.parse(String((s.extensions as Record<string, Json>)[X]!.updated_at));
        for (const v of new Set(r.observables.map((o) => o.value))) {
          const cur = truth.get(v);
          if (!cur) truth.set(v, { ids: [e.internalId], winner: e.internalId, at, tie: false });
          else {
            cur.ids.push(e.internalId);
            if (at > cur.at) Object.assign(cur, { winner: e.internalId, at, tie: false });
            else if (at === cur.at) cur.tie = true;
          }
        }
      }
      expect([...got.keys()].sort()).toEqual([...truth.keys()].sort());
      let compared = 0;
      for (const [v, exp] of got) {
        const tr = truth.get(v)!;
        expect(exp.indicatorIds, v).toEqual([...tr.ids].sort());
        if (tr.tie) continue; // bundle indicators share one load time
        expect(exp.attributes.description, v).toBe(
          `${URL_BASE}/dashboard/observations/indicators/${tr.winner}`,
        );
        compared++;
      }
      expect(compared).toBeGreaterThan(got.size * 0.9);
      expect([...got.values()].some((e) => e.indicatorIds.length > 1)).toBe(true);
    }
  });
});

describe('through a running OpenCTI simulator', () => {
  it.each([true, false])(
    'the oracle on the SSE stream a client reads from 0-0 equals the oracle on the log (listen-delete %s)',
    async (listenDelete) => {
      const sim = await startOpenCtiSimulator({ heartbeatMs: 40 });
      const scenario = generateScenario({ seed: 31, indicators: 300 });
      try {
        applyScenario(controlTarget(sim.control), scenario);
        const last = sim.control.streamInfo().lastEventId;
        const stream = await openRaw(
          streamUrl(sim),
          auth(sim.token, { 'last-event-id': '0-0', 'listen-delete': String(listenDelete) }),
        );
        try {
          // The stream carries only indicators; a heartbeat at or past the log's last id means it caught up.
          await waitFor(
            () =>
              stream
                .frames()
                .some((f) => f.event === 'heartbeat' && compareEventIds(f.id ?? '0-0', last) >= 0),
            { timeoutMs: 30_000, what: 'the stream to catch up with the log' },
          );
        } finally {
          stream.close();
        }
        const received = stream
          .frames()
          .map((f) => ({ ...(f.id ? { id: f.id } : {}), event: f.event ?? 'message', data: f.data }));
        const local = newWorld();
        applyScenario(local, scenario);
        const config = { ...CONFIG, listenDelete };
        const fromStream = computeExpectedCollection(received, config);
        expect(fromStream.size).toBeGreaterThan(100);
        expect(plain(fromStream)).toEqual(
          plain(computeExpectedCollection(messagesFromLog(local.entries()), config)),
        );
      } finally {
        await sim.close();
      }
    },
  );
});

describe('diffCollections', () => {
  const attrs = (validUntil?: string): IocAttributes => ({
    validFrom: '2026-03-01T10:00:00.000Z',
    ...(validUntil ? { validUntil } : {}),
    killChainPhases: [
      { kill_chain_name: 'mitre-attack', phase_name: 'execution' },
      { kill_chain_name: 'mitre-attack', phase_name: 'impact' },
    ],
    description: 'd',
  });
  const expected = (entries: Array<[string, IocAttributes]>) =>
    new Map(entries.map(([value, attributes]) => [value, { value, attributes, indicatorIds: [A] }]));
  const live = (value: string, over: Partial<ActualIoc> = {}): ActualIoc => ({
    value,
    revoked: false,
    valid_from: '2026-03-01T10:00:00Z',
    valid_until: '2026-06-01T00:00:00.000Z',
    kill_chain_phases: [
      { kill_chain_name: 'mitre-attack', phase_name: 'impact' },
      { kill_chain_name: 'mitre-attack', phase_name: 'execution' },
    ],
    description: 'd',
    ...over,
  });
  const U = '2026-06-01T00:00:00.000Z';

  it.each([
    {
      name: 'identical (instants and phase order differ only in form)',
      exp: [[IP, attrs(U)]],
      act: [live(IP)],
      diff: {},
    },
    {
      name: 'same instant with an offset',
      exp: [[IP, attrs(U)]],
      act: [live(IP, { valid_until: '2026-06-01T02:00:00+02:00' })],
      diff: {},
    },
    {
      name: 'values are canonicalised',
      exp: [
        [DOM, attrs(U)],
        [IP, attrs(U)],
      ],
      act: [live('Evil.Example'), live(`${IP}/32`)],
      diff: {},
    },
    {
      name: 'missing',
      exp: [
        [IP, attrs(U)],
        [DOM, attrs(U)],
      ],
      act: [live(IP)],
      diff: { missing: [DOM] },
    },
    {
      name: 'a revoked IOC is not live',
      exp: [[IP, attrs(U)]],
      act: [live(IP, { revoked: true })],
      diff: { missing: [IP] },
    },
    {
      name: 'unexpected (revoked leftovers are fine)',
      exp: [[IP, attrs(U)]],
      act: [live(IP), live(DOM), live('gone.example', { revoked: true })],
      diff: { unexpected: [DOM] },
    },
    {
      name: 'duplicates: two live IOCs for one value',
      exp: [[IP, attrs(U)]],
      act: [live(IP), live(IP), live(IP, { revoked: true })],
      diff: { duplicates: [IP] },
    },
    {
      name: 'no expected valid_until: Sekoia’s default validity is accepted',
      exp: [[IP, attrs()]],
      act: [live(IP, { valid_until: '2026-03-31T10:00:00.000Z' })],
      diff: {},
    },
    {
      name: 'description absent vs expected empty',
      exp: [[IP, { ...attrs(U), description: '' }]],
      act: [live(IP, { description: null })],
      diff: {},
    },
  ] as Array<{
    name: string;
    exp: Array<[string, IocAttributes]>;
    act: ActualIoc[];
    diff: Partial<CollectionDiff>;
  }>)('$name', ({ exp, act, diff }) => {
    const got = diffCollections(expected(exp), act);
    expect(got).toEqual({ missing: [], unexpected: [], wrongAttributes: [], duplicates: [], ...diff });
    expect(isConverged(got)).toBe(Object.keys(diff).length === 0);
  });

  it.each([
    ['valid_until', { valid_until: '2026-06-01T00:00:01.000Z' }],
    ['valid_until missing', { valid_until: null }],
    ['valid_from', { valid_from: '2026-03-01T10:00:01Z' }],
    ['kill chain phases', { kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'impact' }] }],
    ['description', { description: 'other' }],
  ] as Array<[string, Partial<ActualIoc>]>)('wrong attributes: %s', (_, over) => {
    const got = diffCollections(expected([[IP, attrs(U)]]), [live(IP, over)]);
    expect(got.wrongAttributes.map((w) => w.value)).toEqual([IP]);
    expect(got.wrongAttributes[0]!.expected).toEqual(attrs(U));
    expect(got.missing).toEqual([]);
  });
});
