import type { ConnectorKeys, RedisClient } from '@octi-sekoia/queue';
import type { BatchWriter } from './batch-writer.ts';
import type { StreamMessage } from './ports.ts';

export interface OperatorInboxDeps {
  redis: RedisClient;
  keys: Pick<ConnectorKeys, 'resyncRequested' | 'replayedEvents'>;
  writer: Pick<BatchWriter, 'normalize' | 'write'>;
  /** The generation the current reading stamps on its jobs. */
  generation(): number;
  /** `cli resync` asked for a full re-sync. */
  requestResync(): void;
  log: { info(obj: object, msg: string): void };
}

/**
 * What operators ask of the reader through Redis, read by its periodic poll: a full re-sync (`cli resync` sets
 * `<base>:resync-requested`) and dead letters of kind `event` sent back (`<base>:replayed-events`).
 */
export class OperatorInbox {
  constructor(private readonly deps: OperatorInboxDeps) {}

  async check(): Promise<void> {
    const requested = await this.deps.redis.getdel(this.deps.keys.resyncRequested);
    if (requested) this.deps.requestResync();
    await this.replayEvents();
  }

  /** Dead letters of kind `event` sent back by an operator: normalized again with the current generation. */
  private async replayEvents(): Promise<void> {
    const k = this.deps.keys;
    for (let i = 0; i < 100; i++) {
      // Peek, enqueue, then remove that entry: a failure in between leaves the event in the list. Removed by
      // value (LREM), not popped: a reader that lost the lease between its peek and its pop (the new reader has
      // taken and removed the same entry meanwhile) would otherwise pop the next event, which nobody wrote.
      const raw = await this.deps.redis.lindex(k.replayedEvents, 0);
      if (!raw) return;
      const msg = JSON.parse(raw) as StreamMessage & { id: string };
      const { result, pending } = this.deps.writer.normalize(msg, this.deps.generation());
      await this.deps.writer.write(pending, { jobIdSuffix: '-replay' });
      await this.deps.redis.lrem(k.replayedEvents, 1, raw);
      this.deps.log.info({ eventId: msg.id, outcome: result.outcome }, 'dead-lettered event sent back');
    }
  }
}
