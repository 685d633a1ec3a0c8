// The OpenCTI stream client (packages/opencti) against the simulator, over real SSE. It lives here, not in
// packages/opencti, because the simulators depend on the opencti vocabulary (via model): a test dependency of
// opencti on the simulators would make a workspace cycle.
import {
  type ConnectedInfo,
  type OpenStreamOptions,
  openStream,
  type StreamHandle,
  type StreamMessage,
  type StreamStatus,
} from '@octi-sekoia/opencti';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type OpenCtiSimulator, type OpenCtiSimulatorOptions, startOpenCtiSimulator } from '../src/index.ts';

const sims: OpenCtiSimulator[] = [];
const handles: StreamHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) h.close();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(opts: OpenCtiSimulatorOptions = {}): Promise<OpenCtiSimulator> {
  const s = await startOpenCtiSimulator({ heartbeatMs: 50, ...opts });
  sims.push(s);
  return s;
}

function reader(s: OpenCtiSimulator, overrides: Partial<OpenStreamOptions> = {}) {
  const messages: StreamMessage[] = [];
  const statuses: StreamStatus[] = [];
  const connected: ConnectedInfo[] = [];
  const handle = openStream({
    url: s.url,
    token: s.token,
    streamId: s.streamId,
    lastEventId: '0-0',
    listenDelete: true,
    noDependencies: true,
    withInferences: false,
    heartbeatTimeoutMs: 3000,
    backoff: { baseMs: 20, maxMs: 200 },
    onMessage: (m) => {
      messages.push(m);
    },
    onConnected: (i) => {
      connected.push(i);
    },
    onStatus: (st) => {
      statuses.push(st);
    },
    ...overrides,
  });
  handles.push(handle);
  /** Live events (the envelope has a `type`), not dependencies, heartbeats or recovery. */
  const mains = () =>
    messages.filter(
      (m) => ['create', 'update', 'delete', 'merge'].includes(m.event) && JSON.parse(m.data).type,
    );
  const firstOccurrences = () => [...new Set(mains().map((m) => m.id))];
  return { handle, messages, statuses, connected, mains, firstOccurrences };
}

const ip = (n: number) => `[ipv4-addr:value = '203.0.113.${n}']`;
const states = (r: { statuses: StreamStatus[] }) => r.statuses.map((s) => s.state);

describe('openStream against the OpenCTI simulator', () => {
  it('sends the stream headers and Last-Event-ID, never a from parameter; connected first, then in order', async () => {
    const s = await sim();
    const refs = [1, 2, 3].map((n) => s.control.createIndicator({ pattern: ip(n) }));
    const r = reader(s, { listenDelete: false, withInferences: true });
    await waitFor(() => r.firstOccurrences().length === 3, { what: 'three events' });
    expect(r.firstOccurrences()).toEqual(refs.map((x) => x.eventId));
    expect(r.connected).toHaveLength(1);
    expect(r.connected[0]?.firstEventId).toBe(refs[0]?.eventId);
    const [attempt] = s.control.connectionLog();
    expect(attempt?.headers).toMatchObject({
      authorization: 'Bearer ***',
      accept: 'text/event-stream',
      'cache-control': 'no-cache',
      'last-event-id': '0-0',
      'listen-delete': 'false',
      'no-dependencies': 'true',
      'with-inferences': 'true',
    });
    expect(attempt?.url).toBe(`/stream/${s.streamId}`);
    expect(states(r)).toEqual(['connecting', 'open']);
  });

  it('resumes after cut connections (reset, clean EOF, mid-message) without losing anything; Last-Event-ID is the last complete id', async () => {
    // No heartbeat: one landing between an event and its cut proves the event's group complete, and the resume
    // point moves past it (a slow machine made that happen: the expected ids below assume no proof but the next data).
    const s = await sim({ heartbeatMs: 600_000 });
    const r = reader(s, { heartbeatTimeoutMs: 1_200_000 });
    const warm = s.control.createIndicator({ pattern: ip(1) });
    await waitFor(() => r.firstOccurrences().includes(warm.eventId), { what: 'warm-up event' });
    const expected = [warm.eventId];

    const waitConnections = (n: number) =>
      waitFor(() => s.control.connectionLog().length >= n && s.control.connections().length === 1, {
        what: `connection #${n}`,
      });

    // 1. Reset right after an event: the reconnect resends it (its group was not proven complete) and goes on.
    const a = s.control.createIndicator({ pattern: ip(2) });
    expected.push(a.eventId);
    await waitFor(() => r.firstOccurrences().includes(a.eventId), { what: 'a' });
    s.control.cutConnections({ mode: 'destroy' });
    await waitConnections(2);
    expect(s.control.connectionLog()[1]?.headers['last-event-id']).toBe(warm.eventId);

    // 2. Clean EOF.
    const b = s.control.createIndicator({ pattern: ip(3) });
    expected.push(b.eventId);
    await waitFor(() => r.firstOccurrences().includes(b.eventId), { what: 'b' });
    s.control.cutConnections({ mode: 'end' });
    await waitConnections(3);
    expect(s.control.connectionLog()[2]?.headers['last-event-id']).toBe(a.eventId);

    // 3. Mid-message: dependencies were sent on this connection already; c and d complete, e cut in half.
    const warm2 = s.control.createIndicator({ pattern: ip(4) });
    expected.push(warm2.eventId);
    await waitFor(() => r.firstOccurrences().includes(warm2.eventId), { what: 'warm2' });
    s.control.cutConnections({ mode: 'mid-message', afterMessages: 2 });
    const more = [5, 6, 7, 8].map((n) => s.control.createIndicator({ pattern: ip(n) }));
    expected.push(...more.map((m) => m.eventId));
    await waitConnections(4);
    // c's group is followed by d: c is the resume point (d may be incomplete as far as the client knows).
    expect(s.control.connectionLog()[3]?.headers['last-event-id']).toBe(more[0]?.eventId);

    await waitFor(() => r.firstOccurrences().length === expected.length, { what: 'every event' });
    expect(r.firstOccurrences()).toEqual(expected);
    // No half message was delivered: every delivered data parses.
    for (const m of r.messages) expect(() => JSON.parse(m.data)).not.toThrow();
    expect(r.statuses.filter((x) => x.state === 'retrying').length).toBeGreaterThanOrEqual(3);
  });

  it('a cut between dependency messages and their event does not lose the event (the library alone would)', async () => {
    const s = await sim();
    const before = s.control.createIndicator({ pattern: ip(1) });
    const r = reader(s, { lastEventId: before.eventId });
    await waitFor(() => s.control.connections().length === 1 && states(r).includes('open'), { what: 'open' });
    // Fresh connection: the next event comes as marking + identity dependencies, then the indicator, same id.
    s.control.cutConnections({ mode: 'mid-message', afterMessages: 1 });
    const e = s.control.createIndicator({ pattern: ip(2) });
    await waitFor(() => r.firstOccurrences().includes(e.eventId), { what: 'the event after the cut' });
    const log = s.control.connectionLog();
    // The marking dependency (id = e) arrived complete; resuming from e would skip the indicator.
    expect(
      r.messages.some((m) => m.id === e.eventId && JSON.parse(m.data).data.type === 'marking-definition'),
    ).toBe(true);
    expect(log[1]?.headers['last-event-id']).toBe(before.eventId);
  });

  it('a heartbeat carrying the shared id inside a dependency group does not make that id a resume point', async () => {
    const s = await sim({ switches: { heartbeatInsideDependencyGroups: true } });
    const before = s.control.createIndicator({ pattern: ip(1) });
    const r = reader(s, { lastEventId: before.eventId });
    await waitFor(() => s.control.connections().length === 1 && states(r).includes('open'), { what: 'open' });
    s.control.cutConnections({ mode: 'mid-message', afterMessages: 1 });
    const e = s.control.createIndicator({ pattern: ip(2) });
    await waitFor(() => r.firstOccurrences().includes(e.eventId), { what: 'the event after the cut' });
    expect(r.messages.some((m) => m.event === 'heartbeat' && m.id === e.eventId)).toBe(true);
    expect(s.control.connectionLog()[1]?.headers['last-event-id']).toBe(before.eventId);
  });

  it('401 is reported once while retrying; restoring the token recovers by itself', async () => {
    const s = await sim();
    const r = reader(s);
    await waitFor(() => states(r).includes('open'), { what: 'open' });
    s.control.revokeToken();
    s.control.cutConnections({ mode: 'destroy' });
    await waitFor(() => s.control.connectionLog().filter((a) => a.status === 401).length >= 3, {
      what: 'three 401 attempts',
    });
    const unauthorized = r.statuses.filter((x) => x.state === 'unauthorized');
    expect(unauthorized).toHaveLength(1);
    expect(unauthorized[0]?.httpStatus).toBe(401);
    expect(unauthorized[0]?.message).toContain('OPENCTI_TOKEN');
    expect(unauthorized[0]?.message).toContain('You are not authenticated');
    expect(r.handle.state()).toBe('unauthorized');
    s.control.restoreToken();
    await waitFor(() => r.handle.state() === 'open', { what: 'open again' });
    const x = s.control.createIndicator({ pattern: ip(9) });
    await waitFor(() => r.firstOccurrences().includes(x.eventId), { what: 'event after recovery' });
    for (const st of r.statuses) expect(st.message).not.toContain(s.token);
  });

  it('410 (stream stopped) is reported once; restarting the stream resumes', async () => {
    const s = await sim();
    const a = s.control.createIndicator({ pattern: ip(1) });
    const r = reader(s);
    await waitFor(() => r.firstOccurrences().includes(a.eventId), { what: 'a' });
    s.control.stopStream();
    await waitFor(() => s.control.connectionLog().filter((x) => x.status === 410).length >= 3, {
      what: '410s',
    });
    expect(r.statuses.filter((x) => x.state === 'stopped')).toHaveLength(1);
    const b = s.control.createIndicator({ pattern: ip(2) });
    s.control.startStream();
    await waitFor(() => r.firstOccurrences().includes(b.eventId), { what: 'b after restart' });
    expect(r.firstOccurrences()).toEqual([a.eventId, b.eventId]);
  });

  it('5xx answers are reported and retried', async () => {
    const s = await sim();
    s.control.failNextConnections({ status: 502, statusMessage: 'Bad Gateway', count: 3 });
    const a = s.control.createIndicator({ pattern: ip(1) });
    const r = reader(s);
    await waitFor(() => r.firstOccurrences().includes(a.eventId), { what: 'a after 502s' });
    expect(r.statuses.filter((x) => x.state === 'error' && x.httpStatus === 502)).toHaveLength(1);
    expect(r.statuses.find((x) => x.httpStatus === 502)?.message).toContain('Bad Gateway');
  });

  it('a silent connection (no heartbeat) is closed by the watchdog and reconnected', async () => {
    const s = await sim({ heartbeatMs: 40 });
    const r = reader(s, { heartbeatTimeoutMs: 300 });
    await waitFor(() => states(r).includes('open'), { what: 'open' });
    s.control.pauseHeartbeats({ paused: true });
    await waitFor(() => s.control.connectionLog().length >= 2, { what: 'a reconnection by the watchdog' });
    expect(r.statuses.some((x) => x.state === 'retrying' && x.message.includes('No message'))).toBe(true);
    s.control.pauseHeartbeats({ paused: false });
    const a = s.control.createIndicator({ pattern: ip(1) });
    await waitFor(() => r.firstOccurrences().includes(a.eventId), { what: 'event after the silence' });
  });

  it('recover goes in the query string on every connection and the recovery is delivered', async () => {
    const s = await sim();
    const a = s.control.createIndicator({ pattern: ip(1) });
    const b = s.control.createIndicator({ pattern: ip(2) });
    s.control.deleteIndicator({ internalId: b.internalId });
    const recover = new Date(Date.now() + 60_000).toISOString();
    const r = reader(s, { recover });
    await waitFor(() => r.messages.some((m) => JSON.parse(m.data).origin?.referer === 'init-create'), {
      what: 'recovery',
    });
    const recovered = r.messages.filter((m) => JSON.parse(m.data).origin?.referer === 'init-create');
    expect(recovered.map((m) => JSON.parse(m.data).data.id)).toEqual([a.stixId]);
    s.control.cutConnections({ mode: 'destroy' });
    await waitFor(() => s.control.connectionLog().length >= 2, { what: 'reconnection' });
    for (const attempt of s.control.connectionLog()) {
      expect(attempt.url).toBe(`/stream/${s.streamId}?recover=${encodeURIComponent(recover)}`);
      expect(attempt.url).not.toContain('from=');
    }
  });

  it('delivers strictly in order and waits for each returned promise (bounded buffering)', async () => {
    const s = await sim();
    const refs = Array.from({ length: 120 }, (_, i) => s.control.createIndicator({ pattern: ip(i) }));
    let inFlight = 0;
    let maxInFlight = 0;
    const seen: string[] = [];
    reader(s, {
      maxBufferedMessages: 5,
      onMessage: async (m) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // A slow consumer: yield to the event loop a few times.
        for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
        if (m.id && JSON.parse(m.data).type) seen.push(m.id);
        inFlight--;
      },
    });
    await waitFor(() => seen.length === refs.length, { what: 'all events' });
    expect(seen).toEqual(refs.map((x) => x.eventId));
    expect(maxInFlight).toBe(1);
  });

  it('passes unknown and newer event types through; a server error event reconnects', async () => {
    const s = await sim({ switches: { unknownEvents: true, consumerMetrics: true } });
    const r = reader(s);
    await waitFor(
      () =>
        r.messages.some((m) => m.event === 'unknown_future_event') &&
        r.messages.some((m) => m.event === 'consumer_metrics'),
      { what: 'newer events' },
    );
    s.control.sendErrorEvent({ message: 'boom' });
    await waitFor(() => s.control.connectionLog().length >= 2, { what: 'reconnect after error event' });
    expect(r.messages.some((m) => m.event === 'error' && m.id === undefined)).toBe(true);
    expect(r.statuses.some((x) => x.state === 'retrying' && x.message.includes('boom'))).toBe(true);
  });

  it('a failing handler makes it read again from the last accepted id: the message is delivered again', async () => {
    const s = await sim();
    const refs = [1, 2, 3, 4].map((n) => s.control.createIndicator({ pattern: ip(n) }));
    let failed = false;
    const accepted: string[] = [];
    const r = reader(s, {
      onMessage: (m) => {
        if (!m.id || !JSON.parse(m.data).type) return;
        if (m.id === refs[2]?.eventId && !failed) {
          failed = true;
          throw new Error('redis unavailable');
        }
        accepted.push(m.id);
      },
    });
    await waitFor(() => accepted.includes(refs[3]?.eventId as string), { what: 'all accepted' });
    expect([...new Set(accepted)]).toEqual(refs.map((x) => x.eventId));
    expect(r.statuses.some((x) => x.state === 'error' && x.message.includes('redis unavailable'))).toBe(true);
    // Rewound to the last group known complete before the failure.
    expect(s.control.connectionLog()[1]?.headers['last-event-id']).toBe(refs[0]?.eventId);
  });

  it('close() stops reading and reconnecting', async () => {
    const s = await sim();
    const r = reader(s);
    await waitFor(() => states(r).includes('open'), { what: 'open' });
    r.handle.close();
    await waitFor(() => s.control.connections().length === 0, { what: 'connection closed' });
    // A second reader with the same backoff shows how long a reconnection takes: the closed one must not make one.
    const r2 = reader(s);
    await waitFor(() => states(r2).includes('open'), { what: 'second reader open' });
    s.control.cutConnections({ mode: 'destroy' });
    const a = s.control.createIndicator({ pattern: ip(1) });
    await waitFor(() => r2.firstOccurrences().includes(a.eventId), { what: 'second reader reconnected' });
    expect(s.control.connectionLog()).toHaveLength(3);
    expect(r.messages.some((m) => m.id === a.eventId)).toBe(false);
  });
});
