export {
  type DefaultFields,
  type IndicatorFields,
  type KillChainPhase,
  parseRetryAfter,
  SekoiaClient,
  type SekoiaClientOptions,
  type SekoiaCollection,
  type SekoiaIndicator,
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
export { normaliseBaseUrl, normaliseCollectionId } from './url.ts';
