// The phase list lives in @octi-sekoia/stix (shared with the simulator); re-exported for the package's users.
export { KNOWN_KILL_CHAIN_PHASES } from '@octi-sekoia/stix';
export { APPROXIMATION_MODES, type ApproximationMode, approximationCounts } from './approximations.ts';
export { clientBehaviour, type WriteChoices, writeChoices } from './choices.ts';
export { parseRetryAfter, SekoiaClient } from './client.ts';
export {
  ConfigurationError,
  type ConfigurationReason,
  type ErrorPolicy,
  NotFoundError,
  type PolicyError,
  policyOf,
  QuotaFullError,
  RateLimitedError,
  RejectedError,
  RetryableError,
  SekoiaError,
  type SekoiaOperation,
} from './errors.ts';
export {
  FEED_COMPARED_FIELDS,
  FEED_PAGE_MAX,
  FeedUnusableError,
  feedQuery,
  feedUrl,
  parseFeedPage,
} from './feed.ts';
export {
  createDefaults,
  createItem,
  editFields,
  type IndicatorFields,
  keptValidUntil,
  observedAttributes,
  withKnownPhases,
} from './fields.ts';
export { indicatorValue } from './match.ts';
export {
  BEHAVIOUR_NOTES,
  BEHAVIOURS,
  type BehaviourName,
  type BehaviourVariant,
  behavioursFor,
  type DegradedMode,
  degradedModes,
  isVariant,
  productResponse,
  type QuotaBodyKind,
  readProfile,
  type SekoiaBehaviours,
  type SekoiaProfile,
  unknownBehaviours,
  writeProfile,
} from './profile.ts';
export { normaliseBaseUrl, normaliseCollectionId } from './url.ts';
