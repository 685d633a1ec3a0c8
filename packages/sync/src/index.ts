export {
  RequestBudget,
  type RequestBudgetOptions,
  type TakeResult,
} from './budget.ts';
export { describeRead, readWithBudget } from './budgeted-read.ts';
export {
  type ClaimResult,
  type CollectionOwner,
  type ConnectorRef,
  claimCollection,
  collectionOwnerKey,
  forgetCollectionsOwnedBy,
  handOverCollection,
  ownerConflictMessage,
  sameConnector,
} from './collection-owner.ts';
export {
  type CollectionPlan,
  CollectionPlanner,
  DesiredCollection,
  type DesiredIoc,
  type PlannedCreate,
  type PlannedEdit,
  type PlannedRevoke,
  type PlanProgress,
} from './collection-plan.ts';
export {
  type CollectionCheck,
  CollectionReads,
  type CollectionReadsOptions,
  type CollectionSource,
  type ConfigIdentity,
  collectionChangedMessage,
  type ListedIndicator,
  listedAttributes,
  type ObservedItem,
  observeIndicator,
  type ReadInfo,
  type ReadOptions,
  type ReadProgress,
  type ReadResult,
  type RecordCounts,
  readKeys,
} from './collection-reads.ts';
export { type CollectorOptions, CreateCollector, type CreateOutcome } from './create-batcher.ts';
export { type Action, type DecideContext, type Decision, decide } from './decide.ts';
export { Drainer, type DrainerOptions } from './drainer.ts';
export { createSyncEngine, type SyncEngineOptions } from './engine.ts';
export {
  type Budget,
  type CreatedIndicator,
  type CreateItem,
  type FoundIndicator,
  type SekoiaPort,
  unlimitedBudget,
} from './port.ts';
export {
  type ApplyJobResult,
  observation,
  type ReconcileReport,
  Reconciler,
  type ReconcilerOptions,
  type RejectedValue,
} from './reconciler.ts';
export {
  type Claim,
  type RecordDesiredOutcome,
  type RecordDesiredResult,
  STATE_FORMAT,
  SyncState,
  type SyncStateOptions,
} from './state.ts';
export {
  type AppliedState,
  applyMutations,
  type DesiredValue,
  defaultFingerprint,
  emptyApplied,
  fieldSet,
  type Intent,
  type Mutation,
  parseFieldSet,
  type RecordAppliedResult,
  type RecordMode,
  type ValueState,
  type Winner,
} from './value-state.ts';
