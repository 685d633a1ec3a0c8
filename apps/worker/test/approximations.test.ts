/**
 * Issue 14 point 2: where a Sekoia variant makes OpenCTI's exact state impossible, the value is written as close
 * as the API allows and reported once per value — however often it is written again, by however many workers —
 * never looped and never dead-lettered (docs/sekoia-behaviours.md rows 2, 3 and 8).
 */
import { Writable } from 'node:stream';
import { createLogger } from '@octi-sekoia/logger';
import { approximationCounts } from '@octi-sekoia/sekoia';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobsOf, Stack, Story } from './harness.ts';

let stack: Stack;
let story: Story;
beforeEach(async () => {
  // No profile (null never sent), a PUT that keeps what it does not name, custom kill chains refused.
  stack = await Stack.start({
    behavior: { putNull: 'keep', putMode: 'partial', killChainPhases: 'mitre-lockheed' },
  });
  story = await Story.start();
});
afterEach(async () => {
  await stack.close();
  await story.close();
});

function capturedLog() {
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger({ level: 'info', name: 'worker', destination }) };
}

const REPORT = 'written as close as Sekoia.io allows (reported once per value; docs/sekoia-behaviours.md)';

describe('values Sekoia cannot hold exactly', () => {
  it('are reported once per value and mode, whatever the number of writes and workers', async () => {
    const s = stack;
    const a = capturedLog();
    const b = capturedLog();
    await s.startService({}, {}, a.log);
    await s.startService({}, {}, b.log);
    const o = story.control;
    const chained = o.createIndicator({
      pattern: "[domain-name:value = 'chained.example']",
      validUntil: '2031-01-01T00:00:00.000Z',
      killChainPhases: [
        { kill_chain_name: 'acme-intrusion-chain', phase_name: 'staging' },
        { kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' },
      ],
    });
    const plain = o.createIndicator({
      pattern: "[domain-name:value = 'plain.example']",
      validUntil: '2031-01-01T00:00:00.000Z',
    });
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);

    // OpenCTI removes valid_until from both; then more edits of the same values (valid_from moved).
    for (const r of [chained, plain]) o.updateIndicator({ internalId: r.internalId, unset: ['valid_until'] });
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    for (let i = 0; i < 3; i++) {
      for (const r of [chained, plain])
        o.updateIndicator({
          internalId: r.internalId,
          set: { valid_from: `2026-0${i + 2}-01T00:00:00.000Z` },
        });
      await s.enqueue(jobsOf(story.take()));
      await s.waitIdle(20_000);
    }

    const sim = s.sim.control.indicators();
    expect(sim.map((i) => [i.canonical, i.valid_from, i.valid_until]).sort()).toEqual([
      ['chained.example', '2026-04-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z'],
      ['plain.example', '2026-04-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z'],
    ]);
    const reports = [...a.lines, ...b.lines]
      .filter((l) => l.msg === REPORT)
      .map((l) => `${l.mode} ${l.value}`)
      .sort();
    expect(reports).toEqual([
      'custom-kill-chains-dropped chained.example',
      'valid-until-kept chained.example',
      'valid-until-kept plain.example',
    ]);
    expect(await approximationCounts(s.r.client, s.keys.approximated)).toEqual({
      'custom-kill-chains-dropped': 1,
      'valid-until-kept': 2,
    });
    expect(
      JSON.parse((await s.r.client.hget(s.keys.approximated('valid-until-kept'), 'plain.example'))!),
    ).toMatchObject({
      detail: 'Sekoia.io keeps valid_until 2031-01-01T00:00:00.000Z',
    });
    expect(await s.deadLetters()).toEqual([]);
    // No loop: 4 edits of each value, the chained one's each sent twice (no profile: all phases first, refused,
    // then the known ones only — docs/sekoia-behaviours.md row 8).
    expect(s.sim.control.requestCount('edit-indicator')).toBe(4 + 4 * 2);
  });

  it('a value written exactly again is no longer counted as approximated', async () => {
    const s = stack;
    await s.startService();
    const o = story.control;
    const r = o.createIndicator({
      pattern: "[domain-name:value = 'again.example']",
      validUntil: '2031-01-01T00:00:00.000Z',
    });
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    o.updateIndicator({ internalId: r.internalId, unset: ['valid_until'] });
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    expect(await approximationCounts(s.r.client, s.keys.approximated)).toEqual({
      'custom-kill-chains-dropped': 0,
      'valid-until-kept': 1,
    });

    // OpenCTI gives it a valid_until again: Sekoia holds exactly that, nothing is approximated any more.
    o.updateIndicator({ internalId: r.internalId, set: { valid_until: '2032-01-01T00:00:00.000Z' } });
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    expect(s.sim.control.indicators().map((i) => i.valid_until)).toEqual(['2032-01-01T00:00:00.000Z']);
    expect(await approximationCounts(s.r.client, s.keys.approximated)).toEqual({
      'custom-kill-chains-dropped': 0,
      'valid-until-kept': 0,
    });
  });

  it('a value revoked (its indicators gone or revoked in OpenCTI) is no longer counted as approximated', async () => {
    const s = stack;
    await s.startService();
    const o = story.control;
    const made = ['revoked', 'deleted', 'kept'].map((name) =>
      o.createIndicator({
        pattern: `[domain-name:value = '${name}.example']`,
        validUntil: '2031-01-01T00:00:00.000Z',
        killChainPhases: [{ kill_chain_name: 'acme-intrusion-chain', phase_name: 'staging' }],
      }),
    );
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    for (const r of made) o.updateIndicator({ internalId: r.internalId, unset: ['valid_until'] });
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    const approximated = async (mode: 'custom-kill-chains-dropped' | 'valid-until-kept') =>
      Object.keys(await s.r.client.hgetall(s.keys.approximated(mode))).sort();
    expect(await approximated('valid-until-kept')).toEqual([
      'deleted.example',
      'kept.example',
      'revoked.example',
    ]);
    expect(await approximated('custom-kill-chains-dropped')).toEqual([
      'deleted.example',
      'kept.example',
      'revoked.example',
    ]);

    o.revokeIndicator({ internalId: made[0]!.internalId });
    o.deleteIndicator({ internalId: made[1]!.internalId });
    await s.enqueue(jobsOf(story.take()));
    await s.waitIdle(20_000);
    expect(
      s.sim.control
        .indicators()
        .filter((i) => !i.revoked)
        .map((i) => i.canonical),
    ).toEqual(['kept.example']);
    expect(await approximated('valid-until-kept')).toEqual(['kept.example']);
    expect(await approximated('custom-kill-chains-dropped')).toEqual(['kept.example']);
  });
});
