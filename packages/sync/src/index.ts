export {
  type CollectionCheck,
  CollectionReads,
  type CollectionReadsOptions,
  type CollectionSource,
  type ConfigIdentity,
  collectionChangedMessage,
  LockLostError,
  type ObservedItem,
  observeIndicator,
  ReadAbortedError,
  type ReadInfo,
  type ReadOptions,
  type ReadProgress,
  type ReadResult,
  type RecordCounts,
  readKeys,
} from './adopt.ts';
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
export { type CollectorOptions, CreateCollector, type CreateOutcome } from './collector.ts';
export { type Action, type DecideContext, type Decision, decide } from './decide.ts';
export { createSyncEngine, type SyncEngineOptions } from './engine.ts';
export {
  type Budget,
  type CreatedIndicator,
  type CreateItem,
  type ErrorPolicy,
  type FoundIndicator,
  type PolicyError,
  policyOf,
  SekoiaPolicyError,
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
  type AppliedState,
  applyMutations,
  type Claim,
  type DesiredValue,
  defaultFingerprint,
  emptyApplied,
  fieldSet,
  type Intent,
  type Mutation,
  parseFieldSet,
  type RecordAppliedResult,
  type RecordDesiredOutcome,
  type RecordDesiredResult,
  type RecordMode,
  STATE_FORMAT,
  type SweepResult,
  SyncState,
  type SyncStateOptions,
  type ValueState,
  type Winner,
} from './state.ts';
