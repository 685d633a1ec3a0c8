import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The machine's shared Redis; every test works under its own key prefix on it. */
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  /** A unique prefix such as `t:3f9a1c2e:` — use it for every key and queue prefix of the test. */
  prefix: string;
  url: string;
  /** The apps' settings for this Redis (`REDIS_URL`, or the Sentinel variables): give these to a process. */
  env: Record<string, string>;
  client: Redis;
  /** A new connection (BullMQ workers need their own, with `maxRetriesPerRequest: null`). */
  connect(): Redis;
  /**
   * Also run `forget` at cleanup, before the keys are deleted: for records the prefix owns that live outside it
   * (the collection-owner records: `forgetCollectionsOwnedBy` of @octi-sekoia/sync).
   */
  alsoForget(forget: (client: Redis, prefix: string) => Promise<unknown>): void;
  /** Deletes every key whose name contains the prefix (and what alsoForget names), closes the connections. */
  cleanup(): Promise<void>;
}

export async function testRedis(label = 't'): Promise<TestRedis> {
  const prefix = `test:${label}:${randomBytes(4).toString('hex')}`;
  const clients: Redis[] = [];
  const connect = () => {
    const c = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: null, lazyConnect: false });
    clients.push(c);
    return c;
  };
  const client = connect();
  await client.ping();
  const forgets: ((client: Redis, prefix: string) => Promise<unknown>)[] = [];
  return {
    prefix,
    url: REDIS_TEST_URL,
    env: { REDIS_URL: REDIS_TEST_URL },
    client,
    connect,
    alsoForget: (forget) => forgets.push(forget),
    async cleanup() {
      for (const forget of forgets) await forget(client, prefix);
      let cursor = '0';
      do {
        // Anywhere in the name: the key layout puts the prefix inside a hash tag (packages/queue/src/keys.ts).
        const [next, keys] = await client.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.unlink(...keys);
      } while (cursor !== '0');
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
