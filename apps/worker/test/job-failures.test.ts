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

describe('jobs that cannot be applied', () => {
  it('an invalid job becomes a dead letter of kind job at once, with a redacted reason; the others apply', async () => {
    const s = stack;
    const service = await s.startService();
    const good = upsert('ok', '100-0', ['fine.example']);
    const bad = { ...upsert('bad', '101-0', ['x.example']), kind: `Bearer ${s.sim.apiKey}` };
    await s.queues.indicators.add('upsert', good, { jobId: 'good' });
    await s.queues.indicators.add('upsert', bad as never, { jobId: 'bad' });
    await waitFor(async () => (await s.deadLetters()).length === 1, {
      timeoutMs: 20_000,
      what: 'a dead letter',
    });
    await s.waitIdle(20_000);
    const [letter] = await s.deadLetters();
    expect(letter).toMatchObject({ kind: 'job', subject: 'bad', payload: { indicatorId: 'bad' } });
    expect(letter?.error).toMatch(/^invalid job: unknown kind/);
    expect(JSON.stringify(letter)).not.toContain(s.sim.apiKey);
    // Moved, not left in the indicators queue's failed set.
    expect(await s.queues.indicators.getFailedCount()).toBe(0);
    expect(s.sim.control.liveValues()).toEqual(['fine.example']);
    await service.refreshGauges();

    // What /metrics shows.
    const text = await service.registry.metrics();
    for (const line of [
      'worker_jobs_total{kind="indicator",outcome="applied"} 1',
      'worker_jobs_total{kind="invalid",outcome="failed"} 1',
      'worker_dead_letters_total{kind="job"} 1',
      'worker_sekoia_requests_total{endpoint="createBatch",status="ok"} 1',
      'worker_sekoia_requests_total{endpoint="getCollection",status="ok"} 1',
      'worker_create_batch_size_count 1',
      'worker_values_total{action="created"} 1',
      'worker_dirty_values 0',
      'worker_circuit_open{reason=""} 0',
      'worker_quota_full 0',
      'worker_collection_iocs{kind="used"} ',
    ])
      expect(text).toContain(line);
  });
});
