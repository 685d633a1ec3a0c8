/**
 * Acceptance 2 and 8, in process against the simulator over HTTP and the real Redis: connection cuts (also in the
 * middle of a message, and between dependency messages and the event sharing their id) lose nothing; a
 * malformed event becomes a dead letter of kind `event` and the stream goes on.
 */
import { listDeadLetters } from '@octi-sekoia/queue';
import {
  applyScenario,
  type CutOptions,
  controlTarget,
  generateScenario,
  type OpenCtiSimulator,
  Rng,
  startOpenCtiSimulator,
} from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestService } from '../src/ingest-service.ts';
import { compare, expectedJobIds, inProcessIngest, jobIds, readWholeStream } from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator | undefined;
const services: IngestService[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-faults');
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await sim?.close();
  sim = undefined;
  await r.cleanup();
});

describe('ingest under stream faults', () => {
  it('20 connection cuts, also mid-message and between dependencies and their event, lose nothing', async () => {
    const seed = 2002;
    const rng = new Rng(seed + 1);
    const scenario = generateScenario({ seed, indicators: 1500 });
    const s = await startOpenCtiSimulator({
      heartbeatMs: 100,
      seed,
      switches: { heartbeatInsideDependencyGroups: true },
    });
    sim = s;
    const target = controlTarget(s.control);
    const steps = scenario.steps.length;
    let next = Math.floor(steps * 0.3);
    applyScenario(target, scenario, { to: next });
    const appendSteps = (n: number) => {
      const to = Math.min(steps, next + n);
      applyScenario(target, scenario, { from: next, to });
      next = to;
    };
    let authors = 0;
    /** An indicator by an author never sent on this connection: a dependency message, then the indicator. */
    const authoredIndicator = () => {
      const author = `identity--00000000-0000-4000-8000-${String(++authors).padStart(12, '0')}`;
      s.control.addObject({
        object: {
          id: author,
          type: 'identity',
          name: `Cut author ${authors}`,
          identity_class: 'organization',
        },
      });
      return s.control.createIndicator({
        pattern: `[domain-name:value = 'cut-${authors}.test']`,
        createdByRef: author,
      });
    };

    const { service, queues } = inProcessIngest(r, s, { batchSize: 100 });
    services.push(service);
    service.start();
    const opened = () => s.control.connectionLog().filter((a) => a.status === 200).length;
    const count = () => queues.indicators.count();

    const cuts: string[] = [];
    for (let i = 0; i < 20; i++) {
      await waitFor(() => s.control.connections().length === 1, { what: 'an open connection' });
      const before = opened();
      const jobsBefore = await count();
      if (i % 5 === 4) {
        // Caught up and idle: the next data frames are the new author (dependency) then its indicator; the cut
        // falls after the dependency message, in the middle of the indicator sharing its id.
        await waitFor(
          () => {
            const c = s.control.connections()[0];
            return c && compare(c.lastEventId ?? '0-0', s.control.streamInfo().lastEventId) >= 0;
          },
          { what: 'a caught-up connection' },
        );
        expect(s.control.cutConnections({ mode: 'mid-message', afterMessages: 1 })).toBe(1);
        const ref = authoredIndicator();
        cuts.push('dependency|event');
        // The dependency message arrived, its event did not: the next connection resumes before their shared id.
        await waitFor(() => opened() > before, { what: `reconnection after cut ${i + 1}` });
        const resumed = s.control.connectionLog().filter((a) => a.status === 200)[before]?.headers[
          'last-event-id'
        ];
        expect(compare(resumed ?? '', ref.eventId)).toBeLessThan(0);
      } else {
        const mode: CutOptions = [
          { mode: 'destroy' as const },
          { mode: 'end' as const },
          { mode: 'mid-message' as const, afterMessages: rng.int(0, 20) },
          {
            mode: 'mid-message' as const,
            afterMessages: rng.int(0, 5),
            frames: 'any' as const,
            ending: 'end' as const,
          },
        ][i % 5] as CutOptions;
        if (mode.mode === 'mid-message') {
          expect(s.control.cutConnections(mode)).toBe(1);
          appendSteps(60);
        } else {
          appendSteps(60);
          expect(s.control.cutConnections(mode)).toBe(1);
        }
        cuts.push(mode.mode);
      }
      // The cut happened and ingest reconnected by itself and made progress.
      await waitFor(() => opened() > before, { what: `reconnection after cut ${i + 1}` });
      await waitFor(async () => (await count()) > jobsBefore, { what: `progress after cut ${i + 1}` });
    }
    appendSteps(steps);
    // The connections of ingest (the oracle's own connection comes next).
    const attempts = s.control.connectionLog().filter((a) => a.status === 200);

    const messages = await readWholeStream(s);
    const expected = expectedJobIds(messages, s.url);
    await waitFor(async () => (await count()) >= expected.size, { what: `${expected.size} jobs` });
    const ids = await jobIds(queues);
    const got = new Set(ids);
    expect({
      missing: [...expected].filter((id) => !got.has(id)),
      unexpected: ids.filter((id) => !expected.has(id)),
    }).toEqual({ missing: [], unexpected: [] });
    expect(expected.size).toBeGreaterThan(2500);
    // 20 cuts, 20 reconnections (each from a committed checkpoint, never from the start again).
    expect(attempts.length).toBeGreaterThanOrEqual(21);
    expect(attempts.slice(1).every((a) => a.headers['last-event-id'] !== '0-0')).toBe(true);
    expect(cuts.filter((c) => c === 'mid-message').length).toBe(8);
  }, 120_000);

  it('a malformed event becomes a dead letter of kind event and the stream goes on', async () => {
    const s = await startOpenCtiSimulator({ heartbeatMs: 100 });
    sim = s;
    const { service, queues } = inProcessIngest(r, s);
    services.push(service);
    const first = s.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.1']" });
    const badJson = s.control.appendEvent({ event: 'create', data: '{"data": {"type": "indicator", "id": ' });
    // Valid JSON, but an indicator without its OpenCTI internal id.
    const noId = s.control.appendEvent({
      event: 'update',
      data: {
        version: '4',
        type: 'update',
        data: {
          id: 'indicator--7f1b0b3e-7a57-5d76-9b5b-1b3c5f1d2e3f',
          type: 'indicator',
          pattern: "[x:y = 'z']",
        },
      },
    });
    const after = s.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.2']" });
    service.start();

    await waitFor(async () => (await jobIds(queues)).some((id) => id.endsWith(after.internalId)), {
      what: 'the job of the indicator after the malformed events',
    });
    const ids = await jobIds(queues);
    expect(ids.sort()).toEqual(
      [`g1-${first.eventId}-${first.internalId}`, `g1-${after.eventId}-${after.internalId}`].sort(),
    );
    const dead = await waitFor(
      async () => {
        const l = await listDeadLetters(queues, { kind: 'event' });
        return l.length === 2 ? l : undefined;
      },
      { what: 'two dead letters' },
    );
    const bySubject = new Map(dead.map((d) => [d.subject, d]));
    expect(bySubject.get(badJson.id)).toMatchObject({
      kind: 'event',
      payload: { id: badJson.id, event: 'create', data: '{"data": {"type": "indicator", "id": ' },
      error: expect.stringContaining('not valid JSON'),
    });
    expect(bySubject.get(noId.id)).toMatchObject({
      kind: 'event',
      payload: { id: noId.id, event: 'update' },
    });
    // The checkpoint moved past them: they are kept, not retried forever.
    await waitFor(() => compare(service.checkpoint?.start_from ?? '0-0', noId.id) >= 0, {
      what: 'checkpoint past the malformed events',
    });
  });
});
