import { compareEventIds, isDataEvent, isEventId } from '@octi-sekoia/opencti';

/** Problems with a frame's SSE id, counted by `ingest_frame_problems_total{problem}`. */
export type FrameProblem = 'no-id' | 'unparsable-id' | 'id-backwards';

export interface FrameVerdict {
  problem: FrameProblem;
  /**
   * dead-letter: a data frame that cannot be placed in the stream (kept whole as a dead letter of kind `event`,
   * never tracked for the checkpoint); skip: a control frame with nothing to keep; continue: processed as usual.
   */
  action: 'dead-letter' | 'skip' | 'continue';
  message: string;
}

/**
 * Pure: what to do with a frame's id before it reaches the checkpoint tracker, which can only order
 * `<ms>-<seq>` ids. OpenCTI sends data frames with increasing ids, recovery ones ascending by `updated_at` and
 * dependencies with the id of the event they precede (docs/opencti-api.md "Event ids"): an id below the previous
 * one is an anomaly, counted and logged, and the frame is read anyway. It is not always harmless: an indicator's
 * fence refuses it only while its record holds a newer event id, and a deleted indicator's tombstone is pruned
 * once ingest's committed checkpoint is past it (packages/sync prune-tombstones.lua), so a frame below the
 * committed checkpoint can bring such an indicator back (until the next re-sync). Relied on, as the docs say:
 * OpenCTI sends no such frame.
 * `previousId`: the id of the previous data frame of this reading. `undefined`: nothing wrong (or a control
 * frame without id, which normally has none).
 */
export function checkFrame(
  event: string,
  id: string | undefined,
  previousId: string | undefined,
): FrameVerdict | undefined {
  const data = isDataEvent(event);
  if (!id) {
    if (!data) return undefined;
    return {
      problem: 'no-id',
      action: 'dead-letter',
      message: `\`${event}\` frame without an id: kept as a dead letter, not read`,
    };
  }
  if (!isEventId(id)) {
    return {
      problem: 'unparsable-id',
      action: data ? 'dead-letter' : 'skip',
      message: `\`${event}\` frame id ${JSON.stringify(id.slice(0, 80))} is not a <ms>-<seq> id: ${
        data ? 'kept as a dead letter and skipped' : 'skipped'
      }`,
    };
  }
  // Compared with the previous data frame only: control frames carry the channel's or a synthetic id.
  if (data && previousId !== undefined && compareEventIds(id, previousId) < 0) {
    return {
      problem: 'id-backwards',
      action: 'continue',
      message: `frame id ${id} is before the previous one ${previousId}: read anyway (OpenCTI should send none: docs/opencti-api.md "Event ids")`,
    };
  }
  return undefined;
}
