export { ConnectorNotFoundError, OpenCtiAuthError, OpenCtiTransportError } from './errors.ts';
export { createOpenCtiClient, type OpenCtiClient, type RegisterConnectorInput } from './graphql.ts';
export { type ConnectorState, parseConnectorState } from './state.ts';
export {
  type ConnectedInfo,
  type OpenStreamOptions,
  openStream,
  type StreamHandle,
  type StreamLogger,
  type StreamStatus,
} from './stream.ts';
export { isVersionBelow, TESTED_OPENCTI_VERSION } from './version.ts';
// Event ids, stream messages and the indicator's wire shape (also importable alone: ./vocabulary).
export * from './vocabulary.ts';
