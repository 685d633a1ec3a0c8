// limitHeapGrowth in a real child process (test/fixtures/heap-churn.ts): a small live set and a churn of
// short-lived objects, as a worker's jobs in flight. V8's own growth factor let this heap reach about 7× its live
// size (240 MB for 33 MB live); limited, it stays near 3×.
import { join } from 'node:path';
import { startProcess } from '@octi-sekoia/testkit';
import { describe, expect, it } from 'vitest';
import { limitHeapGrowth } from '../src/heap.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'heap-churn.ts');

async function churn(nodeArgs: string[]): Promise<{ limited: boolean; maxHeapMb: number; liveMb: number }> {
  const proc = startProcess(process.execPath, ['--expose-gc', ...nodeArgs, '--import', 'tsx', fixture], {
    cwd: import.meta.dirname,
    env: { PATH: process.env.PATH ?? '', HEAP_TEST_LIMIT: '1' },
  });
  expect(await proc.exited).toBe(0);
  return JSON.parse(proc.output().trim().split('\n').at(-1) ?? '');
}

describe('limitHeapGrowth', () => {
  it('keeps the heap within a few times its live size under a churn of short-lived objects', async () => {
    const r = await churn([]);
    expect(r.limited).toBe(true);
    expect(r.maxHeapMb).toBeLessThanOrEqual(5 * r.liveMb);
  }, 60_000);

  it('leaves a growth factor given on the node command line alone', async () => {
    expect(limitHeapGrowth(50, ['--heap-growing-percent=300'])).toBe(false);
    expect(limitHeapGrowth(50, ['--heap_growing_percent', '300'])).toBe(false);
    expect((await churn(['--heap-growing-percent=300'])).limited).toBe(false);
  }, 60_000);
});
