// The dead letter record: what the `dead-letters` queue holds (queues.ts types the queue with it, dead-letters.ts
// writes and reads it; apart, so neither file imports the other).
import type { Job } from '@octi-sekoia/model';

export type DeadLetterKind = 'event' | 'job' | 'value';

/** A raw stream message kept because it could not be normalised (bad JSON, missing fields, oversize). */
export interface DeadEventPayload {
  id: string;
  event: string;
  /** The whole data, or its first EVENT_EXCERPT_BYTES bytes when `truncated`. */
  data: string;
  /** Set when `data` is an excerpt: the size in bytes and the SHA-256 (hex) of the whole data. */
  truncated?: { bytes: number; sha256: string };
}

/** A value Sekoia rejected: not re-sent until its desired version changes. */
export interface DeadValuePayload {
  value: string;
  reason: string;
  desiredVersion?: number;
  /** The Sekoia indicator id concerned (a refused revoke, a revoked indicator answered to a create). */
  id?: string;
}

export type DeadLetterPayload<K extends DeadLetterKind = DeadLetterKind> = K extends 'event'
  ? DeadEventPayload
  : K extends 'job'
    ? Job
    : K extends 'value'
      ? DeadValuePayload
      : never;

/** What the `dead-letters` queue holds (job data). One entry per subject; later sightings update it. */
export interface DeadLetter<K extends DeadLetterKind = DeadLetterKind> {
  kind: K;
  /** What the entry is about: event id, job id or value. */
  subject: string;
  payload: DeadLetterPayload<K>;
  /** Redacted by the caller's redact function before it reaches Redis. */
  error: string;
  /** Number of sightings (each add counts `attempts`, default 1). */
  attempts: number;
  /** ISO 8601. */
  firstSeen: string;
  lastSeen: string;
}
