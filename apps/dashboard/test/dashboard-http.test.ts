import { addDeadLetter, connectorsKey, keys } from '@octi-sekoia/queue';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boardApiRoutes, boardPageRoutes, LOSES_WORK } from '../src/route-guard.ts';
import { API_KEY, basic, CONNECTOR_ID, dlqName, mainName, startDashboard } from './helpers.ts';

let r: TestRedis;
let d: Awaited<ReturnType<typeof startDashboard>>;
beforeEach(async () => {
  r = await testRedis('dashboard');
});
afterEach(async () => {
  await d?.close();
  await r.cleanup();
});

describe('authentication', () => {
  it('answers 401 without or with wrong credentials, 200 with them; /healthz stays open', async () => {
    d = await startDashboard(r);
    const anon = await fetch(`${d.url}/board/`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await fetch(`${d.url}/board/api/queues`)).status).toBe(401);
    const wrong = await fetch(`${d.url}/board/api/queues`, {
      headers: { authorization: basic('operator', 'nope') },
    });
    expect(wrong.status).toBe(401);
    const wrongUser = await fetch(`${d.url}/board/api/queues`, {
      headers: { authorization: basic('admin', 'correct-horse-battery') },
    });
    expect(wrongUser.status).toBe(401);
    const ok = await d.get('/board/api/queues');
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { queues: Array<{ name: string }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(
      [decodeURIComponent(dlqName), decodeURIComponent(mainName)].sort(),
    );
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
  });

  it('sends security headers', async () => {
    d = await startDashboard(r);
    const res = await d.get('/board/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it.each([['basic'], ['BASIC'], ['bAsIc']])(
    'accepts the scheme written %s (RFC 7235: case-insensitive)',
    async (scheme) => {
      d = await startDashboard(r);
      const header = basic('operator', 'correct-horse-battery').replace(/^Basic/, scheme);
      expect((await fetch(`${d.url}/board/api/queues`, { headers: { authorization: header } })).status).toBe(
        200,
      );
      const wrong = basic('operator', 'nope').replace(/^Basic/, scheme);
      expect((await fetch(`${d.url}/board/api/queues`, { headers: { authorization: wrong } })).status).toBe(
        401,
      );
    },
  );
});

describe('the page', () => {
  it('loads nothing from another origin and allows no inline script or stylesheet', async () => {
    d = await startDashboard(r);
    const res = await d.get('/board/');
    const csp = res.headers.get('content-security-policy') ?? '';
    const directive = (name: string) =>
      csp
        .split(';')
        .map((x) => x.trim())
        .find((x) => x.startsWith(`${name} `));
    expect(directive('default-src')).toBe("default-src 'none'");
    expect(directive('script-src')).toBe("script-src 'self'");
    // Own stylesheets, and inline ones only by hash (the Redis logo's colours).
    expect(directive('style-src')).toMatch(/^style-src 'self'( 'sha256-[A-Za-z0-9+/=]+')*$/);
    expect(csp).not.toContain('unsafe');
    expect(directive('font-src')).toBe("font-src 'self'");
    expect(csp).not.toMatch(/https?:/);
    const html = await res.text();
    expect(html).not.toMatch(/(href|src)="(https?:)?\/\//);
    expect(html).not.toMatch(/<style|style="/);
    // Scripts only from files (the JSON data block is not executed).
    expect(
      [...html.matchAll(/<script\b[^>]*>/g)].every((m) => /\bsrc=|type="application\/json"/.test(m[0])),
    ).toBe(true);
    const css = await d.get('/board/dashboard.css');
    expect(css.status).toBe(200);
    expect(await css.text()).toContain('lucide-trash');
  });
});

const writes: Array<[string, string]> = [
  ['POST', `/board/api/queues/${mainName}/add`],
  ['PATCH', `/board/api/queues/${mainName}/job-1/update-data`],
  ['PATCH', `/board/api/queues/${mainName}/job-1/delay`],
  ['PATCH', `/board/api/queues/${mainName}/job-1/priority`],
  ['PUT', `/board/api/queues/${mainName}/pause`],
  ['PUT', `/board/api/queues/${mainName}/resume`],
  ['PUT', '/board/api/queues/pause'],
  ['PUT', '/board/api/queues/resume'],
  ['PUT', `/board/api/queues/${mainName}/rate-limit`],
  ['PUT', `/board/api/queues/${mainName}/rate-limit/release`],
  ['PUT', `/board/api/queues/${mainName}/empty`],
  ['PUT', `/board/api/queues/${mainName}/obliterate`],
];

describe('routes', () => {
  it.each(writes)('refuses %s %s in normal mode and adds nothing', async (method, path) => {
    d = await startDashboard(r);
    const res = await d.get(path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', data: { kind: 'indicator', eventId: '99999999999999-0' } }),
    });
    expect(res.status).toBe(403);
    expect(await d.queues.indicators.count()).toBe(0);
    expect(await d.queues.indicators.isPaused()).toBe(false);
  });

  it('in read-only mode refuses every non-GET route, including sending a dead letter back', async () => {
    d = await startDashboard(r, { readOnly: true });
    const id = await addDeadLetter(d.queues, {
      kind: 'value',
      payload: { value: '203.0.113.9', reason: 'rejected' },
      error: 'x',
    });
    for (const [method, path] of [
      ...writes,
      ['PUT', `/board/api/queues/${dlqName}/${id}/retry`],
      ['PUT', `/board/api/queues/${dlqName}/retry/failed`],
      ['PUT', `/board/api/queues/${dlqName}/${id}/clean`],
      ['DELETE', `/board/api/queues/${dlqName}/${id}`],
    ] as Array<[string, string]>) {
      expect((await d.get(path, { method })).status, `${method} ${path}`).toBe(403);
    }
    expect(await d.queues.deadLetters.getJob(id)).toBeDefined();
    expect((await d.get('/board/api/queues')).status).toBe(200);
  });
});

type Mode = 'normal' | 'read-only';
/** The rule, said once for the table: reads pass; the only write is sending dead letters back, in normal mode. */
const expected = (method: string, route: string, queue: 'indicators' | 'dead-letters' | '-', mode: Mode) =>
  method === 'GET' ||
  (mode === 'normal' && queue === 'dead-letters' && /\/(:jobId\/retry|retry\/:queueStatus)$/.test(route))
    ? 'allowed'
    : 'refused';

describe('every Bull Board route, both modes (table from @bull-board/api)', () => {
  it.each(['normal', 'read-only'] as const)(
    '%s mode: each route allowed or refused as the table says, nothing lost',
    async (mode) => {
      d = await startDashboard(r, { readOnly: mode === 'read-only' });
      const job = { kind: 'sweep' as const, generation: 1, eventId: '1-0' };
      const waiting = await d.queues.indicators.add('sweep', job, { jobId: 'g1-1-0-sweep' });
      const delayed = await d.queues.indicators.add(
        'sweep',
        { ...job, eventId: '2-0' },
        {
          jobId: 'g1-2-0-sweep',
          delay: 3_600_000,
        },
      );
      const addLetter = () =>
        addDeadLetter(d.queues, {
          kind: 'event',
          payload: { id: '5-0', event: 'create', data: '{' },
          error: 'bad JSON',
        });
      const letter = await addLetter();
      // The dashboard's parker moves it to "failed", where the UI shows it.
      await waitFor(async () => (await d.queues.deadLetters.getJobCounts('failed')).failed === 1, {
        what: 'the dead letter parked in failed',
      });
      const snapshot = async () => ({
        waiting: (await d.queues.indicators.getJob(waiting.id as string))?.data,
        delayed: (await d.queues.indicators.getJob(delayed.id as string))?.data,
        counts: await d.queues.indicators.getJobCounts('waiting', 'delayed', 'failed', 'completed'),
        paused: await d.queues.indicators.isPaused(),
        letter: (await d.queues.deadLetters.getJob(letter))?.data,
        letterState: await d.queues.deadLetters.getJobState(letter),
      });
      const before = await snapshot();

      const cases: Array<{
        method: string;
        route: string;
        queue: 'indicators' | 'dead-letters' | '-';
        path: string;
      }> = [];
      const routes = [
        ...boardApiRoutes(),
        ...boardPageRoutes().map((route) => ({ method: 'GET', route: route.replace(/^\/?/, '/') })),
      ];
      for (const { method, route } of routes) {
        const queues = route.includes(':queueName')
          ? (['indicators', 'dead-letters'] as const)
          : (['-'] as const);
        for (const queue of queues) {
          const path = route
            .replace(':queueName', queue === 'dead-letters' ? dlqName : mainName)
            .replace(':jobId', queue === 'dead-letters' ? letter : (waiting.id as string))
            .replace(':queueStatus', queue === 'dead-letters' ? 'failed' : 'delayed')
            .replace(':schedulerId', 'scheduler-1');
          cases.push({ method, route, queue, path });
        }
      }
      expect(cases.length).toBeGreaterThan(60);
      const want = cases.map(
        (c) => `${c.method} ${c.route} [${c.queue}] → ${expected(c.method, c.route, c.queue, mode)}`,
      );
      const got: string[] = [];
      const allowedWrites: typeof cases = [];
      for (const c of cases) {
        if (expected(c.method, c.route, c.queue, mode) === 'allowed' && c.method !== 'GET') {
          // Sending back removes the entry: done last, below, one at a time.
          allowedWrites.push(c);
          got.push(`${c.method} ${c.route} [${c.queue}] → allowed`);
          continue;
        }
        const res = await d.get(`/board${c.path}`, {
          method: c.method,
          headers: { 'content-type': 'application/json' },
          ...(c.method === 'GET'
            ? {}
            : {
                body: JSON.stringify({
                  name: 'x',
                  data: { kind: 'sweep', eventId: '9-0' },
                  delay: 0,
                  priority: 1,
                }),
              }),
        });
        got.push(`${c.method} ${c.route} [${c.queue}] → ${res.status === 403 ? 'refused' : 'allowed'}`);
        if (res.status === 403 && /clean|empty|obliterate|update-data/.test(c.route)) {
          expect(((await res.json()) as { error: string }).error, c.path).toBe(LOSES_WORK);
        }
        if (res.status !== 403) expect(res.status, `${c.method} ${c.path}`).toBeLessThan(500);
      }
      expect(got).toEqual(want);
      // Every refused request (and every read) left the queues as they were.
      expect(await snapshot()).toEqual(before);

      expect(allowedWrites.map((c) => `${c.method} ${c.route}`)).toEqual(
        mode === 'normal'
          ? ['PUT /api/queues/:queueName/retry/:queueStatus', 'PUT /api/queues/:queueName/:jobId/retry']
          : [],
      );
      for (const c of allowedWrites) {
        const res = await d.get(`/board${c.path}`, { method: c.method });
        expect(res.status, c.path).toBe(204);
        // Sent back (the raw event is queued for ingest to read again), not lost.
        expect(await d.queues.deadLetters.getJob(letter)).toBeUndefined();
        expect(await r.client.lrange(d.queues.keys.replayedEvents, 0, -1)).toContainEqual(
          expect.stringContaining('"5-0"'),
        );
        await r.client.del(d.queues.keys.replayedEvents);
        await addLetter();
      }
    },
  );
});

describe('redaction', () => {
  it('shows a failure reason that held the Sekoia API key with the key redacted', async () => {
    d = await startDashboard(r);
    // Stored without redaction on purpose (an old entry): the dashboard must still not show the key.
    const id = await addDeadLetter(d.queues, {
      kind: 'value',
      payload: { value: '198.51.100.7', reason: `401 from Sekoia: Authorization: Bearer ${API_KEY}` },
      error: `request failed with 401 (Authorization: Bearer ${API_KEY})`,
    });
    const res = await d.get(`/board/api/queues/${dlqName}/${id}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('198.51.100.7');
    expect(text).toContain('401');
    expect(text).not.toContain(API_KEY);
    const list = await (await d.get(`/board/api/queues?activeQueue=${dlqName}&status=latest&page=1`)).text();
    expect(list).not.toContain(API_KEY);
  });
});

describe('sending back', () => {
  it('routes Retry on a dead letter through the dead-letter API (value marked dirty, entry removed)', async () => {
    const dirtied: string[] = [];
    d = await startDashboard(r, { markValueDirty: async (_c, v) => void dirtied.push(v) });
    const id = await addDeadLetter(d.queues, {
      kind: 'value',
      payload: { value: '203.0.113.9', reason: 'rejected' },
      error: 'x',
    });
    const res = await d.get(`/board/api/queues/${dlqName}/${id}/retry`, { method: 'PUT' });
    expect(res.status).toBe(204);
    expect(dirtied).toEqual(['203.0.113.9']);
    expect(await d.queues.deadLetters.getJob(id)).toBeUndefined();
  });

  it('refuses Retry on the main queue (only dead letters are sent back)', async () => {
    d = await startDashboard(r);
    expect((await d.get(`/board/api/queues/${mainName}/some-job/retry`, { method: 'PUT' })).status).toBe(403);
  });
});

describe('failed jobs of the main queue', () => {
  it('shows a job that failed on a Sekoia 401 with its reason, the API key redacted', async () => {
    d = await startDashboard(r);
    const { Worker } = await import('bullmq');
    await d.queues.indicators.add(
      'upsert',
      { kind: 'sweep', generation: 1, eventId: '1-0' },
      { jobId: 'g1-1-0-sweep', attempts: 1 },
    );
    const worker = new Worker(
      d.queues.indicators.name,
      async () => {
        throw new Error(`Sekoia.io answered 401 to Authorization: Bearer ${API_KEY}`);
      },
      { connection: r.connect(), prefix: d.queues.keys.bullPrefix },
    );
    await waitFor(async () => (await d.queues.indicators.getJobCounts('failed')).failed === 1, {
      what: 'the failed job',
    });
    await worker.close();
    const res = await d.get(`/board/api/queues?activeQueue=${mainName}&status=failed&page=1`);
    const text = await res.text();
    expect(text).toContain('answered 401');
    expect(text).not.toContain(API_KEY);
  });
});

describe('stack traces', () => {
  it('show the reason only: no frame, no server path', async () => {
    d = await startDashboard(r);
    const { Worker } = await import('bullmq');
    await d.queues.indicators.add(
      'sweep',
      { kind: 'sweep', generation: 1, eventId: '3-0' },
      { jobId: 'g1-3-0-sweep', attempts: 1 },
    );
    const worker = new Worker(
      d.queues.indicators.name,
      async () => {
        throw new Error('Sekoia.io answered 503');
      },
      { connection: r.connect(), prefix: d.queues.keys.bullPrefix },
    );
    await waitFor(async () => (await d.queues.indicators.getJobCounts('failed')).failed === 1, {
      what: 'the failed job',
    });
    await worker.close();
    const stored = (await d.queues.indicators.getJob('g1-3-0-sweep'))?.stacktrace ?? [];
    expect(stored.join('\n')).toContain(import.meta.dirname);
    for (const path of [
      `/board/api/queues/${mainName}/g1-3-0-sweep`,
      `/board/api/queues?activeQueue=${mainName}&status=failed&page=1`,
    ]) {
      const text = await (await d.get(path)).text();
      expect(text, path).toContain('Error: Sekoia.io answered 503');
      expect(text, path).not.toContain(import.meta.dirname);
      expect(text, path).not.toMatch(/\s+at\s/);
    }
  });
});

describe('several connectors on one Redis', () => {
  it('shows the connector name and the queue role in the sidebar (the id until ingest has registered a name)', async () => {
    const other = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b';
    await r.client.sadd(connectorsKey(r.prefix), other);
    await r.client.hset(keys(r.prefix, CONNECTOR_ID).info, { name: 'Sekoia Intel', streamId: 's' });
    d = await startDashboard(r);
    const shown = async () =>
      (
        (await (await d.get('/board/api/queues')).json()) as {
          queues: Array<{ name: string; displayName: string }>;
        }
      ).queues
        .map((q) => q.displayName)
        .sort();
    expect(await shown()).toEqual(
      [
        'Sekoia Intel · dead letters',
        'Sekoia Intel · indicators',
        `${other} · dead letters`,
        `${other} · indicators`,
      ].sort(),
    );
    await r.client.hset(keys(r.prefix, other).info, { name: 'Second', streamId: 's' });
    await d.refresh();
    expect(await shown()).toEqual(
      [
        'Second · dead letters',
        'Second · indicators',
        'Sekoia Intel · dead letters',
        'Sekoia Intel · indicators',
      ].sort(),
    );
  });

  it('shows each registered connector as separate, clearly named queues', async () => {
    const other = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b';
    await r.client.sadd(connectorsKey(r.prefix), other);
    d = await startDashboard(r);
    const body = (await (await d.get('/board/api/queues')).json()) as { queues: Array<{ name: string }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(
      [
        decodeURIComponent(dlqName),
        decodeURIComponent(mainName),
        `${other} · dead-letters`,
        `${other} · indicators`,
      ].sort(),
    );
  });
});

describe('operations', () => {
  it('serves Prometheus metrics with the dead-letter count per connector', async () => {
    d = await startDashboard(r);
    await addDeadLetter(d.queues, {
      kind: 'value',
      payload: { value: '203.0.113.9', reason: 'x' },
      error: 'x',
    });
    await waitFor(
      async () =>
        /dashboard_dead_letters\{connector="[^"]+"\} 1/.test(await (await fetch(`${d.url}/metrics`)).text()),
      {
        what: 'the dead-letter gauge',
      },
    );
  });
});
