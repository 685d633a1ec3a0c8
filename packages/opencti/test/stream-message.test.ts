import { describe, expect, it } from 'vitest';
import { classifyEvent, isDataEvent } from '../src/index.ts';

describe('classifyEvent', () => {
  it.each([
    ['create', 'data'],
    ['update', 'data'],
    ['delete', 'data'],
    ['merge', 'data'],
    ['heartbeat', 'heartbeat'],
    ['connected', 'connected'],
    ['consumer_metrics', 'consumer-metrics'],
    ['no-recover', 'no-recover'],
    ['error', 'stream-error'],
    ['sync', 'unknown-event'],
    ['CREATE', 'unknown-event'],
    ['', 'unknown-event'],
  ])('%j → %s', (event, want) => {
    expect(classifyEvent(event)).toBe(want);
    expect(isDataEvent(event)).toBe(want === 'data');
  });
});
