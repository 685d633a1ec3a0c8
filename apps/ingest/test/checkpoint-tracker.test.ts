import { describe, expect, it } from 'vitest';
import { CheckpointTracker } from '../src/checkpoint-tracker.ts';

type Step = ['msg', string] | ['flush'] | ['hb', string] | ['expect', string];

function run(start: string, steps: Step[]): string[] {
  const t = new CheckpointTracker(start);
  let lastSeq = 0;
  const seen: string[] = [];
  for (const s of steps) {
    if (s[0] === 'msg') lastSeq = t.received(s[1]);
    else if (s[0] === 'flush') t.flushed(lastSeq);
    else if (s[0] === 'hb') t.heartbeat(s[1]);
    else seen.push(t.checkpoint());
  }
  return seen;
}

describe('CheckpointTracker', () => {
  it.each<[string, Step[], string[]]>([
    ['nothing committed before a later id arrives', [['msg', '10-0'], ['flush'], ['expect', '']], ['0-0']],
    [
      'an id is committed once flushed and followed by a larger id',
      [['msg', '10-0'], ['flush'], ['msg', '11-0'], ['expect', '']],
      ['10-0'],
    ],
    [
      'not committed while its jobs are not in Redis',
      [['msg', '10-0'], ['msg', '11-0'], ['expect', ''], ['flush'], ['expect', '']],
      ['0-0', '10-0'],
    ],
    [
      'messages sharing an id (dependencies) are committed together',
      [
        ['msg', '10-0'],
        ['msg', '10-0'],
        ['msg', '10-0'],
        ['flush'],
        ['expect', ''],
        ['msg', '12-0'],
        ['expect', ''],
      ],
      ['0-0', '10-0'],
    ],
    [
      'numeric, not lexical, order',
      [
        ['msg', '9-0'],
        ['flush'],
        ['msg', '10-0'],
        ['expect', ''],
        ['flush'],
        ['msg', '10-1'],
        ['expect', ''],
      ],
      ['9-0', '10-0'],
    ],
    [
      'a heartbeat advances only when nothing is pending, to just before its millisecond',
      [['msg', '10-0'], ['hb', '15-0'], ['expect', ''], ['flush'], ['hb', '15-0'], ['expect', '']],
      ['0-0', '14-0'],
    ],
    [
      'a heartbeat carrying a group id (between dependencies and their event) never commits that group',
      [
        ['msg', '10-3'],
        ['flush'],
        ['hb', '10-3'],
        ['expect', ''],
        ['msg', '10-3'],
        ['flush'],
        ['msg', '11-0'],
        ['expect', ''],
      ],
      ['9-0', '10-3'],
    ],
    [
      'a heartbeat never moves the checkpoint back',
      [
        ['hb', '20-0'],
        ['hb', '19-0'],
        ['expect', ''],
      ],
      ['19-0'],
    ],
    [
      'after a heartbeat the next message completes nothing older',
      [['hb', '20-0'], ['msg', '21-0'], ['flush'], ['msg', '22-0'], ['expect', '']],
      ['21-0'],
    ],
  ])('%s', (_name, steps, expected) => {
    expect(run('0-0', steps)).toEqual(expected);
  });

  it('counts pending messages', () => {
    const t = new CheckpointTracker('0-0');
    t.received('1-0');
    const s = t.received('2-0');
    expect(t.pending()).toBe(2);
    t.flushed(s);
    expect(t.pending()).toBe(0);
  });
});
