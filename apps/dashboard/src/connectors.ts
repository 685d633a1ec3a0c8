import {
  type ConnectorQueues,
  connectorsKey,
  createQueues,
  keys,
  type RedisClient,
} from '@octi-sekoia/queue';

/** Connector ids known on this Redis: the registered ones plus the dashboard's own CONNECTOR_ID. */
export async function discoverConnectors(
  redis: RedisClient,
  keyPrefix: string,
  own?: string,
): Promise<string[]> {
  const ids = new Set(await redis.smembers(connectorsKey(keyPrefix)));
  if (own) ids.add(own);
  return [...ids].sort();
}

export interface ConnectorView {
  connectorId: string;
  queues: ConnectorQueues;
}

export function openConnector(redis: RedisClient, keyPrefix: string, connectorId: string): ConnectorView {
  return { connectorId, queues: createQueues(redis, keyPrefix, connectorId) };
}

/** The name ingest registered for a connector in OpenCTI (`keys().info`), undefined until it has. */
export async function connectorName(redis: RedisClient, keyPrefix: string, connectorId: string) {
  const name = await redis.hget(keys(keyPrefix, connectorId).info, 'name');
  return name?.trim() ? name : undefined;
}
