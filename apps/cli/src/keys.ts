import type { ConnectorKeys } from '@octi-sekoia/queue';

/**
 * Keys written by ingest and the worker that `keys()` of @octi-sekoia/queue does not name (yet). Every one is
 * read defensively: absent means unknown.
 */
export function appKeys(k: ConnectorKeys, keyPrefix: string) {
  return {
    /** JSON `{ state, message, at, host }`, written by the ingest leader (with a TTL). */
    ingestStatus: `${k.base}:ingest-status`,
    /** JSON `{ state: 'closed'|'open', reason?, message?, since? }`, written by the worker. */
    circuit: `${k.base}:circuit`,
    /** JSON `{ count, max, at }`, written by the worker from Sekoia's count-total-iocs. */
    collectionUsage: `${k.base}:collection-usage`,
    /** ISO date of an operator's re-sync request; ingest GETDELs it and starts a new generation. */
    resyncRequested: `${k.base}:resync-requested`,
    /** Set of the connector ids sharing this Redis and key prefix. */
    connectors: `${keyPrefix}:connectors`,
  };
}
