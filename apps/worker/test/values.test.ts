import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectedOf, jobsOf, Stack, Story } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let stack: Stack;
let story: Story;
beforeEach(async () => {
  stack = await Stack.start();
  story = await Story.start();
  await stack.startService();
});
afterEach(async () => {
  await stack.close();
  await story.close();
});

/** Enqueues the jobs of what the story wrote since the last step and waits until they are applied. */
async function step() {
  await stack.enqueue(jobsOf(story.take()));
  await stack.waitIdle(20_000);
  expect(stack.diff(expectedOf(story.all()))).toEqual(CONVERGED);
}

const live = (value: string) =>
  stack.sim.control.indicators().filter((i) => i.canonical === value && !i.revoked);
const revoked = (value: string) =>
  stack.sim.control.indicators().filter((i) => i.canonical === value && i.revoked);

describe('values shared by indicators, pattern changes', () => {
  it('a value shared by two indicators survives the deletion of one and is revoked with the second', async () => {
    const c = story.control;
    const a = c.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.7']", description: 'A' });
    const b = c.createIndicator({
      pattern: "[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'shared.example']",
      description: 'B',
    });
    await step();
    expect(live('198.51.100.7')).toHaveLength(1);
    expect(live('shared.example')).toHaveLength(1);
    const id = live('198.51.100.7')[0]!.id;

    c.deleteIndicator({ internalId: a.internalId });
    await step();
    // Still live, same Sekoia indicator (no revoke + create), now with B's attributes (the oracle checks them).
    expect(live('198.51.100.7').map((i) => i.id)).toEqual([id]);
    expect(stack.sim.control.requestCount('revoke-indicator')).toBe(0);

    c.deleteIndicator({ internalId: b.internalId });
    await step();
    expect(live('198.51.100.7')).toEqual([]);
    expect(revoked('198.51.100.7').map((i) => i.id)).toEqual([id]);
    expect(live('shared.example')).toEqual([]);
  });

  it('a pattern change revokes the old value and creates the new one; a non-exportable pattern revokes all', async () => {
    const c = story.control;
    const ind = c.createIndicator({
      pattern: "[domain-name:value = 'old.example' OR url:value = 'http://keep.example/x']",
    });
    await step();
    expect(live('old.example')).toHaveLength(1);

    c.changePattern({
      internalId: ind.internalId,
      pattern: "[domain-name:value = 'new.example' OR url:value = 'http://keep.example/x']",
    });
    await step();
    expect(live('old.example')).toEqual([]);
    expect(revoked('old.example')).toHaveLength(1);
    expect(live('new.example')).toHaveLength(1);
    expect(live('http://keep.example/x')).toHaveLength(1);
    expect(revoked('http://keep.example/x')).toEqual([]);

    c.changePattern({
      internalId: ind.internalId,
      pattern: 'rule evil { condition: true }',
      patternType: 'yara',
    });
    await step();
    expect(live('new.example')).toEqual([]);
    expect(live('http://keep.example/x')).toEqual([]);
    expect(stack.sim.control.liveValues()).toEqual([]);
  });
});
