export { ConnectorNotFoundError, OpenCtiAuthError } from './errors.ts';
export { compareEventIds, type EventId, eventIdMs, isEventId } from './event-id.ts';
export { createOpenCtiClient, type OpenCtiClient, type RegisterConnectorInput } from './graphql.ts';
export {
  OPENCTI_EXTENSION,
  type OpenCtiIndicator,
  type OpenCtiIndicatorExtension,
  openCtiInternalId,
  type Unchecked,
} from './indicator.ts';
export type { ConnectorState } from './state.ts';
export { type ConnectedInfo, openStream, type StreamLogger, type StreamStatus } from './stream.ts';
export { classifyEvent, type EventKind, isDataEvent, type StreamMessage } from './stream-message.ts';
export { isVersionBelow, TESTED_OPENCTI_VERSION } from './version.ts';
