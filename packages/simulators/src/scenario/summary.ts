import { type PatternKind, SCENARIO_OPS, type Scenario, type ScenarioOp } from './types.ts';

export interface ScenarioSummary {
  steps: number;
  ops: Record<ScenarioOp, number>;
  /** Pattern kinds of creates, re-creations and pattern changes. */
  kinds: Partial<Record<PatternKind, number>>;
  /** Values drawn from the shared pool (each is held by another indicator too, at least at some point). */
  sharedValues: number;
  /** Pattern changes predicted to collide (OpenCTI merges them). */
  collisions: number;
  /** Non-indicator objects by STIX type. */
  nonIndicators: Record<string, number>;
}

/** Counts what a scenario contains (for tests and for describing a run). */
export function summarizeScenario(scenario: Scenario): ScenarioSummary {
  const ops = Object.fromEntries(SCENARIO_OPS.map((op) => [op, 0])) as Record<ScenarioOp, number>;
  const s: ScenarioSummary = {
    steps: scenario.steps.length,
    ops,
    kinds: {},
    sharedValues: 0,
    collisions: 0,
    nonIndicators: {},
  };
  for (const step of scenario.steps) {
    ops[step.op]++;
    if (step.op === 'create' || step.op === 'recreate' || step.op === 'changePattern') {
      s.kinds[step.kind] = (s.kinds[step.kind] ?? 0) + 1;
      s.sharedValues += step.sharedValues;
      if (step.op === 'changePattern' && step.collidesWith !== undefined) s.collisions++;
    } else if (step.op === 'nonIndicator') {
      const type = String(step.object.type);
      s.nonIndicators[type] = (s.nonIndicators[type] ?? 0) + 1;
    }
  }
  return s;
}
