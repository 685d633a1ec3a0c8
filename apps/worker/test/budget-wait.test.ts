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

describe('a claim waiting for budget tokens (issue 13 case 10)', () => {
  it('case 10: an indicator changed while its claim waits for a token is edited once, with the new attributes', async () => {
    const s = stack;
    const service = await s.startService();
    await s.enqueue([upsert('a', '100-0', ['a.example'], { description: 'v1' })]);
    await s.waitIdle(30_000);
    const edits = () => s.sim.control.requestCount('edit-indicator');
    expect(edits()).toBe(0);

    // The shared budget stalls (a 429 elsewhere on the API key): v2 is claimed, an edit decided, and it waits for
    // its token with the value's lock held.
    await service.budget.pause(120_000);
    await s.enqueue([upsert('a', '101-0', ['a.example'], { description: 'v2' })]);
    await waitFor(async () => (await s.r.client.exists(s.keys.sync.lock('a.example'))) === 1, {
      timeoutMs: 30_000,
      what: 'a claim holding a.example',
    });
    // The indicator changes again meanwhile: v3 is recorded (the value is busy, so it only stays dirty).
    const v3 = upsert('a', '102-0', ['a.example'], { description: 'v3' });
    await s.enqueue([v3]);
    await waitFor(async () => (await s.queues.indicators.getJob(jobId(v3)))?.finishedOn, {
      timeoutMs: 30_000,
      what: 'v3 recorded',
    });
    // The budget comes back (pause and emptied bucket lifted).
    await s.r.client.del(service.budget.keys.pause, service.budget.keys.tat);
    await waitFor(async () => (await s.dirty()) === 0 && (await s.pending()) === 0 && edits() >= 1, {
      timeoutMs: 30_000,
      what: 'the queue and the dirty set to drain',
    });
    expect(
      s.sim.control
        .indicators()
        .filter((i) => !i.revoked)
        .map((i) => [i.canonical, i.description]),
    ).toEqual([['a.example', 'v3']]);
    // One edit: v2's attributes, outdated by the time the token came, never went out.
    expect(edits()).toBe(1);
  });
});
