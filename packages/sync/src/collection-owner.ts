// One owner per Sekoia.io collection: two connectors syncing the same collection would each revoke the other's
// values. The owner is recorded in Redis per collection, under a key that does not depend on REDIS_KEY_PREFIX
// (a second connector with another prefix on the same Redis must see it: collectionOwnerKey in
// @octi-sekoia/queue keys.ts); workers refuse to start as a second owner, and `pnpm cli adopt` hands the
// collection over explicitly.
import { COLLECTION_OWNER_PATTERN, collectionOwnerKey, type RedisClient, scanKeys } from '@octi-sekoia/queue';

export { collectionOwnerKey };

/** Who syncs a collection: a connector is its id under its key prefix. */
export interface ConnectorRef {
  connectorId: string;
  keyPrefix: string;
}

export interface CollectionOwner extends ConnectorRef {
  /** ISO 8601: when this connector became the owner. */
  since: string;
  /** What recorded it (`worker <host> pid <pid>`, `pnpm cli adopt`). */
  by: string;
}

export function sameConnector(a: ConnectorRef, b: ConnectorRef): boolean {
  return a.connectorId === b.connectorId && a.keyPrefix === b.keyPrefix;
}

function describe(c: ConnectorRef): string {
  return `connector ${c.connectorId} (REDIS_KEY_PREFIX ${c.keyPrefix})`;
}

/** The one line a second owner is refused with: both connectors named, and the way to hand over. */
export function ownerConflictMessage(collectionId: string, owner: CollectionOwner, me: ConnectorRef): string {
  return (
    `Sekoia.io collection ${collectionId} is synced by ${describe(owner)} since ${owner.since}; ` +
    `this is ${describe(me)}: two owners would revoke each other's values. Stop the other connector and hand ` +
    `the collection over with \`pnpm cli adopt\` run with this connector's settings, or configure another collection`
  );
}

export type ClaimResult =
  | { kind: 'claimed' }
  | { kind: 'owner'; owner: CollectionOwner }
  | { kind: 'other'; owner: CollectionOwner };

function parse(raw: string | null): CollectionOwner | undefined {
  if (!raw) return undefined;
  try {
    const o = JSON.parse(raw) as Partial<CollectionOwner>;
    if (typeof o.connectorId === 'string' && typeof o.keyPrefix === 'string') {
      return {
        connectorId: o.connectorId,
        keyPrefix: o.keyPrefix,
        since: String(o.since ?? ''),
        by: String(o.by ?? ''),
      };
    }
  } catch {
    // unreadable: treated as no record below
  }
  return undefined;
}

/** Records `me` as the owner when the collection has none; otherwise says whether it is `me` or another. */
export async function claimCollection(
  redis: RedisClient,
  key: string,
  me: ConnectorRef,
  by: string,
  now: () => Date = () => new Date(),
): Promise<ClaimResult> {
  const record: CollectionOwner = { ...me, since: now().toISOString(), by };
  if ((await redis.set(key, JSON.stringify(record), 'NX')) === 'OK') return { kind: 'claimed' };
  const owner = parse(await redis.get(key));
  if (!owner) {
    await redis.set(key, JSON.stringify(record));
    return { kind: 'claimed' };
  }
  return sameConnector(owner, me) ? { kind: 'owner', owner } : { kind: 'other', owner };
}

/** The operator's explicit handover (`pnpm cli adopt`): `me` becomes the owner; returns the previous one. */
export async function handOverCollection(
  redis: RedisClient,
  key: string,
  me: ConnectorRef,
  by: string,
  now: () => Date = () => new Date(),
): Promise<CollectionOwner | undefined> {
  const record: CollectionOwner = { ...me, since: now().toISOString(), by };
  const previous = parse(await redis.get(key));
  if (previous && sameConnector(previous, me)) return previous;
  await redis.set(key, JSON.stringify(record));
  return previous;
}

/**
 * Deletes the owner records of every collection owned by a connector under `keyPrefix` (they live outside the
 * prefix, see collectionOwnerKey): what removing everything a key prefix owns needs besides its own keys.
 * Returns how many were deleted.
 */
export async function forgetCollectionsOwnedBy(redis: RedisClient, keyPrefix: string): Promise<number> {
  let deleted = 0;
  for await (const found of scanKeys(redis, COLLECTION_OWNER_PATTERN)) {
    for (const key of found) {
      if (parse(await redis.get(key))?.keyPrefix === keyPrefix) deleted += await redis.del(key);
    }
  }
  return deleted;
}
