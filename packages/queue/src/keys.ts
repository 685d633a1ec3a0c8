import { createHash } from 'node:crypto';

/**
 * The one module that spells Redis keys: every key and every record shared between processes is named here,
 * with its type and its one writer (docs/redis-keys.md is the table). Nothing else builds a key from strings.
 *
 * Cluster: every key of one connector carries the hash tag `{<keyPrefix>:<connectorId>}`, so all of them (the
 * BullMQ queues included: BullMQ takes braces in its `prefix`) live in one slot, and a Lua script or MULTI over
 * them never fails with CROSSSLOT. The request budget shared by every connector on one API key has its own tag.
 * Values and indicator ids are appended verbatim (Redis keys are binary-safe; a `{` in a value does not matter:
 * only the first `{…}` of a key is its tag).
 */

/** BullMQ queue names (under the connector's prefix). */
export const QUEUE_INDICATORS = 'indicators';
export const QUEUE_DEAD_LETTERS = 'dead-letters';

/** The hash tag of one connector: every key of the connector starts with it. */
export function connectorTag(keyPrefix: string, connectorId: string): string {
  if (!keyPrefix || !connectorId) throw new Error('keys: keyPrefix and connectorId are required');
  return `{${keyPrefix}:${connectorId}}`;
}

/** Every Redis name of one connector, all under its hash tag (see above). */
export function keys(keyPrefix: string, connectorId: string) {
  const base = connectorTag(keyPrefix, connectorId);
  const s = `${base}:sync`;
  return {
    base,
    /** BullMQ `prefix` option for both queues: its keys are `<base>:<queue>:…`, in the connector's slot. */
    bullPrefix: base,
    queues: { indicators: QUEUE_INDICATORS, deadLetters: QUEUE_DEAD_LETTERS },
    /** A key of BullMQ's own (written by BullMQ only): `<bullPrefix>:<queue>:<part>`, e.g. part `meta`. */
    queueKey: (queue: string, part: string) => `${base}:${queue}:${part}`,
    /**
     * The BullMQ keys of a queue's jobs not finished yet, in this order: the lists active, wait, paused, then the
     * sorted sets prioritized, delayed, failed (the KEYS of find-sweep-blocker.lua and prune-tombstones.lua).
     */
    pendingJobKeys: (queue: string) =>
      ['active', 'wait', 'paused', 'prioritized', 'delayed', 'failed'].map(
        (part) => `${base}:${queue}:${part}`,
      ),
    /**
     * String (PX): the lock BullMQ holds on an active job, its value the processing worker's token (BullMQ 6.7.0
     * moveToActive / moveToFinished: `<prefix>:<queue>:<jobId>:lock`). Writer: BullMQ only; record-desired.lua
     * reads it to refuse a late write of a job whose lock the worker lost (packages/sync state.ts recordDesired).
     */
    jobLock: (queue: string, jobId: string) => `${base}:${queue}:${jobId}:lock`,

    // Ingest (writer: the ingest replica holding the lease, unless said otherwise).
    /** JSON `{ lastEventId, … }`: committed stream position. */
    checkpoint: `${base}:checkpoint`,
    /** String token (PX): the reader lease, one ingest replica reads the stream. Writer: every ingest replica. */
    lease: `${base}:lease`,
    /** Integer: current generation. Jobs of an older generation are refused by recordDesired. */
    generation: `${base}:generation`,
    /** "Reset seen" marker, recorded before acting on an OpenCTI reset. */
    resetSeen: `${base}:reset-seen`,
    /** Hash `{ name, streamId }`: the connector's name and stream as ingest registered them in OpenCTI. */
    info: `${base}:info`,
    /** JSON `{ state, message, at, host }` with a TTL: what the reading replica is doing (`pnpm cli status`). */
    ingestStatus: `${base}:ingest-status`,
    /** JSON ConfigIdentity (@octi-sekoia/sync collection-reads.ts): what the sync state was built with. Writer: ingest. */
    identity: `${base}:identity`,
    /** ISO date of an operator's re-sync request. Writers: `pnpm cli resync`, ingest (identity change); ingest GETDELs it. */
    resyncRequested: `${base}:resync-requested`,
    /**
     * Integer INCRed by the ingest lease holder after each batch of jobs or dead letters it writes; the checkpoint
     * commit refuses to move on when it is not the value ingest last got: Redis lost writes it had acknowledged (a
     * failover, a restart from an older snapshot), so the events read since the checkpoint are read again
     * (docs/redis.md, "What a failover can cost").
     */
    ingestWrites: `${base}:ingest-writes`,
    /** List of raw stream events sent back from dead letters of kind `event` (ingest pops and normalizes them). */
    replayedEvents: `${base}:replayed-events`,

    // Worker.
    /** JSON `{ state: 'closed'|'open', reason?, message?, since? }`: the Sekoia.io circuit. */
    circuit: `${base}:circuit`,
    /** JSON `{ count, max, at }` from Sekoia's count-total-iocs. */
    collectionUsage: `${base}:collection-usage`,
    /** JSON `{ generation, kept, at }` after each sweep (`kept`: not seen but named by a dead letter). */
    lastSweep: `${base}:last-sweep`,
    /**
     * Hash value → JSON `{ detail, at }`: values written only as close as Sekoia allows under `mode`
     * (@octi-sekoia/sekoia approximations.ts), the first time. Writer: worker (HSETNX; HDEL when written exactly
     * again or revoked as no longer desired); reader: `cli status`.
     */
    approximated: (mode: string) => `${base}:approximated:${mode}`,
    /** JSON record of the Sekoia.io behaviour profile. Writer: `pnpm cli probe` (@octi-sekoia/sekoia profile.ts). */
    sekoiaProfile: `${base}:sekoia-profile`,

    // Dead letters (writers: @octi-sekoia/queue dead-letters.ts, from ingest, worker, CLI and dashboard).
    /** Hash `<id>:n` → sightings (atomic counter), `<id>:first` → first seen ISO; the data shown mirrors it. */
    deadLetterMeta: `${base}:dead-letter-meta`,
    /**
     * Hash of counters of dead letters an operator discarded (`pnpm cli dead-letters discard`): `total` and one
     * field per kind (`event`, `job`, `value`). Never decremented; `pnpm cli status` shows it.
     */
    deadLettersDiscarded: `${base}:dead-letters-discarded`,

    // Sync state (see packages/sync/README.md; writer: @octi-sekoia/sync, in the worker and the CLI).
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
      /**
       * Zset indicator id → millisecond part of its tombstone's event id: the index of the tombstones (removed
       * indicators' records, `live` 0), pruned once no event older than the tombstone can still reach
       * record-desired.lua (prune-tombstones.lua; packages/sync/README.md "Redis keys").
       */
      tombstones: `${s}:tombstones`,
      /**
       * String token (PX, renewed by each step): the worker running the tombstone prune, one per connector at a time
       * (others skip their run). Writer: every worker (@octi-sekoia/sync state.ts pruneTombstones, prune-lease.lua,
       * prune-tombstones.lua).
       */
      pruneLease: `${s}:prune-lease`,
      /**
       * JSON `[score, indicator id]`: the tombstone index entry the last prune run stopped after (its Redis time
       * spent), where the next run resumes, whichever worker runs it; absent when the last run reached the bound.
       * Writer: prune-tombstones.lua, under the prune lease.
       */
      pruneCursor: `${s}:prune-cursor`,
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
      /**
       * Integer INCRed by every worker before each write request to Sekoia: an answer not above the one a worker
       * got before means Redis lost acknowledged writes, and that worker requests a re-sync (apps/worker
       * write-mark.ts; docs/redis.md, "What a failover can cost").
       */
      writeMark: `${s}:write-mark`,

      // Shared create batches (@octi-sekoia/sync shared-batch.ts; writers: every worker): values whose create is
      // decided, per field group (the group id: a hash of the model's createGroupKey), until one worker seals them.
      /** Zset group id → values ready in it (the sealer picks the fullest group). */
      createGroups: `${s}:cb:groups`,
      /** Zset value → time (ms) it was first offered: one group's values ready to be created, oldest first. */
      createReady: (group: string) => `${s}:cb:ready:${group}`,
      /** Hash value → JSON [claim token, claim seq, desired version, fp, inbox, attributes] of those values. */
      createItems: (group: string) => `${s}:cb:items:${group}`,
      /** List (PX) of JSON [value, claim seq, outcome]: what sealers answer for one process's offered values. */
      createInbox: (inbox: string) => `${s}:cb:inbox:${inbox}`,
      indicator: (indicatorId: string) => `${s}:ind:${indicatorId}`,
      value: (value: string) => `${s}:val:${value}`,
      lock: (value: string) => `${s}:lock:${value}`,

      // Collection reads (adoption, the read at the start of a generation).
      /** Integer: highest generation whose collection read is recorded. */
      readGeneration: `${s}:read-gen`,
      /** JSON ReadInfo of the last read. */
      readInfo: `${s}:read-info`,
      /** String token (PX) of the reader (worker or CLI) holding the read lock. */
      readLock: `${s}:read-lock`,
      /**
       * Set of values whose applied record a write changed while a collection read runs (record-applied.lua adds
       * them only while the set exists: the reader creates it, with a TTL renewed with its lock); re-checked once
       * the read's pages are recorded (packages/sync read-touched.ts).
       */
      readTouched: `${s}:read-touched`,
      /** Prefix: `<p><G>` set of values observed by the read of G (dirtied once G is swept). */
      observedPrefix: `${s}:observed:`,
      observed: (generation: number) => `${s}:observed:${generation}`,
      /** Prefix: `<p><G>` hash value → ids observed by the reads of G (space-separated). */
      observedIdsPrefix: `${s}:observed-ids:`,
      observedIds: (generation: number) => `${s}:observed-ids:${generation}`,
      /** Zset of generations with an observed set still to dirty. */
      observedGenerations: `${s}:observed-gens`,
      /** ISO time of the first adoption (a worker's first start with no sync state, or `cli adopt`). */
      adoptedAt: `${s}:adopted-at`,
    },
  };
}

export type ConnectorKeys = ReturnType<typeof keys>;

/**
 * Set of the connector ids sharing this Redis and key prefix (writers: ingest and worker at start; read by the
 * dashboard and the CLI). Only ever used alone (SADD, SMEMBERS), so its slot does not matter.
 */
export function connectorsKey(keyPrefix: string): string {
  return `{${keyPrefix}}:connectors`;
}

/**
 * The request budget is shared by every connector using one Sekoia host and API key, so it is not under a
 * connector id: its two keys share their own hash tag. The key itself never reaches Redis: only a SHA-256
 * prefix of it. Writer: @octi-sekoia/sync budget.ts.
 */
export function budgetKeys(keyPrefix: string, sekoiaHost: string, apiKey: string) {
  const keyHash = createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
  const base = `{${keyPrefix}:budget:${sekoiaHost.toLowerCase()}:${keyHash}}`;
  return { base, tat: `${base}:tat`, pause: `${base}:pause` };
}

/** Namespace of the collection-owner records: the same for every key prefix (see collectionOwnerKey). */
const OWNER_NAMESPACE = 'octi-sekoia:collection-owner';

/**
 * JSON CollectionOwner (@octi-sekoia/sync collection-owner.ts) of one Sekoia.io collection, per API host. The one
 * key outside any key prefix, on purpose: a connector under another REDIS_KEY_PREFIX on the same Redis must
 * see it. Writers: the worker at start (only when none), `pnpm cli adopt`.
 */
export function collectionOwnerKey(sekoiaUrl: string, collectionId: string): string {
  return `${OWNER_NAMESPACE}:${new URL(sekoiaUrl).host.toLowerCase()}:${collectionId}`;
}

/** SCAN pattern of every collection-owner record (to find those a key prefix owns). */
export const COLLECTION_OWNER_PATTERN = `${OWNER_NAMESPACE}:*`;

/** Escapes a string for a SCAN MATCH pattern. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * SCAN patterns that cover every key under a key prefix (every connector, the budget, the connectors set), but
 * not the collection-owner records (see collectionOwnerKey).
 */
export function keyPrefixPatterns(keyPrefix: string): string[] {
  return [`{${globEscape(keyPrefix)}:*`, `{${globEscape(keyPrefix)}}:*`];
}

/**
 * The layout before hash tags (before issue 17): every key of a connector under `<prefix>:<connector>:`, the
 * connectors set at `<prefix>:connectors`. Named only so that migrateKeyLayout (migrate-keys.ts) can move those
 * keys at an upgrade; nothing reads or writes them otherwise.
 */
export function legacyLayout(keyPrefix: string, connectorId: string) {
  const base = `${keyPrefix}:${connectorId}`;
  return {
    base,
    /** Any of these present: a connector of the old layout. */
    markers: [`${base}:checkpoint`, `${base}:generation`, `${base}:sync:dirty`],
    connectors: `${keyPrefix}:connectors`,
  };
}
