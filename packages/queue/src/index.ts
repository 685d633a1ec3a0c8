export {
  type AddDeadLetterInput,
  addDeadLetter,
  boundedEventPayload,
  type DeadEventPayload,
  type DeadLetter,
  type DeadLetterEntry,
  type DeadLetterKind,
  type DeadLetterOptions,
  type DeadLetterPayload,
  type DeadValuePayload,
  type DiscardCounts,
  deadLetterId,
  discardCounts,
  discardDeadLetter,
  EVENT_EXCERPT_BYTES,
  getDeadLetter,
  listDeadLetters,
  type ReplayHandlers,
  type ReplayOutcome,
  removeDeadLetter,
  replayDeadLetter,
  sendBack,
  startDeadLetterParker,
} from './dead-letters.ts';
export { assertNoEviction, readMaxmemoryPolicy } from './eviction.ts';
export {
  budgetKeys,
  COLLECTION_OWNER_PATTERN,
  type ConnectorKeys,
  collectionOwnerKey,
  connectorsKey,
  connectorTag,
  keyPrefixPatterns,
  keys,
  legacyLayout,
  QUEUE_DEAD_LETTERS,
  QUEUE_INDICATORS,
} from './keys.ts';
export { LuaScript } from './lua-script.ts';
export { luaSource } from './lua-source.mjs';
export { migrateKeyLayout } from './migrate-keys.ts';
export {
  type ConnectorQueues,
  createQueues,
  DEFAULT_COMPLETED_KEPT,
  type QueueOptions,
} from './queues.ts';
export { duplicateClient, type RedisClient, scanKeys } from './redis-client.ts';
