import { createHash } from 'node:crypto';

/** BullMQ queue names (under the connector's prefix). */
export const QUEUE_INDICATORS = 'indicators';
export const QUEUE_DEAD_LETTERS = 'dead-letters';

/**
 * Every Redis name of one connector, all under `<keyPrefix>:<connectorId>` so several connectors share one
 * Redis without collisions. BullMQ's `prefix` option is that base; its own keys are `<base>:<queue>:…`.
 *
 * Values and indicator ids are appended verbatim (Redis keys are binary-safe). The sync prefixes are also
 * passed to the Lua scripts, which build per-value keys themselves: the layout assumes one Redis (not a
 * cluster), like BullMQ's.
 */
export function keys(keyPrefix: string, connectorId: string) {
  if (!keyPrefix || !connectorId) throw new Error('keys: keyPrefix and connectorId are required');
  const base = `${keyPrefix}:${connectorId}`;
  const s = `${base}:sync`;
  return {
    base,
    /** BullMQ `prefix` option for both queues. */
    bullPrefix: base,
    queues: { indicators: QUEUE_INDICATORS, deadLetters: QUEUE_DEAD_LETTERS },

    // Ingest.
    /** Committed stream position (JSON), written only by the lease holder. */
    checkpoint: `${base}:checkpoint`,
    /** Reader lease: one ingest replica reads the stream. */
    lease: `${base}:lease`,
    /** Current generation (integer). Jobs of an older generation are refused by recordDesired. */
    generation: `${base}:generation`,
    /** "Reset seen" marker, recorded before acting on an OpenCTI reset. */
    resetSeen: `${base}:reset-seen`,
    /** Hash `{ name, streamId }`: the connector's name and stream as ingest registered them in OpenCTI. */
    info: `${base}:info`,
    /** List of raw stream events sent back from dead letters of kind `event` (ingest pops and normalizes them). */
    replayedEvents: `${base}:replayed-events`,

    /** JSON record of the Sekoia.io behaviour profile `pnpm cli probe` observed (@octi-sekoia/sekoia profile.ts). */
    sekoiaProfile: `${base}:sekoia-profile`,

    // Dead letters.
    /** Hash `<id>:n` → sightings (atomic counter), `<id>:first` → first seen ISO; the data shown mirrors it. */
    deadLetterMeta: `${base}:dead-letter-meta`,

    /**
     * Hash of counters of dead letters an operator discarded (`pnpm cli dead-letters discard`): `total` and one
     * field per kind (`event`, `job`, `value`). Never decremented; `pnpm cli status` shows it.
     */
    deadLettersDiscarded: `${base}:dead-letters-discarded`,

    // Sync state (see packages/sync/README.md).
    sync: {
      /** Prefix: `<p><indicatorId>` string, JSON [g, e, live, vals, fs, stix] — desired state + fence. */
      indicatorPrefix: `${s}:ind:`,
      /**
       * Prefix: `<p><value>` hash, the one record of a value: {ver, gen, id:<sekoiaId>, int:<seq>, rej, unsure,
       * fail} (version + applied) and `i:<indicatorId>` per live indicator exporting the value (the index).
       */
      valuePrefix: `${s}:val:`,
      /**
       * Hash field set ref → `<live indicators referring to it> <JSON [fp, validFrom, validUntil, phases,
       * description]>`: each distinct field set once, deleted when no live indicator refers to it.
       */
      fieldSets: `${s}:field-sets`,
      /** Integer: layout version of the sync state (absent: the layout before 2, migrated at worker start). */
      format: `${s}:format`,
      /** Prefix of the index sets of layout 1 (before 2 merged them into the value hashes): migration only. */
      legacyIndexPrefix: `${s}:idx:`,
      /** Prefix: `<p><value>` string lock (claim token, PX). */
      lockPrefix: `${s}:lock:`,
      /** Sorted set value → not-before time (ms): the durable dirty set. */
      dirty: `${s}:dirty`,
      /** Integer: number of live indicators (the sweep walks the indicator records themselves). */
      liveCount: `${s}:live-count`,
      /** Set of live indicator ids of layout 1 (counted by liveCount in layout 2): migration only. */
      legacyLive: `${s}:live`,
      /** Counter: global desired-version sequence (monotonic, so a deleted value hash never reuses a version). */
      versionSeq: `${s}:version-seq`,
      /** Counter: claim sequence (identifies the claim that wrote an intent). */
      claimSeq: `${s}:claim-seq`,
      /** Highest generation whose sweep completed. */
      swept: `${s}:swept`,
      /** Set of indicator ids (internal or STIX) the running sweep must keep; deleted when it ends. */
      sweepExempt: `${s}:sweep-exempt`,
      /** Hash of counters (applied, stale, duplicate, …). */
      stats: `${s}:stats`,
      indicator: (indicatorId: string) => `${s}:ind:${indicatorId}`,
      value: (value: string) => `${s}:val:${value}`,
      lock: (value: string) => `${s}:lock:${value}`,
    },
  };
}

export type ConnectorKeys = ReturnType<typeof keys>;

/**
 * The request budget is shared by every connector using one Sekoia host and API key, so it is not under a
 * connector id. The key itself never reaches Redis: only a SHA-256 prefix of it.
 */
export function budgetKeys(keyPrefix: string, sekoiaHost: string, apiKey: string) {
  const keyHash = createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
  const base = `${keyPrefix}:budget:${sekoiaHost.toLowerCase()}:${keyHash}`;
  return { base, tat: `${base}:tat`, pause: `${base}:pause` };
}
