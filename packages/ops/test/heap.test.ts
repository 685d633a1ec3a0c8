// limitHeapGrowth in a real child process (test/fixtures/heap-churn.ts): a small live set and a churn of
// short-lived objects, as a worker's jobs in flight. V8's own growth factor let this heap reach about 7× its live
// size (240 MB for 33 MB live); limited, it stays near 3×.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from '@octi-sekoia/testkit';
import { describe, expect, it } from 'vitest';
import { limitHeapGrowth, missingNodeFlags, NODE_FLAGS } from '../src/heap.ts';

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

describe('NODE_FLAGS', () => {
  const root = join(import.meta.dirname, '..', '..', '..');
  const read = (path: string) => readFileSync(join(root, path), 'utf8');

  it('the worker is started with its young generation capped, by every start command', () => {
    expect(NODE_FLAGS.worker).toContain('--max-semi-space-size=4');
    // The image's command (compose's worker service has none of its own: it runs this one).
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile.worker'))?.[1] ?? '[]';
    const argv = JSON.parse(cmd) as string[];
    expect(argv[0]).toBe('node');
    expect(missingNodeFlags('worker', argv.slice(1), '')).toEqual([]);
    expect(read('docker-compose.yml')).not.toMatch(/worker\/dist\/main\.js/);
    // `pnpm --filter ./apps/worker start` (README), through tsx, which hands node flags to node.
    const start = JSON.parse(read('apps/worker/package.json')).scripts.start as string;
    expect(missingNodeFlags('worker', start.split(/\s+/), '')).toEqual([]);
  });

  it('names the flags a process was started without, whatever value or spelling the operator gave', () => {
    expect(missingNodeFlags('worker', [], '')).toEqual(['--max-semi-space-size=4']);
    expect(missingNodeFlags('worker', ['--import', 'tsx'], '--max-old-space-size=200')).toEqual([
      '--max-semi-space-size=4',
    ]);
    expect(missingNodeFlags('worker', ['--max-semi-space-size=8'], '')).toEqual([]);
    expect(missingNodeFlags('worker', ['--max_semi_space_size=2'], '')).toEqual([]);
    expect(missingNodeFlags('worker', [], ' --max-semi-space-size=16 ')).toEqual([]);
    expect(missingNodeFlags('ingest', [], '')).toEqual([]);
  });
});
