import { describe, expect, it } from 'vitest';
import { decideRoute } from '../src/route-guard.ts';

const isDlq = (q: string) => q.endsWith('dead-letters');
const normal = { readOnly: false, isDeadLetterQueue: isDlq };
const readOnly = { readOnly: true, isDeadLetterQueue: isDlq };

describe('decideRoute', () => {
  it.each([
    ['POST', '/api/queues/c1%20%C2%B7%20indicators/add'],
    ['PATCH', '/api/queues/q/123/update-data'],
    ['PATCH', '/api/queues/q/123/delay'],
    ['PATCH', '/api/queues/q/123/priority'],
    ['PUT', '/api/queues/pause'],
    ['PUT', '/api/queues/resume'],
    ['PUT', '/api/queues/q/pause'],
    ['PUT', '/api/queues/q/resume'],
    ['PUT', '/api/queues/q/rate-limit'],
    ['PUT', '/api/queues/q/rate-limit/release'],
    ['PUT', '/api/queues/q/concurrency'],
    ['PUT', '/api/queues/q/empty'],
    ['PUT', '/api/queues/q/obliterate'],
    ['PUT', '/api/queues/q/promote'],
    ['PUT', '/api/queues/q/123/promote'],
    ['PUT', '/api/queues/q/job-schedulers/s/run'],
    ['PUT', '/api/queues/indicators/123/retry'],
    ['PUT', '/api/queues/indicators/retry/failed'],
    ['DELETE', '/api/queues/q'],
  ])('refuses %s %s in normal mode', (method, path) => {
    expect(decideRoute(method, path, normal).allow).toBe(false);
  });

  it.each([
    ['GET', '/api/queues'],
    ['GET', '/api/queues/q/123'],
    ['PUT', '/api/queues/x%20dead-letters/123/clean'],
  ])('allows %s %s', (method, path) => {
    expect(decideRoute(method, path, normal).allow).toBe(true);
  });

  it('routes dead-letter retries to the dead-letter API', () => {
    expect(decideRoute('PUT', '/api/queues/c1%20dead-letters/abc/retry', normal)).toEqual({
      allow: true,
      action: 'replay-dead-letter',
    });
    expect(decideRoute('PUT', '/api/queues/c1%20dead-letters/retry/failed', normal)).toEqual({
      allow: true,
      action: 'replay-all-dead-letters',
    });
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('read-only mode refuses every %s', (method) => {
    for (const path of [
      '/api/queues/x%20dead-letters/abc/retry',
      '/api/queues/q/1/clean',
      '/api/queues/q/add',
    ]) {
      expect(decideRoute(method, path, readOnly).allow).toBe(false);
    }
  });
});
