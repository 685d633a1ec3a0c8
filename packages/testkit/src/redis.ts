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
  /** Deletes every key under the prefix and closes the connections made here. */
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
  return {
    prefix,
    url: REDIS_TEST_URL,
    env: { REDIS_URL: REDIS_TEST_URL },
    client,
    connect,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.unlink(...keys);
      } while (cursor !== '0');
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
