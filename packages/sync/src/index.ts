// What other packages and apps use (issue 19: nothing else is exported; this package's tests import the
// modules themselves).
export { RequestBudget } from './budget.ts';
export {
  describeRead,
  readWithBudget,
} from './budgeted-read.ts';
export {
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
} from './collection-plan.ts';
export {
  CollectionReads,
  collectionChangedMessage,
  observeIndicator,
  type ReadInfo,
  type ReadProgress,
  type ReadResult,
} from './collection-reads.ts';
export { Drainer } from './drainer.ts';
export { createSyncEngine } from './engine.ts';
export {
  type Budget,
  type FoundIndicator,
  type SekoiaPort,
  unlimitedBudget,
} from './port.ts';
export {
  type ApplyJobResult,
  Reconciler,
  type RejectedValue,
} from './reconciler.ts';
export {
  type Claim,
  type JobLock,
  type PruneOptions,
  type PruneRun,
  type PruneStep,
  type RecordDesiredResult,
  SyncState,
  type TombstoneCursor,
} from './state.ts';
export {
  defaultFingerprint,
  type Mutation,
} from './value-state.ts';
