import { type ConnectorKeys, duplicateClient, type RedisClient } from '@octi-sekoia/queue';
import type { IngestSettings } from './settings.ts';

/** The settings ingest owns in `<base>:identity` (the worker and `cli adopt` own `collectionId`). */
export const INGEST_IDENTITY_FIELDS = [
  'streamId',
  'extractionMode',
  'descriptionTemplate',
  'openctiUrl',
  'validUntilRounding',
] as const;

type Field = (typeof INGEST_IDENTITY_FIELDS)[number];

const SHOWN: Record<Field, string> = {
  streamId: 'CONNECTOR_LIVE_STREAM_ID',
  extractionMode: 'SEKOIA_INTEL_EXTRACTION_MODE',
  descriptionTemplate: 'SEKOIA_INTEL_DESCRIPTION_TEMPLATE',
  openctiUrl: 'OPENCTI_URL',
  validUntilRounding: 'SEKOIA_INTEL_VALID_UNTIL_ROUNDING',
};

export function ingestIdentity(s: IngestSettings): Record<Field, string> {
  return {
    streamId: s.streamId,
    extractionMode: s.normalize.extractionMode,
    descriptionTemplate: s.normalize.descriptionTemplate,
    openctiUrl: s.normalize.openctiUrl,
    validUntilRounding: s.normalize.validUntilRounding,
  };
}

/**
 * Records what the sync state is built with (`<base>:identity`, JSON). Jobs carry values and descriptions derived
 * from the stream, the extraction mode, the description template, the OpenCTI URL (in descriptions) and the
 * valid_until rounding: when one of them changed since the last start, every recorded value may be wrong, so a
 * full re-sync is requested (`<base>:resync-requested`, started by the poll). A first run (no checkpoint) is
 * already a full recovery: nothing is requested. Returns the names of the settings that changed; never throws
 * (a failure is logged, the identity is checked again at the next start).
 */
export async function checkConfigIdentity(
  redis: RedisClient,
  k: ConnectorKeys,
  settings: IngestSettings,
  log: { warn(obj: object, msg: string): void },
  now: () => number = Date.now,
): Promise<string[]> {
  const key = k.identity;
  const checkpointKey = k.checkpoint;
  const mine = ingestIdentity(settings);
  // WATCH needs a connection of its own: the shared one carries other transactions.
  const conn = duplicateClient(redis);
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      await conn.watch(key, checkpointKey);
      const [raw, checkpoint] = await conn.mget(key, checkpointKey);
      const stored = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const changed = INGEST_IDENTITY_FIELDS.filter((f) => stored[f] !== undefined && stored[f] !== mine[f]);
      const missing = INGEST_IDENTITY_FIELDS.filter((f) => stored[f] === undefined);
      if (changed.length === 0 && missing.length === 0) {
        await conn.unwatch();
        return [];
      }
      const at = new Date(now()).toISOString();
      const m = conn.multi().set(key, JSON.stringify({ ...stored, ...mine, updatedAt: at }));
      if (changed.length > 0 && checkpoint) m.set(k.resyncRequested, at);
      if ((await m.exec()) === null) continue;
      if (changed.length > 0) {
        log.warn(
          {
            changed: changed.map((f) => SHOWN[f]),
            ...Object.fromEntries(changed.map((f) => [f, { was: stored[f], now: mine[f] }])),
            resync: Boolean(checkpoint),
          },
          `configuration changed since the last start (${changed.map((f) => SHOWN[f]).join(', ')}): ${
            checkpoint ? 'full re-sync requested' : 'the first run is a full recovery already'
          }`,
        );
      }
      return changed;
    }
    log.warn({}, 'config identity: too many concurrent updates; checked again at the next start');
  } catch (err) {
    log.warn(
      { err: (err as Error)?.message },
      'config identity could not be checked; checked again at the next start',
    );
  } finally {
    conn.disconnect();
  }
  return [];
}
