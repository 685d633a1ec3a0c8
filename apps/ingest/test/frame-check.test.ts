import { describe, expect, it } from 'vitest';
import { checkFrame } from '../src/frame-check.ts';

describe('checkFrame', () => {
  it.each([
    ['create', '1700000000000-0', '1600000000000-0', undefined],
    ['create', '1700000000000-0', '1700000000000-0', undefined],
    ['create', '1700000000000-0', undefined, undefined],
    ['heartbeat', undefined, undefined, undefined],
    ['connected', undefined, undefined, undefined],
    ['create', undefined, undefined, { problem: 'no-id', action: 'dead-letter' }],
    ['merge', '', undefined, { problem: 'no-id', action: 'dead-letter' }],
    ['update', 'not-an-id', undefined, { problem: 'unparsable-id', action: 'dead-letter' }],
    ['delete', '17e3-0', undefined, { problem: 'unparsable-id', action: 'dead-letter' }],
    ['heartbeat', 'garbage', undefined, { problem: 'unparsable-id', action: 'skip' }],
    ['create', '1000-0', '1700000000000-0', { problem: 'id-backwards', action: 'continue' }],
    ['create', '1700000000000-0', '1700000000000-1', { problem: 'id-backwards', action: 'continue' }],
    ['heartbeat', '1000-0', '1700000000000-0', undefined],
    ['no-recover', '1000-0', '1700000000000-0', undefined],
  ] as const)('%s id=%j after %j → %j', (event, id, previous, want) => {
    const verdict = checkFrame(event, id, previous);
    if (want === undefined) expect(verdict).toBeUndefined();
    else expect(verdict).toMatchObject(want);
  });
});
