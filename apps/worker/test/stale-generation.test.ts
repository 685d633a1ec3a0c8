/**
 * Issue 13 case 1 (worker side): a job stamped with a generation older than the counter is refused. That is
 * expected for jobs queued before a re-sync, and the symptom of a frozen sync when ingest keeps stamping an old
 * generation: the operator must see it — counted in worker_jobs_total and logged at warn with both generations.
 */
import { Writable } from 'node:stream';
import { createLogger } from '@octi-sekoia/logger';
import { jobId } from '@octi-sekoia/model';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Stack, upsert } from './harness.ts';

let stack: Stack;
beforeEach(async () => {
  stack = await Stack.start();
});
afterEach(async () => {
  await stack.close();
});

/** A logger whose JSON lines the test reads. */
function capturedLog() {
  const lines: Array<Record<string, unknown> & { level: string; msg: string }> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger({ level: 'info', name: 'worker', destination }) };
}

describe('case 1: jobs of an older generation', () => {
  it('case 1: a stale-generation job is counted in the metrics and logged at warn with both generations', async () => {
    const s = stack;
    await s.r.client.set(s.keys.generation, '3');
    // Generation 3's recovery is over (swept): values are written at once, not held until a sweep.
    await s.r.client.set(s.keys.sync.swept, '3');
    const { lines, log } = capturedLog();
    const service = await s.startService({}, {}, log);
    const stale = [upsert('a', '100-0', ['a.example']), upsert('b', '101-0', ['b.example'])];
    const current = upsert('c', '102-0', ['c.example'], { generation: 3 });
    await s.enqueue([...stale, current]);
    await waitFor(
      async () => {
        const done = await Promise.all(
          [...stale, current].map(async (j) => (await s.queues.indicators.getJob(jobId(j)))?.finishedOn),
        );
        return done.every(Boolean);
      },
      { timeoutMs: 60_000, what: 'the three jobs to complete' },
    );
    await s.waitIdle(60_000);

    const counted = (await service.metrics.jobs.get()).values.find(
      (v) => v.labels.kind === 'indicator' && v.labels.outcome === 'stale-generation',
    );
    expect(counted?.value).toBe(2);
    // One warn line for the pair (1, 3), naming both generations; the second job is only counted.
    const warned = lines.filter((l) => l.level === 'warn' && /stale-generation/.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ jobGeneration: 1, currentGeneration: 3 });
    // Refused jobs change nothing in Sekoia; the current generation's job is applied.
    expect(s.sim.control.liveValues().sort()).toEqual(['c.example']);
  });
});
