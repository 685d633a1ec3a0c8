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
  type AnsweredItem,
  type Canonical,
  indicatorValue,
  indicatorValues,
  matchCreated,
  type NamedIndicator,
} from './match.ts';
export { normaliseBaseUrl, normaliseCollectionId } from './url.ts';
