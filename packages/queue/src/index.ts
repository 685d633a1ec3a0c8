export {
  addDeadLetter,
  type DeadEventPayload,
  type DeadLetter,
  type DeadLetterEntry,
  type DeadLetterKind,
  type DeadLetterOptions,
  type DeadValuePayload,
  type DiscardCounts,
  deadLetterId,
  discardCounts,
  discardDeadLetter,
  getDeadLetter,
  listDeadLetters,
  type ReplayHandlers,
  type ReplayOutcome,
  removeDeadLetter,
  replayDeadLetter,
  startDeadLetterParker,
} from './dead-letters.ts';
export { assertNoEviction, readMaxmemoryPolicy } from './eviction.ts';
export {
  budgetKeys,
  COLLECTION_OWNER_PATTERN,
  type ConnectorKeys,
  collectionOwnerKey,
  connectorsKey,
  keyPrefixPatterns,
  keys,
  legacyLayout,
  QUEUE_DEAD_LETTERS,
  QUEUE_INDICATORS,
} from './keys.ts';
export { LuaScript } from './lua-script.ts';
export { luaSource } from './lua-source.mjs';
export { migrateKeyLayout } from './migrate-keys.ts';
export { type ConnectorQueues, createQueues } from './queues.ts';
export { duplicateClient, type RedisClient, scanKeys } from './redis-client.ts';
