export type { StreamFilter, StreamPredicate } from './filter.ts';
export type { Capability, ConnectorPing, SimConnector } from './graphql.ts';
export { formatStreamId, parseStreamId, type StreamId } from './ids.ts';
export { applyPatch as applyJsonPatch, diff as jsonPatchDiff, type JsonPatchOp } from './json-patch.ts';
export {
  type ConnectionAttempt,
  type GraphqlRequestRecord,
  type IndicatorView,
  OpenCtiSimControl,
  type OpenCtiSimulator,
  type OpenCtiSimulatorOptions,
  startOpenCtiSimulator,
} from './server.ts';
export { type ConnectionInfo, type CutOptions, DEFAULT_SWITCHES, type OpenCtiSimSwitches } from './sse.ts';
export {
  ADMIN_USER_ID,
  type IndicatorInput,
  MITRE_EXT,
  type ObservableValue,
  OCTI_EXT,
  observablesOfPattern,
  type StixObject,
  TLP,
} from './stix.ts';
export { identityStandardId, indicatorStandardId } from './uuid.ts';
export type { Envelope, IndicatorRef, Origin, StreamInfo } from './world.ts';
