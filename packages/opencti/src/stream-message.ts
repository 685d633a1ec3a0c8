/**
 * One live-stream message and what its SSE event name means (docs/opencti-api.md "SSE framing"): the one
 * classification the reader (resume points, stream.ts), ingest (frame checks, control frames) and the
 * normalization (packages/model normalize.ts) share. A new event name is added here first.
 */

export interface StreamMessage {
  /** Stream id (`<ms>-<seq>`, event-id.ts), absent for messages without an id line. */
  id?: string;
  /** SSE event name (authoritative, not `data.type`): create, update, delete, merge, heartbeat, or any other. */
  event: string;
  data: string;
}

/**
 * What an event name is: `data` (create, update, delete, merge: an object change, with a stream id) or one of
 * the control frames. The control kinds are the normalization's skip reasons (packages/model SkipReason).
 */
export type EventKind =
  | 'data'
  | 'heartbeat'
  | 'connected'
  | 'consumer-metrics'
  | 'no-recover'
  /** `event: error` [7.x]: the server gave up on this connection. */
  | 'stream-error'
  /** A name this version does not know (a newer platform): skipped, never a crash. */
  | 'unknown-event';

export function classifyEvent(event: string): EventKind {
  switch (event) {
    case 'create':
    case 'update':
    case 'delete':
    case 'merge':
      return 'data';
    case 'heartbeat':
      return 'heartbeat';
    case 'connected':
      return 'connected';
    case 'consumer_metrics':
      return 'consumer-metrics';
    case 'no-recover':
      return 'no-recover';
    case 'error':
      return 'stream-error';
    default:
      return 'unknown-event';
  }
}

/** Events that carry an object change (the others are control frames: heartbeat, connected, no-recover…). */
export function isDataEvent(event: string): boolean {
  return classifyEvent(event) === 'data';
}

/**
 * Messages whose id proves the server has read past earlier ids: data events, heartbeats and consumer metrics
 * carry the channel's position; a no-recover id is synthetic and comes first (docs/opencti-api.md "Event ids").
 */
export function provesProgress(event: string): boolean {
  const kind = classifyEvent(event);
  return kind === 'data' || kind === 'heartbeat' || kind === 'consumer-metrics';
}
