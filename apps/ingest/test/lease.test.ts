import { testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ReaderLease } from '../src/lease.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('ReaderLease', () => {
  it('lets exactly one replica hold it and hands over when the holder stops', async () => {
    const r = await testRedis('lease');
    cleanups.push(r.cleanup);
    const log: string[] = [];
    const mk = (name: string) =>
      new ReaderLease(r.connect(), `${r.prefix}:lease`, 600, {
        onAcquired: () => log.push(`${name}+`),
        onLost: () => log.push(`${name}-`),
      });
    const a = mk('a');
    const b = mk('b');
    a.start();
    await waitFor(() => a.isHeld(), { what: 'a holds the lease' });
    b.start();
    // b keeps trying for several TTLs (3 rounds per TTL) while a renews: it must never get it.
    await waitFor(() => b.rounds >= 10, { what: 'b tried for over three TTLs' });
    expect(b.isHeld()).toBe(false);
    expect(log).toEqual(['a+']);

    await a.stop();
    await waitFor(() => b.isHeld(), { what: 'b takes over' });
    expect(log).toEqual(['a+', 'b+']);
    await b.stop();
  });

  it('tells the holder when its lease was taken while it was away', async () => {
    const r = await testRedis('lease');
    cleanups.push(r.cleanup);
    let lost = false;
    const a = new ReaderLease(r.connect(), `${r.prefix}:lease`, 400, {
      onAcquired: () => {},
      onLost: () => {
        lost = true;
      },
    });
    a.start();
    await waitFor(() => a.isHeld(), { what: 'a holds the lease' });
    await r.client.set(`${r.prefix}:lease`, 'someone-else');
    await waitFor(() => lost, { what: 'a notices the loss' });
    expect(a.isHeld()).toBe(false);
    await a.stop();
    expect(await r.client.get(`${r.prefix}:lease`)).toBe('someone-else');
  });

  it('says why it was lost: expired (nobody holds it, e.g. after a Redis outage) or taken by another replica', async () => {
    const r = await testRedis('lease');
    cleanups.push(r.cleanup);
    const why: string[] = [];
    const a = new ReaderLease(r.connect(), `${r.prefix}:lease`, 400, {
      onAcquired: () => {},
      onLost: (w) => why.push(w),
    });
    a.start();
    await waitFor(() => a.isHeld(), { what: 'a holds the lease' });
    // The TTL ran out while Redis was unreachable: the key is gone, nobody else took it.
    await r.client.del(`${r.prefix}:lease`);
    await waitFor(() => why.length === 1, { what: 'a notices the expiry' });
    expect(why).toEqual(['expired']);
    // It takes it again; then another replica takes it.
    await waitFor(() => a.isHeld(), { what: 'a holds the lease again' });
    await r.client.set(`${r.prefix}:lease`, 'someone-else');
    await waitFor(() => why.length === 2, { what: 'a notices the takeover' });
    expect(why).toEqual(['expired', 'taken']);
    await a.stop();
  });
});
