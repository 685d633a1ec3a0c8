export {
  attributesEqual,
  attributesFingerprint,
  type CreateFields,
  canonicalInstantMs,
  canonicalValidFrom,
  createGroupKey,
  normalizeKillChainPhases,
  roundValidUntil,
  VALID_UNTIL_ROUNDINGS,
  type ValidUntilRounding,
} from './attributes.ts';
export {
  DEFAULT_DESCRIPTION_TEMPLATE,
  DESCRIPTION_PLACEHOLDERS,
  MAX_DESCRIPTION_CODE_POINTS,
  renderDescription,
  unknownPlaceholders,
} from './description.ts';
export {
  type IndicatorJob,
  type IocAttributes,
  type Job,
  jobId,
  type KillChainPhase,
  type SweepMarkerJob,
} from './job.ts';
export {
  type NormalizeConfig,
  type NormalizeResult,
  normalizeMessage,
  type SkipReason,
} from './normalize.ts';
export { InvalidJobError, validateJob } from './validate-job.ts';
