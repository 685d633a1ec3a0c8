import { describe, expect, it } from 'vitest';
import {
  boardApiRoutes,
  decideRoute,
  LOSES_WORK,
  matchRoute,
  type QueueRole,
  ROUTE_POLICY,
} from '../src/route-guard.ts';

const roleOf = (q: string): QueueRole | undefined =>
  q.endsWith('dead-letters') ? 'dead-letters' : q.endsWith('indicators') ? 'indicators' : undefined;
const normal = { readOnly: false, roleOf };
const readOnly = { readOnly: true, roleOf };

describe('the route table', () => {
  it('names every route of @bull-board/api, and nothing else', () => {
    const declared = boardApiRoutes().map((r) => `${r.method} ${r.route}`);
    // A route added by a Bull Board upgrade must be decided here before the dashboard serves it.
    expect([...declared].sort()).toEqual(Object.keys(ROUTE_POLICY).sort());
    expect(declared).toContain('PUT /api/queues/:queueName/:jobId/clean');
  });

  it('matches a request to the route Express would serve (first match, decoded parameters)', () => {
    expect(matchRoute('PUT', '/api/queues/c1%20%C2%B7%20dead-letters/retry/failed')).toEqual({
      route: 'PUT /api/queues/:queueName/retry/:queueStatus',
      params: { queueName: 'c1 · dead-letters', queueStatus: 'failed' },
    });
    expect(matchRoute('PUT', '/api/queues/q/job-1/clean/')?.route).toBe(
      'PUT /api/queues/:queueName/:jobId/clean',
    );
    expect(matchRoute('PUT', '/API/Queues/q/job-1/Clean')?.route).toBe(
      'PUT /api/queues/:queueName/:jobId/clean',
    );
    expect(matchRoute('HEAD', '/api/queues')?.route).toBe('GET /api/queues');
    expect(matchRoute('DELETE', '/api/queues/q')).toBeUndefined();
  });
});

describe('decideRoute', () => {
  const losesWork: Array<[string, string]> = [
    ['PUT', '/api/queues/c1%20indicators/123/clean'],
    ['PUT', '/api/queues/c1%20dead-letters/event-1/clean'],
    ['PUT', '/api/queues/c1%20dead-letters/clean/failed'],
    ['PUT', '/api/queues/c1%20indicators/clean/completed'],
    ['PUT', '/api/queues/c1%20indicators/clean/delayed'],
    ['PUT', '/api/queues/q/empty'],
    ['PUT', '/api/queues/q/obliterate'],
    ['PATCH', '/api/queues/q/123/update-data'],
    ['PATCH', '/api/queues/q/123/delay'],
    ['PATCH', '/api/queues/q/123/priority'],
    ['PUT', '/api/queues/q/123/promote'],
    ['PUT', '/api/queues/q/promote'],
    ['PUT', '/api/queues/q/123/remove-unprocessed-children'],
  ];
  it.each(losesWork)('refuses %s %s in both modes with the one "would lose work" message', (method, path) => {
    expect(decideRoute(method, path, normal)).toEqual({ allow: false, why: LOSES_WORK });
    expect(decideRoute(method, path, readOnly)).toEqual({ allow: false, why: LOSES_WORK });
  });

  it.each([
    ['POST', '/api/queues/c1%20%C2%B7%20indicators/add'],
    ['PUT', '/api/queues/pause'],
    ['PUT', '/api/queues/resume'],
    ['PUT', '/api/queues/q/pause'],
    ['PUT', '/api/queues/q/resume'],
    ['PUT', '/api/queues/q/rate-limit'],
    ['PUT', '/api/queues/q/rate-limit/release'],
    ['PUT', '/api/queues/q/concurrency'],
    ['PUT', '/api/queues/q/job-schedulers/s/run'],
    ['PUT', '/api/queues/c1%20indicators/123/retry'],
    ['PUT', '/api/queues/c1%20indicators/retry/failed'],
    ['POST', '/api/metrics/history/purge'],
    ['DELETE', '/api/queues/q'],
    ['POST', '/api/anything'],
    ['PUT', '/'],
  ])('refuses %s %s in normal mode', (method, path) => {
    expect(decideRoute(method, path, normal).allow).toBe(false);
  });

  it.each([
    ['GET', '/api/queues'],
    ['GET', '/api/queues/q/123'],
    ['HEAD', '/api/queues/q/123/logs'],
    ['GET', '/'],
    ['GET', '/queue/c1%20indicators'],
    ['GET', '/static/js/main.js'],
  ])('allows %s %s in both modes', (method, path) => {
    expect(decideRoute(method, path, normal)).toEqual({ allow: true });
    expect(decideRoute(method, path, readOnly)).toEqual({ allow: true });
  });

  it('refuses an API path that is not a Bull Board route, even for reading', () => {
    expect(decideRoute('GET', '/api/not-a-route', normal).allow).toBe(false);
  });

  it('routes dead-letter retries to the dead-letter API, in normal mode only', () => {
    expect(decideRoute('PUT', '/api/queues/c1%20dead-letters/abc/retry', normal)).toEqual({
      allow: true,
      action: 'replay-dead-letter',
      queueName: 'c1 dead-letters',
      jobId: 'abc',
    });
    expect(decideRoute('PUT', '/api/queues/c1%20dead-letters/retry/failed', normal)).toEqual({
      allow: true,
      action: 'replay-all-dead-letters',
      queueName: 'c1 dead-letters',
    });
    expect(decideRoute('PUT', '/api/queues/c1%20dead-letters/abc/retry', readOnly).allow).toBe(false);
    expect(decideRoute('PUT', '/api/queues/c1%20dead-letters/retry/failed', readOnly).allow).toBe(false);
  });
});
