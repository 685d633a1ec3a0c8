import { readFileSync } from 'node:fs';
import { eventIdMs } from '@octi-sekoia/opencti';
import { type ConnectorKeys, LuaScript, type RedisClient } from '@octi-sekoia/queue';
import type { IngestMetrics } from './metrics.ts';

const commitCheckpointLua = new LuaScript(
  'commit-checkpoint',
  readFileSync(new URL('./lua/commit-checkpoint.lua', import.meta.url), 'utf8'),
);
const startGenerationLua = new LuaScript(
  'start-generation',
  readFileSync(new URL('./lua/start-generation.lua', import.meta.url), 'utf8'),
);

/** What ingest keeps in Redis (authoritative) and mirrors to OpenCTI as `{start_from, recover_until}`. */
export interface StoredCheckpoint {
  start_from: string;
  recover_until: string | null;
  /**
   * The generation this reading stamps on its jobs: written by start-generation.lua from the generation counter
   * (the only source of truth) and checked against it by every commit.
   */
  generation: number;
  /** Set while a generation's recovery is being read: the sweep marker goes after `<recover ms>-0`. */
  sweep?: { generation: number; afterId: string } | null;
}

export interface CheckpointStoreDeps {
  redis: RedisClient;
  keys: Pick<ConnectorKeys, 'lease' | 'checkpoint' | 'generation' | 'resetSeen' | 'ingestWrites'>;
  /** The reader lease's token: every write is fenced by it (a replica that lost the lease writes nothing). */
  leaseToken: string;
  metrics: Pick<IngestMetrics, 'checkpointMs' | 'generation'>;
  /** A commit found the generation counter at another value than the reading's (see commit-checkpoint.lua). */
  onDiverged(reading: number, counter: number): void;
  /**
   * Redis lost writes it had acknowledged (a failover to a replica that had not received them, a restart from an
   * older snapshot): `stored` is the checkpoint Redis holds now (undefined: none), already `current`. The jobs of
   * events read since it may be gone: read again from it (docs/redis.md, "What a failover can cost").
   */
  onWritesLost(stored: StoredCheckpoint | undefined, wasAt: string | undefined): void;
}

/**
 * The checkpoint in Redis (`<base>:checkpoint`), written only through the lease-fenced Lua scripts, and the
 * last one read or written by this replica.
 */
export class CheckpointStore {
  private stored: StoredCheckpoint | undefined;
  /** The `ingestWrites` value after this reader's last batch ('' = none yet), checked by every commit. */
  private writeMark = '';

  constructor(private readonly deps: CheckpointStoreDeps) {}

  get current(): StoredCheckpoint | undefined {
    return this.stored;
  }

  /** The stored checkpoint (undefined on a first run, which starts generation 1: see Generations.load). */
  async read(): Promise<StoredCheckpoint | undefined> {
    const raw = await this.deps.redis.get(this.deps.keys.checkpoint);
    this.stored = raw ? (JSON.parse(raw) as StoredCheckpoint) : undefined;
    this.writeMark = '';
    return this.stored;
  }

  /**
   * After a batch landed (jobs, dead letters, a sweep marker): the write mark the next commit checks. Only the
   * lease holder increments it, so it must follow the last one; otherwise Redis lost writes (onWritesLost) and
   * false: the caller commits nothing.
   */
  async markWrites(): Promise<boolean> {
    const mark = await this.deps.redis.incr(this.deps.keys.ingestWrites);
    const follows = this.writeMark === '' || mark === Number(this.writeMark) + 1;
    this.writeMark = String(mark);
    if (!follows) this.writesLost((await this.deps.redis.get(this.deps.keys.checkpoint)) ?? '');
    return follows;
  }

  /** Nothing read (stopping, or the lease lost while loading). */
  forget(): void {
    this.stored = undefined;
  }

  /** Runs start-generation.lua (lease-fenced); the checkpoint it stored, or undefined when the lease is not ours. */
  async startGeneration(
    mode: 'first' | 'next',
    cp: { startFrom: string; recoverUntil: string | null; sweepAfterId: string | null },
  ): Promise<StoredCheckpoint | undefined> {
    const k = this.deps.keys;
    const json = await startGenerationLua.run(
      this.deps.redis,
      [k.lease, k.generation, k.checkpoint, k.resetSeen],
      [this.deps.leaseToken, mode, cp.startFrom, cp.recoverUntil ?? '', cp.sweepAfterId ?? ''],
    );
    if (typeof json !== 'string') return undefined;
    const stored = JSON.parse(json) as StoredCheckpoint;
    this.remember(stored);
    return stored;
  }

  /**
   * Runs commit-checkpoint.lua; false when the lease is not ours, the generation counter differs or Redis lost
   * writes (the write mark differs).
   */
  async store(cp: StoredCheckpoint): Promise<boolean> {
    const k = this.deps.keys;
    const ok = await commitCheckpointLua.run(
      this.deps.redis,
      [k.lease, k.checkpoint, k.generation, k.ingestWrites],
      [this.deps.leaseToken, JSON.stringify(cp), String(cp.generation), this.writeMark],
    );
    if (ok === 1) {
      this.remember(cp);
      return true;
    }
    if (Array.isArray(ok) && Number(ok[0]) === -2) this.writesLost(String(ok[1] ?? ''));
    else if (Array.isArray(ok)) this.deps.onDiverged(cp.generation, Number(ok[1]));
    return false;
  }

  private writesLost(storedJson: string): void {
    const wasAt = this.stored?.start_from;
    this.writeMark = '';
    this.stored = storedJson ? (JSON.parse(storedJson) as StoredCheckpoint) : undefined;
    this.deps.onWritesLost(this.stored, wasAt);
  }

  /**
   * A reset seen on a ping, recorded before acting: OpenCTI's flag is consumed by that ping, so a crash before
   * the generation starts must not lose it (start-generation.lua clears it).
   */
  async recordReset(at: string): Promise<void> {
    await this.deps.redis.set(this.deps.keys.resetSeen, at);
  }

  /** When a reset was recorded and not acted on yet (null: none). */
  resetSeen(): Promise<string | null> {
    return this.deps.redis.get(this.deps.keys.resetSeen);
  }

  private remember(cp: StoredCheckpoint): void {
    this.stored = cp;
    this.deps.metrics.checkpointMs.set(eventIdMs(cp.start_from));
    this.deps.metrics.generation.set(cp.generation);
  }
}
