// The shared OpenCTI vocabulary alone (event ids, stream messages, the indicator's wire shape): pure modules with
// no dependency, for the packages and apps that must not ship the stream and GraphQL clients (eventsource, the
// HTTP stack) — model, sync, the simulators, the worker and the dashboard (checked by .ci/test/bundles.test.ts).
export { compareEventIds, type EventId, eventIdMs, isEventId } from './event-id.ts';
export {
  OPENCTI_EXTENSION,
  type OpenCtiIndicator,
  type OpenCtiIndicatorExtension,
  openCtiInternalId,
  type Unchecked,
} from './indicator.ts';
export { classifyEvent, type EventKind, isDataEvent, type StreamMessage } from './stream-message.ts';
