import { compareEventIds, type EventId } from '@octi-sekoia/opencti';

/**
 * Decides which stream id may be committed as the checkpoint (docs/opencti-api.md "Event ids").
 *
 * OpenCTI resumes *after* the id we give it, and several messages can share one id (dependency messages reuse
 * the id of the event that triggered them; recovery ids are `<updated_at ms>-0` and may repeat). So an id N is
 * committed only when every message with an id ≤ N has its jobs in Redis AND a message with an id > N has
 * arrived (no more messages with id N can come). Heartbeats advance it only when nothing is pending.
 *
 * Messages are fed in stream order: `received(id)` when a message is read, `flushed(upToSeq)` when the jobs of
 * every message received up to that sequence number are in Redis.
 */
export class CheckpointTracker {
  private seq = 0;
  /** Highest id seen so far (its group stays open until a larger id arrives). */
  private lastId: EventId | undefined;
  /** Ids that are complete (a larger id arrived), with the sequence number of their last message. */
  private closed: Array<{ id: EventId; lastSeq: number }> = [];
  private flushedSeq = 0;
  private committed: EventId;

  constructor(start: EventId) {
    this.committed = start;
  }

  /** Registers a data message; returns its sequence number (pass the highest one to `flushed`). */
  received(id: EventId): number {
    this.seq += 1;
    if (this.lastId === undefined || compareEventIds(id, this.lastId) > 0) {
      if (this.lastId !== undefined) this.closed.push({ id: this.lastId, lastSeq: this.seq - 1 });
      this.lastId = id;
    }
    // An id equal to (or, for recovery replays, below) the last one joins the open group.
    this.advance();
    return this.seq;
  }

  /** Every message received up to `seq` is now in Redis. */
  flushed(seq: number): void {
    if (seq > this.flushedSeq) this.flushedSeq = seq;
    this.advance();
  }

  /**
   * A heartbeat carrying `id`: with nothing pending, the stream is known complete up to just before it.
   * We commit `<ms-1>-0`, not the heartbeat id itself: OpenCTI can send a heartbeat between dependency
   * messages and the event that shares their id, and an idle heartbeat's synthetic `<now>-0` can equal the id
   * of an event written in the same millisecond. Resuming a millisecond early only replays what job ids absorb.
   */
  heartbeat(id: EventId): void {
    if (this.pending() > 0) return;
    const ms = BigInt(id.split('-')[0] ?? '0');
    if (ms <= 0n) return;
    const safe = `${ms - 1n}-0`;
    if (compareEventIds(safe, this.committed) > 0) {
      this.committed = safe;
      // Groups below the safe point are complete; the open group (if at or after it) stays open.
      this.closed = this.closed.filter((c) => compareEventIds(c.id, safe) > 0);
    }
  }

  /** Messages received whose jobs are not in Redis yet. */
  pending(): number {
    return this.seq - this.flushedSeq;
  }

  /** The id that may be stored as `start_from`. */
  checkpoint(): EventId {
    return this.committed;
  }

  private advance(): void {
    while (this.closed.length > 0 && this.closed[0]!.lastSeq <= this.flushedSeq) {
      const next = this.closed.shift()!;
      if (compareEventIds(next.id, this.committed) > 0) this.committed = next.id;
    }
  }
}
