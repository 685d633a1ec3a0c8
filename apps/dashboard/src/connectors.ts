import { type ConnectorQueues, createQueues, keys } from '@octi-sekoia/queue';
import type { Redis } from 'ioredis';

/** The set where ingest and worker register the connector ids that share this Redis (and key prefix). */
export const connectorsSetKey = (keyPrefix: string) => `${keyPrefix}:connectors`;

/** Connector ids known on this Redis: the registered ones plus the dashboard's own CONNECTOR_ID. */
export async function discoverConnectors(redis: Redis, keyPrefix: string, own?: string): Promise<string[]> {
  const ids = new Set(await redis.smembers(connectorsSetKey(keyPrefix)));
  if (own) ids.add(own);
  return [...ids].sort();
}

export interface ConnectorView {
  connectorId: string;
  queues: ConnectorQueues;
}

export function openConnector(redis: Redis, keyPrefix: string, connectorId: string): ConnectorView {
  return { connectorId, queues: createQueues(redis, keyPrefix, connectorId) };
}

/** The name ingest registered for a connector in OpenCTI (`<base>:info`), undefined until it has. */
export async function connectorName(redis: Redis, keyPrefix: string, connectorId: string) {
  const name = await redis.hget(keys(keyPrefix, connectorId).info, 'name');
  return name?.trim() ? name : undefined;
}
