import { describe, expect, it } from 'vitest';
import { freePort, testRedis, waitFor } from '../src/index.ts';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? n : 0), { intervalMs: 1 });
    expect(v).toBe(3);
  });
  it('fails with what it waited for once the deadline passes', async () => {
    await expect(waitFor(() => false, { timeoutMs: 50, intervalMs: 5, what: 'the moon' })).rejects.toThrow(
      /waiting for the moon/,
    );
  });
});

describe('testRedis', () => {
  it('cleans up every key under its prefix', async () => {
    const r = await testRedis('kit');
    await r.client.set(`${r.prefix}:a`, '1');
    await r.client.set(`${r.prefix}:b`, '2');
    const other = await testRedis('kit');
    await r.cleanup();
    expect(await other.client.exists(`${r.prefix}:a`, `${r.prefix}:b`)).toBe(0);
    await other.cleanup();
  });
  it('gives a usable free port', async () => {
    expect(await freePort()).toBeGreaterThan(0);
  });
});
