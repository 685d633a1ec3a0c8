export {
  ConnectorNotFoundError,
  OpenCtiAuthError,
  OpenCtiError,
  OpenCtiGraphqlError,
  OpenCtiTransportError,
  redactSecret,
} from './errors.ts';
export { compareEventIds, type EventId, eventIdMs, isEventId } from './event-id.ts';
export {
  type ConnectorInfo,
  type ConnectorType,
  createOpenCtiClient,
  DEFAULT_CONNECTOR_INFO,
  type OpenCtiClient,
  type OpenCtiClientOptions,
  type RegisterConnectorInput,
  type RegisteredConnector,
} from './graphql.ts';
export {
  OPENCTI_EXTENSION,
  type OpenCtiIndicator,
  type OpenCtiIndicatorExtension,
  openCtiInternalId,
  type Unchecked,
} from './indicator.ts';
export {
  type ConnectorState,
  parseConnectorState,
  type StoredState,
  serializeConnectorState,
} from './state.ts';
export {
  type ConnectedInfo,
  type OpenStreamOptions,
  openStream,
  type StreamHandle,
  type StreamLogger,
  type StreamState,
  type StreamStatus,
} from './stream.ts';
export { classifyEvent, type EventKind, isDataEvent, type StreamMessage } from './stream-message.ts';
export { compareVersions, isVersionBelow, TESTED_OPENCTI_VERSION } from './version.ts';
