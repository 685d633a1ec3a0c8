import { type SentinelSet, startSentinelSet, waitFor } from '@octi-sekoia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, describeRedis } from '../src/index.ts';

// One primary, one replica, three sentinels, with a password on the data nodes (REDIS_PASSWORD applies to them).
describe('connectRedis on Sentinel', () => {
  let set: SentinelSet;
  const clients: { disconnect(): void }[] = [];
  beforeAll(async () => {
    set = await startSentinelSet({ password: 'data-node-pw' });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await set?.destroy();
  });

  const settings = () => ({
    url: 'redis://127.0.0.1:6379',
    sentinels: set.sentinels,
    sentinelMaster: set.masterName,
    password: 'data-node-pw',
    tls: false,
  });

  it('writes to the current master and follows a SENTINEL FAILOVER on the same connection', async () => {
    const redis = connectRedis(settings());
    clients.push(redis);
    await redis.set('k', 'before');
    const before = await set.master();
    clients.push(before);
    expect(await before.get('k')).toBe('before');

    const { to } = await set.failover();
    // The same connection reaches the new master: a write succeeds and is on `to`.
    await waitFor(async () => (await redis.set('k', 'after')) === 'OK', {
      what: 'a write after the failover',
    });
    const direct = await set.master();
    clients.push(direct);
    expect(await set.masterPort()).toBe(to);
    expect(await direct.get('k')).toBe('after');
    expect(((await redis.call('ROLE')) as string[])[0]).toBe('master');
  }, 60_000);

  it('describes itself without the password', () => {
    const shown = describeRedis({ ...settings(), sentinelPassword: 'sentinel-secret' });
    expect(shown).toBe(`sentinel master "${set.masterName}" via ${set.env.REDIS_SENTINELS}`);
  });
});
