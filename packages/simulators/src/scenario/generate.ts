/**
 * The seeded scenario generator. It keeps a model of what OpenCTI holds (live / revoked / deleted indicators,
 * and which pattern each live indicator owns) so that every step is valid when it runs: OpenCTI refuses a
 * second indicator with a live pattern (the STIX id derives from it) and merges on a pattern change that
 * collides — the model predicts both.
 */
import type { KillChainPhaseInput } from '../opencti/stix.ts';
import { indicatorStandardId } from '../opencti/uuid.ts';
import { DEFAULT_BUNDLES_DIR, listBundles } from './bundles.ts';
import { Rng } from './prng.ts';
import {
  DEFAULT_MIX,
  type GenerateOptions,
  type Mix,
  type PatternKind,
  type Scenario,
  type ScenarioIndicatorInput,
  type ScenarioStep,
} from './types.ts';
import { type BuiltPattern, PatternFactory, ValueFactory } from './values.ts';

const DEFAULT_START = Date.parse('2026-01-01T00:00:00.000Z');
const DAY_MS = 86_400_000;

const LABELS = ['malicious-activity', 'c2', 'phishing', 'botnet', 'ransomware', 'scanner', 'tor-exit', 'apt'];
const PHASES = [
  'reconnaissance',
  'initial-access',
  'execution',
  'persistence',
  'defense-evasion',
  'command-and-control',
  'exfiltration',
  'impact',
];
const LOCKHEED = ['delivery', 'exploitation', 'installation', 'actions-on-objectives'];
const SHARED_VALIDITY_DAYS = [30, 90, 180, 365];
/**
 * Lifetimes (days) of OpenCTI's built-in indicator decay rules by observable type, for `feedValidity`.
 * Assumption (no OpenCTI source in this repository says the exact values): IP addresses 60 days, URLs and
 * domain names 180 days, everything else (hashes, e-mail addresses…) 365 days. Only the shape matters to the
 * benchmark: a few lifetimes, fixed per type, counted from each indicator's own valid_from.
 */
export const DECAY_LIFETIME_DAYS = { ip: 60, urlOrDomain: 180, other: 365 } as const;

function decayLifetimeDays(pattern: string): number {
  if (/ipv[46]-addr:/.test(pattern)) return DECAY_LIFETIME_DAYS.ip;
  if (/(url|domain-name):/.test(pattern)) return DECAY_LIFETIME_DAYS.urlOrDomain;
  return DECAY_LIFETIME_DAYS.other;
}

const SHARED_PHASES: KillChainPhaseInput[][] = [
  [],
  [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
];

/** A set of ids with O(1) add, delete and uniform random pick. */
class IdSet {
  private readonly items: string[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.items.length;
  }
  add(id: string): void {
    if (this.index.has(id)) return;
    this.index.set(id, this.items.length);
    this.items.push(id);
  }
  delete(id: string): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    const last = this.items.pop() as string;
    if (last !== id) {
      this.items[i] = last;
      this.index.set(last, i);
    }
    this.index.delete(id);
  }
  at(i: number): string {
    return this.items[i] as string;
  }
  random(rng: Rng): string {
    return rng.pick(this.items);
  }
}

interface Ind {
  id: string;
  pattern: string;
  patternType: string;
  kind: PatternKind;
  /** Patterns of indicators merged into this one (OpenCTI keeps their STIX ids in `stix_ids`). */
  absorbed: string[];
  revoked: boolean;
  deleted: boolean;
}

type ChangeKind = Exclude<keyof Mix, 'compound' | 'nonStix' | 'sharedValue'>;
const CHANGES: readonly ChangeKind[] = [
  'update',
  'changePattern',
  'nonExportable',
  'patternCollision',
  'revoke',
  'unrevoke',
  'delete',
  'recreate',
  'merge',
  'nonIndicator',
];

class Generator {
  readonly steps: ScenarioStep[] = [];
  private readonly rng: Rng;
  private readonly values: ValueFactory;
  private readonly patterns: PatternFactory;
  private readonly mix: Mix;
  private readonly inds = new Map<string, Ind>();
  private readonly live = new IdSet();
  private readonly revoked = new IdSet();
  private readonly deleted = new IdSet();
  /** Pattern → the non-deleted indicator whose STIX ids include its standard id. */
  private readonly claims = new Map<string, string>();
  /** Patterns of bundle indicators: created by the World with ids the scenario does not know. */
  readonly reserved = new Set<string>();
  private readonly malware: string[] = [];
  private readonly identities: string[] = [];
  private t: number;

  constructor(private readonly opts: GenerateOptions) {
    this.rng = new Rng(opts.seed);
    this.values = new ValueFactory(this.rng, opts.indicators);
    this.patterns = new PatternFactory(this.rng, this.values);
    this.mix = { ...DEFAULT_MIX, ...opts.mix };
    const start = opts.startAt === undefined ? DEFAULT_START : new Date(opts.startAt).getTime();
    if (!Number.isFinite(start)) throw new Error(`invalid startAt: ${String(opts.startAt)}`);
    this.t = start;
  }

  private tick(): string {
    this.t += this.rng.int(1, 2000);
    return new Date(this.t).toISOString();
  }

  run(bundles: string[]): void {
    const n = this.opts.indicators;
    // Bundles load at random points of the scenario (before the create of the drawn index).
    const schedule = bundles.map((name) => ({ name, at: this.rng.int(0, Math.max(0, n - 1)) }));
    schedule.sort((a, b) => a.at - b.at);
    let next = 0;
    for (let c = 0; c < n; c++) {
      while (next < schedule.length && schedule[next]!.at === c) {
        this.steps.push({ op: 'loadBundle', name: schedule[next]!.name, at: this.tick() });
        next++;
      }
      this.create();
      for (const change of CHANGES) {
        const times = this.rng.count(this.mix[change]);
        for (let i = 0; i < times; i++) this.change(change);
      }
    }
    // n = 0 still loads the bundles.
    for (; next < schedule.length; next++) {
      this.steps.push({ op: 'loadBundle', name: schedule[next]!.name, at: this.tick() });
    }
  }

  private change(kind: ChangeKind): void {
    switch (kind) {
      case 'update':
        this.update();
        return;
      case 'changePattern':
        this.changePattern(this.exportableKind());
        return;
      case 'nonExportable':
        this.changePattern(this.nonExportableKind());
        return;
      case 'patternCollision':
        this.collide();
        return;
      case 'revoke':
        this.setRevoked(true);
        return;
      case 'unrevoke':
        this.setRevoked(false);
        return;
      case 'delete':
        this.remove();
        return;
      case 'recreate':
        this.recreate();
        return;
      case 'merge':
        this.merge();
        return;
      case 'nonIndicator':
        this.nonIndicator();
        return;
    }
  }

  // ---- model ------------------------------------------------------------------------------------------

  private activeCount(): number {
    return this.live.size + this.revoked.size;
  }

  /** A non-deleted indicator (live or revoked), uniformly. */
  private randomActive(): Ind | undefined {
    const total = this.activeCount();
    if (total === 0) return undefined;
    const i = this.rng.int(0, total - 1);
    const id = i < this.live.size ? this.live.at(i) : this.revoked.at(i - this.live.size);
    return this.inds.get(id);
  }

  private register(ind: Ind): void {
    this.inds.set(ind.id, ind);
    this.claims.set(ind.pattern, ind.id);
    (ind.revoked ? this.revoked : this.live).add(ind.id);
  }

  private markDeleted(ind: Ind): void {
    ind.deleted = true;
    this.live.delete(ind.id);
    this.revoked.delete(ind.id);
    this.deleted.add(ind.id);
  }

  private isFree(pattern: string): boolean {
    return !this.claims.has(pattern) && !this.reserved.has(pattern);
  }

  /** A pattern of `kind` no live indicator owns; falls back to fresh values, which cannot collide. */
  private newPattern(kind: PatternKind): BuiltPattern {
    for (let attempt = 0; ; attempt++) {
      const built = this.patterns.build(kind, attempt < 4 ? this.mix.sharedValue : 0);
      if (this.isFree(built.pattern)) return built;
    }
  }

  private exportableKind(): PatternKind {
    if (!this.rng.chance(this.mix.compound)) return 'single';
    return (['or', 'in', 'hash-and', 'hashes'] as const)[this.rng.weighted([4, 2, 1, 1])]!;
  }

  private nonExportableKind(): PatternKind {
    return (['non-stix', 'negated', 'like', 'and-only', 'invalid'] as const)[
      this.rng.weighted([3, 2, 1, 2, 2])
    ]!;
  }

  // ---- fields -----------------------------------------------------------------------------------------

  private phases(): KillChainPhaseInput[] {
    const out: KillChainPhaseInput[] = [];
    for (let i = this.rng.int(1, 2); i > 0; i--) {
      out.push(
        this.rng.chance(0.85)
          ? { kill_chain_name: 'mitre-attack', phase_name: this.rng.pick(PHASES) }
          : { kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: this.rng.pick(LOCKHEED) },
      );
    }
    return out;
  }

  private labels(): string[] {
    const out = new Set<string>();
    for (let i = this.rng.int(1, 2); i > 0; i--) out.add(this.rng.pick(LABELS));
    return [...out];
  }

  /** valid_until: +30..365 days with seconds, or a whole number of days after the day (shared fields). */
  private validUntil(at: string): string {
    const ms = Date.parse(at);
    if (this.opts.sharedFields) {
      return new Date(ms - (ms % DAY_MS) + this.rng.pick(SHARED_VALIDITY_DAYS) * DAY_MS).toISOString();
    }
    const base = ms - (ms % 1000);
    return new Date(base + this.rng.int(30, 364) * DAY_MS + this.rng.int(0, 86_399) * 1000).toISOString();
  }

  /** The indicator's fields at creation; plain assignments (no spreads): this runs for every create. */
  private fields(input: ScenarioIndicatorInput): ScenarioIndicatorInput {
    const r = this.rng;
    const at = input.at;
    if (this.opts.sharedFields) {
      const ms = Date.parse(at);
      if (this.opts.feedValidity) {
        input.validFrom = at;
        input.validUntil = new Date(ms + decayLifetimeDays(input.pattern) * DAY_MS).toISOString();
      } else {
        input.validFrom = new Date(ms - (ms % DAY_MS)).toISOString();
        input.validUntil = this.validUntil(at);
      }
      if (r.chance(0.5)) input.labels = ['malicious-activity'];
      const phases = r.pick(SHARED_PHASES);
      if (phases.length > 0) input.killChainPhases = phases;
      input.score = r.pick([50, 80]);
      input.indicatorTypes = ['malicious-activity'];
      return input;
    }
    input.validFrom = at;
    if (r.chance(0.95)) input.validUntil = this.validUntil(at);
    if (r.chance(0.6)) input.labels = this.labels();
    if (r.chance(0.4)) input.killChainPhases = this.phases();
    if (r.chance(0.3)) input.description = `Seen in ${r.pick(LABELS)} campaign ${r.int(1, 9999)}`;
    input.score = r.int(0, 100);
    input.confidence = r.int(10, 100);
    input.indicatorTypes = [r.chance(0.9) ? 'malicious-activity' : 'anomalous-activity'];
    return input;
  }

  // ---- steps ------------------------------------------------------------------------------------------

  private create(): void {
    const at = this.tick();
    const kind = this.rng.chance(this.mix.nonStix) ? 'non-stix' : this.exportableKind();
    const built = this.newPattern(kind);
    const id = this.rng.uuid();
    const input: ScenarioIndicatorInput = { internalId: id, at, pattern: built.pattern };
    if (built.patternType !== 'stix') input.patternType = built.patternType;
    this.fields(input);
    this.register({
      id,
      pattern: built.pattern,
      patternType: built.patternType,
      kind,
      absorbed: [],
      revoked: false,
      deleted: false,
    });
    this.steps.push({ op: 'create', input, kind, sharedValues: built.sharedValues });
  }

  private update(): void {
    const ind = this.randomActive();
    if (!ind) return;
    const r = this.rng;
    const at = this.tick();
    const shared = this.opts.sharedFields === true;
    const set: Record<string, unknown> = {};
    const unset: string[] = [];
    const extension: Record<string, unknown> = {};
    const fields = ['valid_until', 'description', 'kill_chain_phases', 'labels', 'score', 'name'] as const;
    for (let i = r.int(1, 2); i > 0; i--) {
      const field = r.pick(fields);
      const drop = r.chance(0.15);
      switch (field) {
        case 'valid_until':
          if (drop && !shared) unset.push('valid_until');
          else set.valid_until = this.validUntil(at);
          break;
        case 'description':
          if (drop) unset.push('description');
          else
            set.description = shared
              ? 'Shared feed'
              : `Updated: ${r.pick(LABELS)} activity ${r.int(1, 9999)}`;
          break;
        case 'kill_chain_phases': {
          const phases = shared ? r.pick(SHARED_PHASES) : this.phases();
          if (drop || phases.length === 0) unset.push('kill_chain_phases');
          else set.kill_chain_phases = phases;
          break;
        }
        case 'labels':
          if (drop) unset.push('labels');
          else set.labels = shared ? ['malicious-activity'] : this.labels();
          break;
        case 'score':
          extension.score = shared ? r.pick([50, 80]) : r.int(0, 100);
          break;
        case 'name':
          set.name = shared ? 'Shared indicator' : `Indicator ${r.pick(LABELS)} ${r.int(1, 99999)}`;
          break;
      }
    }
    const step: ScenarioStep = { op: 'update', internalId: ind.id, at };
    if (Object.keys(set).length > 0) step.set = set;
    const unique = [...new Set(unset)].filter((k) => !(k in set));
    if (unique.length > 0) step.unset = unique;
    if (Object.keys(extension).length > 0) step.extension = extension;
    this.steps.push(step);
  }

  private changePattern(kind: PatternKind): void {
    const ind = this.randomActive();
    if (!ind) return;
    const at = this.tick();
    const built = this.newPattern(kind);
    const step: ScenarioStep = {
      op: 'changePattern',
      internalId: ind.id,
      pattern: built.pattern,
      kind,
      sharedValues: built.sharedValues,
      at,
    };
    if (built.patternType !== ind.patternType) step.patternType = built.patternType;
    this.steps.push(step);
    // The old standard id stops pointing at it unless a merged indicator brought the same pattern.
    if (this.claims.get(ind.pattern) === ind.id && !ind.absorbed.includes(ind.pattern)) {
      this.claims.delete(ind.pattern);
    }
    ind.pattern = built.pattern;
    ind.patternType = built.patternType;
    ind.kind = kind;
    this.claims.set(ind.pattern, ind.id);
  }

  /** A pattern change onto another indicator's pattern: OpenCTI merges the changed one into the owner. */
  private collide(): void {
    if (this.activeCount() < 2) return;
    const source = this.randomActive()!;
    let owner = this.randomActive()!;
    for (let i = 0; i < 5 && owner.id === source.id; i++) owner = this.randomActive()!;
    if (owner.id === source.id) return;
    const step: ScenarioStep = {
      op: 'changePattern',
      internalId: source.id,
      pattern: owner.pattern,
      kind: owner.kind,
      sharedValues: 0,
      collidesWith: owner.id,
      at: this.tick(),
    };
    if (owner.patternType !== source.patternType) step.patternType = owner.patternType;
    this.steps.push(step);
    this.absorb(owner, [source]);
  }

  private absorb(target: Ind, sources: Ind[]): void {
    for (const s of sources) {
      for (const p of [s.pattern, ...s.absorbed]) {
        target.absorbed.push(p);
        this.claims.set(p, target.id);
      }
      this.markDeleted(s);
    }
  }

  private merge(): void {
    if (this.activeCount() < 2) return;
    const target = this.randomActive()!;
    const sources = new Map<string, Ind>();
    const wanted = this.rng.int(1, 3);
    for (let i = 0; i < wanted * 3 && sources.size < wanted; i++) {
      const s = this.randomActive()!;
      if (s.id !== target.id) sources.set(s.id, s);
    }
    if (sources.size === 0) return;
    this.steps.push({ op: 'merge', targetId: target.id, sourceIds: [...sources.keys()], at: this.tick() });
    this.absorb(target, [...sources.values()]);
  }

  private setRevoked(revoked: boolean): void {
    const from = revoked ? this.live : this.revoked;
    if (from.size === 0) return;
    const ind = this.inds.get(from.random(this.rng))!;
    this.steps.push({ op: revoked ? 'revoke' : 'unrevoke', internalId: ind.id, at: this.tick() });
    from.delete(ind.id);
    ind.revoked = revoked;
    (revoked ? this.revoked : this.live).add(ind.id);
  }

  private remove(): void {
    const ind = this.randomActive();
    if (!ind) return;
    this.steps.push({ op: 'delete', internalId: ind.id, at: this.tick() });
    for (const p of [ind.pattern, ...ind.absorbed]) if (this.claims.get(p) === ind.id) this.claims.delete(p);
    this.markDeleted(ind);
  }

  private recreate(): void {
    if (this.deleted.size === 0) return;
    let old: Ind | undefined;
    for (let i = 0; i < 5 && !old; i++) {
      const candidate = this.inds.get(this.deleted.random(this.rng))!;
      if (this.isFree(candidate.pattern)) old = candidate;
    }
    if (!old) return;
    const at = this.tick();
    const id = this.rng.uuid();
    const input: ScenarioIndicatorInput = { internalId: id, at, pattern: old.pattern };
    if (old.patternType !== 'stix') input.patternType = old.patternType;
    this.fields(input);
    this.deleted.delete(old.id);
    this.register({
      id,
      pattern: old.pattern,
      patternType: old.patternType,
      kind: old.kind,
      absorbed: [],
      revoked: false,
      deleted: false,
    });
    this.steps.push({ op: 'recreate', previousId: old.id, input, kind: old.kind, sharedValues: 0 });
  }

  private nonIndicator(): void {
    const r = this.rng;
    const at = this.tick();
    const internalId = r.uuid();
    const token = this.values.token();
    const base = { spec_version: '2.1', created: at, modified: at };
    let object: Record<string, unknown>;
    const choice = r.weighted([3, 1.5, 2.5, 3]);
    const indicator = this.live.size > 0 ? this.inds.get(this.live.random(r)) : undefined;
    if (choice === 3 && this.malware.length > 0 && (indicator || this.identities.length > 0)) {
      const malware = r.pick(this.malware);
      object =
        indicator && (this.identities.length === 0 || r.chance(0.7))
          ? {
              type: 'relationship',
              id: `relationship--${r.uuid()}`,
              ...base,
              relationship_type: 'indicates',
              source_ref: indicatorStandardId(indicator.pattern),
              target_ref: malware,
            }
          : {
              type: 'relationship',
              id: `relationship--${r.uuid()}`,
              ...base,
              relationship_type: 'targets',
              source_ref: malware,
              target_ref: r.pick(this.identities),
            };
    } else if (choice === 0) {
      const id = `identity--${r.uuid()}`;
      this.identities.push(id);
      object = {
        type: 'identity',
        id,
        ...base,
        name: `Simulated Org ${token}`,
        identity_class: 'organization',
      };
    } else if (choice === 1) {
      object = {
        type: 'marking-definition',
        id: `marking-definition--${r.uuid()}`,
        spec_version: '2.1',
        created: at,
        name: `Statement ${token}`,
        definition_type: 'statement',
        definition: { statement: `Copyright Simulated ${token}` },
      };
    } else {
      const id = `malware--${r.uuid()}`;
      this.malware.push(id);
      object = {
        type: 'malware',
        id,
        ...base,
        name: `SimMalware-${token}`,
        is_family: true,
        malware_types: [r.pick(['backdoor', 'ransomware', 'remote-access-trojan', 'dropper'])],
      };
    }
    this.steps.push({ op: 'nonIndicator', object, internalId, at });
  }
}

/**
 * A reproducible scenario: the same options give the same steps. Size: `indicators` creates, each followed by
 * the mix's expected number of changes, so the number of steps is bounded by
 * `indicators × (1 + Σ ⌈rate⌉)` plus one per bundle.
 */
export function generateScenario(opts: GenerateOptions): Scenario {
  if (!Number.isInteger(opts.indicators) || opts.indicators < 0) {
    throw new Error(`indicators must be a non-negative integer, got ${opts.indicators}`);
  }
  const gen = new Generator(opts);
  const names: string[] = [];
  const dir = opts.bundlesDir ?? DEFAULT_BUNDLES_DIR;
  if (opts.includeBundles) {
    for (const { name, bundle } of listBundles(dir)) {
      names.push(name);
      for (const o of bundle.objects) {
        if (o.type === 'indicator' && typeof o.pattern === 'string') gen.reserved.add(o.pattern);
      }
    }
  }
  gen.run(names);
  const scenario: Scenario = { seed: opts.seed, steps: gen.steps };
  if (opts.bundlesDir !== undefined && names.length > 0) scenario.bundlesDir = opts.bundlesDir;
  return scenario;
}
