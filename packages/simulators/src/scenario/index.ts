export { type ApplyOptions, applyScenario, controlTarget, type ScenarioTarget } from './apply.ts';
export { type BundleFile, DEFAULT_BUNDLES_DIR, listBundles, readBundle } from './bundles.ts';
export { generateScenario } from './generate.ts';
export {
  type ActualIoc,
  type CollectionDiff,
  computeExpectedCollection,
  diffCollections,
  type ExpectedIoc,
  isConverged,
  messagesFromLog,
  type OracleConfig,
} from './oracle.ts';
export { Rng } from './prng.ts';
export { type ScenarioSummary, summarizeScenario } from './summary.ts';
export {
  DEFAULT_MIX,
  EXPORTABLE_KINDS,
  type GenerateOptions,
  type Mix,
  NON_EXPORTABLE_KINDS,
  type PatternKind,
  SCENARIO_OPS,
  type Scenario,
  type ScenarioIndicatorInput,
  type ScenarioOp,
  type ScenarioStep,
} from './types.ts';
