// The phase list lives in @octi-sekoia/stix (shared with the simulator); re-exported for the package's users.
export { KNOWN_KILL_CHAIN_PHASES } from '@octi-sekoia/stix';
export {
  APPROXIMATION_MODES,
  type ApproximationMode,
  approximationCounts,
} from './approximations.ts';
export {
  clientBehaviour,
  knownPhases,
  type WriteChoices,
  writeChoices,
} from './choices.ts';
export {
  type ClientBehaviour,
  classify403,
  type DefaultFields,
  type IndicatorFields,
  type KillChainPhase,
  morePages,
  parseRetryAfter,
  SekoiaClient,
  type SekoiaClientOptions,
  type SekoiaCollection,
  type SekoiaIndicator,
  WAF_MAX_BLOCK_MS,
} from './client.ts';
export {
  ConfigurationError,
  type ConfigurationReason,
  NotFoundError,
  QuotaFullError,
  RateLimitedError,
  RejectedError,
  RetryableError,
  SekoiaError,
  type SekoiaErrorPolicy,
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
  type AnsweredItem,
  type Canonical,
  indicatorValue,
  indicatorValues,
  matchCreated,
  type NamedIndicator,
} from './match.ts';
export {
  BEHAVIOUR_NOTES,
  BEHAVIOUR_VARIANTS,
  BEHAVIOURS,
  type BehaviourName,
  type BehaviourVariant,
  behavioursFor,
  type DegradedMode,
  degradedModes,
  isVariant,
  type ProfileRead,
  type ProfileStore,
  parseProfile,
  productResponse,
  QUOTA_BODY_KINDS,
  type QuotaBodyKind,
  type QuotaFullVariant,
  readProfile,
  type SekoiaBehaviours,
  type SekoiaProfile,
  unknownBehaviours,
  writeProfile,
} from './profile.ts';
export { normaliseBaseUrl, normaliseCollectionId } from './url.ts';
