import type { OpenCtiSimControl } from '../opencti/server.ts';
import type { IndicatorRef, World } from '../opencti/world.ts';
import { DEFAULT_BUNDLES_DIR, readBundle } from './bundles.ts';
import type { Scenario, ScenarioStep } from './types.ts';

/** What applyScenario drives: the simulator's World, or a running simulator through `controlTarget`. */
export type ScenarioTarget = Pick<
  World,
  | 'createIndicator'
  | 'updateIndicator'
  | 'changePattern'
  | 'setRevoked'
  | 'deleteObject'
  | 'merge'
  | 'addObject'
  | 'loadBundle'
>;

/** A running OpenCTI simulator's in-process control as a ScenarioTarget (same World underneath). */
export function controlTarget(control: OpenCtiSimControl): ScenarioTarget {
  return {
    createIndicator: (input) => control.createIndicator(input),
    updateIndicator: (input) => control.updateIndicator(input),
    changePattern: (input) => control.changePattern(input),
    setRevoked: ({ revoked, ...input }) =>
      revoked ? control.revokeIndicator(input) : control.unrevokeIndicator(input),
    deleteObject: (input) => control.deleteIndicator(input),
    merge: (input) => control.mergeIndicators(input),
    addObject: (input) => control.addObject(input),
    loadBundle: (input) => control.loadBundle(input),
  };
}

export interface ApplyOptions {
  /** First step index (inclusive); default 0. */
  from?: number;
  /** Last step index (exclusive); default the end. */
  to?: number;
  /** Where `loadBundle` names are read; default the scenario's `bundlesDir`, else `packages/simulators/data/`. */
  bundlesDir?: string;
}

/**
 * Runs steps against the OpenCTI simulator's World, in order, and returns the IndicatorRef of every indicator
 * step (bundle loads contribute one per created indicator; non-indicators none). A step that the World
 * refuses, or a pattern change whose merge outcome differs from the step's `collidesWith`, throws with the
 * step's index: the World was not in the state the scenario was generated for.
 */
export function applyScenario(
  world: ScenarioTarget,
  scenario: Scenario,
  opts: ApplyOptions = {},
): IndicatorRef[] {
  const from = opts.from ?? 0;
  const to = Math.min(opts.to ?? scenario.steps.length, scenario.steps.length);
  const dir = opts.bundlesDir ?? scenario.bundlesDir ?? DEFAULT_BUNDLES_DIR;
  const refs: IndicatorRef[] = [];
  for (let i = from; i < to; i++) {
    const step = scenario.steps[i]!;
    try {
      applyStep(world, step, dir, refs);
    } catch (err) {
      throw new Error(`scenario ${scenario.seed} step ${i} (${step.op}): ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return refs;
}

function applyStep(
  world: ScenarioTarget,
  step: ScenarioStep,
  bundlesDir: string,
  refs: IndicatorRef[],
): void {
  switch (step.op) {
    case 'create':
    case 'recreate':
      refs.push(world.createIndicator(step.input));
      return;
    case 'update':
      refs.push(
        world.updateIndicator({
          internalId: step.internalId,
          ...(step.set ? { set: step.set } : {}),
          ...(step.unset ? { unset: step.unset } : {}),
          ...(step.extension ? { extension: step.extension } : {}),
          at: step.at,
        }),
      );
      return;
    case 'changePattern': {
      const ref = world.changePattern({
        internalId: step.internalId,
        pattern: step.pattern,
        ...(step.patternType === undefined ? {} : { patternType: step.patternType }),
        at: step.at,
      });
      if (ref.mergedInto !== step.collidesWith) {
        throw new Error(
          `pattern change merged into ${ref.mergedInto ?? 'nothing'}, the scenario expected ${step.collidesWith ?? 'no merge'}`,
        );
      }
      refs.push(ref);
      return;
    }
    case 'revoke':
    case 'unrevoke':
      refs.push(
        world.setRevoked({ internalId: step.internalId, revoked: step.op === 'revoke', at: step.at }),
      );
      return;
    case 'delete':
      refs.push(world.deleteObject({ internalId: step.internalId, at: step.at }));
      return;
    case 'merge':
      refs.push(world.merge({ targetId: step.targetId, sourceIds: step.sourceIds, at: step.at }));
      return;
    case 'nonIndicator':
      world.addObject({ object: step.object, internalId: step.internalId, at: step.at });
      return;
    case 'loadBundle': {
      const file = readBundle(bundlesDir, step.name);
      if (!file) throw new Error(`${step.name} is not a STIX bundle in ${bundlesDir}`);
      refs.push(...world.loadBundle({ bundle: file.bundle, at: step.at }).indicators);
      return;
    }
  }
}
