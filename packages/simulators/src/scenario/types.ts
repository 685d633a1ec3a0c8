import type { IndicatorInput } from '../opencti/stix.ts';

/**
 * How a pattern is shaped. Exportable kinds: `single`, `or` (OR of several types, inside one observation or
 * between observations), `in` (IN list), `hash-and` (AND of hashes of one file: its hashes are exported),
 * `hashes` (OR of several hashes of one file). Non-exportable: `non-stix` (yara, sigma, snort, suricata),
 * `negated` (`!=`), `like` (LIKE), `and-only` (AND between observations: nothing in strict mode, every value
 * in lenient mode), `invalid` (syntax error).
 */
export type PatternKind =
  | 'single'
  | 'or'
  | 'in'
  | 'hash-and'
  | 'hashes'
  | 'non-stix'
  | 'negated'
  | 'like'
  | 'and-only'
  | 'invalid';

export const EXPORTABLE_KINDS: readonly PatternKind[] = ['single', 'or', 'in', 'hash-and', 'hashes'];
export const NON_EXPORTABLE_KINDS: readonly PatternKind[] = [
  'non-stix',
  'negated',
  'like',
  'and-only',
  'invalid',
];

/** A create input whose internal id is fixed by the scenario (so later steps can name it). */
export type ScenarioIndicatorInput = IndicatorInput & { internalId: string; at: string };

/**
 * One operation, plain JSON, mapping 1:1 onto a `World` method. `at` is the event time (the World's
 * `updated_at`/`modified`); stream ids come from the World's own clock.
 */
export type ScenarioStep =
  | { op: 'create'; input: ScenarioIndicatorInput; kind: PatternKind; sharedValues: number }
  /** A new indicator (new internal id) with the pattern of a deleted one. */
  | {
      op: 'recreate';
      previousId: string;
      input: ScenarioIndicatorInput;
      kind: PatternKind;
      sharedValues: number;
    }
  /** `World.updateIndicator`: top-level STIX fields (`set`/`unset`) and OpenCTI extension fields (`score`). */
  | {
      op: 'update';
      internalId: string;
      set?: Record<string, unknown>;
      unset?: string[];
      extension?: Record<string, unknown>;
      at: string;
    }
  /**
   * `World.changePattern`. `collidesWith`: the generator's prediction that another live indicator already
   * owns this pattern, so OpenCTI merges this one into it (`IndicatorRef.mergedInto`).
   */
  | {
      op: 'changePattern';
      internalId: string;
      pattern: string;
      patternType?: string;
      kind: PatternKind;
      sharedValues: number;
      collidesWith?: string;
      at: string;
    }
  | { op: 'revoke' | 'unrevoke'; internalId: string; at: string }
  | { op: 'delete'; internalId: string; at: string }
  | { op: 'merge'; targetId: string; sourceIds: string[]; at: string }
  /** Identities, markings, malware, relationships: skipped by the connector. */
  | { op: 'nonIndicator'; object: Record<string, unknown>; internalId: string; at: string }
  /** A STIX bundle file of the bundles directory (`packages/simulators/data/` by default). */
  | { op: 'loadBundle'; name: string; at: string };

export type ScenarioOp = ScenarioStep['op'];

export const SCENARIO_OPS: readonly ScenarioOp[] = [
  'create',
  'recreate',
  'update',
  'changePattern',
  'revoke',
  'unrevoke',
  'delete',
  'merge',
  'nonIndicator',
  'loadBundle',
];

export interface Scenario {
  seed: number;
  steps: ScenarioStep[];
  /** Where `loadBundle` names were found, when not the default directory. */
  bundlesDir?: string;
}

/**
 * The scenario's mix. Shape probabilities apply to every new exportable pattern; change rates are the
 * expected number of such operations per created indicator (may exceed 1). A change with no eligible
 * indicator (nothing revoked to un-revoke, nothing deleted to re-create) is simply not emitted.
 */
export interface Mix {
  /** Probability that a new exportable pattern is compound (or / in / hash-and / hashes). */
  compound: number;
  /** Probability that a created indicator has a non-STIX pattern type. */
  nonStix: number;
  /** Probability that each value of a new pattern is drawn from the pool of shared values. */
  sharedValue: number;
  /** Field updates (valid_until, description, kill_chain_phases, labels, score, name). */
  update: number;
  /** Pattern changes to another exportable pattern (also switches back from non-exportable ones). */
  changePattern: number;
  /** Pattern changes to a non-exportable pattern (non-STIX type, `!=`, LIKE, AND-only, invalid). */
  nonExportable: number;
  /** Pattern changes onto the pattern of another live indicator: OpenCTI merges the changed one into it. */
  patternCollision: number;
  revoke: number;
  unrevoke: number;
  delete: number;
  /** Re-creations of a deleted indicator's pattern under a new internal id. */
  recreate: number;
  merge: number;
  /** Identities, markings, malware, relationships. */
  nonIndicator: number;
}

export const DEFAULT_MIX: Readonly<Mix> = Object.freeze({
  compound: 0.25,
  nonStix: 0.03,
  sharedValue: 0.08,
  update: 0.5,
  changePattern: 0.1,
  nonExportable: 0.04,
  patternCollision: 0.005,
  revoke: 0.06,
  unrevoke: 0.03,
  delete: 0.06,
  recreate: 0.02,
  merge: 0.01,
  nonIndicator: 0.05,
});

export interface GenerateOptions {
  seed: number;
  /** Number of fresh creates (re-creations and bundle indicators come on top). */
  indicators: number;
  /**
   * Shared attribute values so that creates can batch: valid_from on the day, valid_until a whole number of
   * days later, kill chain phases, labels and score from tiny sets, no free-text description.
   */
  sharedFields?: boolean;
  /**
   * With `sharedFields`: fields shaped like a real feed — `valid_from` is each indicator's own creation time (to
   * the millisecond, as OpenCTI sets it), `valid_until` = valid_from + the lifetime of the observable type's
   * decay rule (`DECAY_LIFETIME_DAYS`), so only a `SEKOIA_INTEL_VALID_UNTIL_ROUNDING` makes validities shared.
   */
  feedValidity?: boolean;
  mix?: Partial<Mix>;
  /** Also load the STIX bundles found in the bundles directory (none found: nothing added). */
  includeBundles?: boolean;
  /** Bundles directory; default `packages/simulators/data/`. */
  bundlesDir?: string;
  /** Time of the first step (ISO or epoch ms); default 2026-01-01T00:00:00.000Z. */
  startAt?: string | number;
}
