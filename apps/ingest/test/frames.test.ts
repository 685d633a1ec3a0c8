/**
 * Issue 15 items 6 and 7, against the OpenCTI simulator over HTTP and the real Redis: a frame whose id cannot be
 * parsed is dead-lettered and skipped (no reconnect loop); frames with no id, an id going backwards, an unknown
 * event type, a non-stix pattern or no pattern each leave a log line and a labelled counter.
 */
import { createHash } from 'node:crypto';
import { type DeadEventPayload, listDeadLetters } from '@octi-sekoia/queue';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '@octi-sekoia/simulators';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestService } from '../src/ingest-service.ts';
import { compare, inProcessIngest, jobIds, localMetric, memoryLog, normalizeSettings } from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator | undefined;
const services: IngestService[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-frames');
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await sim?.close();
  sim = undefined;
  await r.cleanup();
});

/** The `data:` payload of an event the simulator produced, as an object to tamper with. */
function payloadOf(s: OpenCtiSimulator, eventId: string): { data: Record<string, unknown> } {
  const entry = s.control.entries().find((e) => e.id === eventId);
  return JSON.parse(entry!.payload) as { data: Record<string, unknown> };
}

describe('frames that cannot be placed in the stream', () => {
  it('a data frame with an unparsable id is dead-lettered (kind event) and skipped: no reconnect, reading goes on', async () => {
    const s = await startOpenCtiSimulator({ heartbeatMs: 100 });
    sim = s;
    const log = memoryLog();
    const { service, queues, registry } = inProcessIngest(r, s, {}, { log });
    services.push(service);
    const before = s.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.1']" });
    const copy = payloadOf(s, before.eventId);
    s.control.appendEvent({ event: 'create', data: copy, wireId: 'not-an-id' });
    const after = s.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.2']" });
    service.start();

    await waitFor(async () => (await jobIds(queues)).some((id) => id.endsWith(after.internalId)), {
      what: 'the job of the indicator after the bad frame',
    });
    const letters = await waitFor(
      async () => {
        const l = await listDeadLetters(queues, { kind: 'event' });
        return l.length > 0 ? l : undefined;
      },
      { what: 'the dead letter of the bad frame' },
    );
    expect(letters).toEqual([
      expect.objectContaining({
        kind: 'event',
        payload: expect.objectContaining({ id: 'not-an-id', event: 'create' }),
        error: expect.stringMatching(/"not-an-id" is not a <ms>-<seq> id/),
      }),
    ]);
    // Read past it for good: the checkpoint moves on, the stream was never reopened for it.
    await waitFor(() => compare(service.checkpoint?.start_from ?? '0-0', after.eventId) >= 0, {
      what: 'the checkpoint at the last indicator',
    });
    expect(log.lines.filter((l) => /enqueue failed|reading again/.test(l.msg))).toEqual([]);
    expect(log.lines.filter((l) => l.msg === 'connecting to the OpenCTI live stream')).toHaveLength(1);
    expect(await localMetric(registry, 'ingest_frame_problems_total', { problem: 'unparsable-id' })).toBe(1);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', obj: expect.objectContaining({ problem: 'unparsable-id' }) }),
    );
  });

  it('no id, id going backwards, unknown event type, non-stix pattern, no pattern: a log line and a labelled counter each', async () => {
    const s = await startOpenCtiSimulator({ heartbeatMs: 100 });
    sim = s;
    const log = memoryLog();
    const { service, queues, registry } = inProcessIngest(r, s, {}, { log });
    services.push(service);
    const first = s.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.1']" });
    const template = payloadOf(s, first.eventId);
    // A data frame without an id line.
    s.control.appendEvent({ event: 'update', data: template, noId: true });
    // A valid frame whose id is below the previous one.
    s.control.appendEvent({ event: 'update', data: template, wireId: '1000-0' });
    s.control.appendEvent({ event: 'surprise', data: '{}' });
    const yara = s.control.createIndicator({ pattern: 'rule x { condition: true }', patternType: 'yara' });
    const noPattern = structuredClone(template);
    delete noPattern.data.pattern;
    s.control.appendEvent({ event: 'update', data: noPattern });
    const last = s.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.9']" });
    service.start();

    await waitFor(async () => (await jobIds(queues)).some((id) => id.endsWith(last.internalId)), {
      what: 'the job of the last indicator',
    });
    await waitFor(() => compare(service.checkpoint?.start_from ?? '0-0', last.eventId) >= 0, {
      what: 'the checkpoint at the end',
    });

    const count = (name: string, labels: Record<string, string>) => localMetric(registry, name, labels);
    expect(await count('ingest_frame_problems_total', { problem: 'no-id' })).toBe(1);
    expect(await count('ingest_frame_problems_total', { problem: 'id-backwards' })).toBe(1);
    expect(await count('ingest_skipped_total', { reason: 'unknown-event' })).toBe(1);
    expect(await count('ingest_findings_total', { kind: 'non-stix-pattern' })).toBe(1);
    expect(await count('ingest_findings_total', { kind: 'missing-pattern' })).toBe(1);

    const logged = (level: string, pred: (obj: Record<string, unknown>) => boolean) =>
      log.lines.filter((l) => l.level === level && pred(l.obj as Record<string, unknown>));
    expect(logged('warn', (o) => o.problem === 'no-id')).toHaveLength(1);
    expect(logged('warn', (o) => o.problem === 'id-backwards')).toHaveLength(1);
    expect(logged('debug', (o) => o.reason === 'unknown-event' && o.detail === 'surprise')).toHaveLength(1);
    expect(
      logged('debug', (o) => o.kind === 'non-stix-pattern' && o.indicatorId === yara.internalId),
    ).toHaveLength(1);
    expect(logged('debug', (o) => o.kind === 'missing-pattern')).toHaveLength(1);
    // The frame without an id is kept (it cannot be fenced or checkpointed, so it is not applied).
    const letters = await listDeadLetters(queues, { kind: 'event' });
    expect(letters).toEqual([
      expect.objectContaining({ payload: expect.objectContaining({ id: '', event: 'update' }) }),
    ]);
  });
});

describe('oversize events and the cap on dead letters', () => {
  it('an oversize indicator event: an excerpt + size + SHA-256; past the cap: counted and logged, the stream goes on', async () => {
    const s = await startOpenCtiSimulator({ heartbeatMs: 100 });
    sim = s;
    const log = memoryLog();
    const { service, queues, registry } = inProcessIngest(
      r,
      s,
      { normalize: { ...normalizeSettings(s.url), maxEventBytes: 2048 }, deadLettersMaxBytes: 12_000 },
      { log },
    );
    services.push(service);
    const huge = (n: number) => `{"data":{"type":"indicator","description":"${String(n).repeat(200_000)}"}}`;
    const first = s.control.appendEvent({ event: 'create', data: huge(1) });
    const second = s.control.appendEvent({ event: 'create', data: huge(2) });
    const third = s.control.appendEvent({ event: 'create', data: huge(3) });
    const after = s.control.createIndicator({ pattern: "[ipv4-addr:value = '198.51.100.3']" });
    service.start();

    await waitFor(async () => (await jobIds(queues)).some((id) => id.endsWith(after.internalId)), {
      what: 'the job of the indicator after the oversize events',
    });
    await waitFor(() => compare(service.checkpoint?.start_from ?? '0-0', after.eventId) >= 0, {
      what: 'the checkpoint past the oversize events',
    });
    const letters = await listDeadLetters(queues, { kind: 'event' });
    // Two excerpts (about 4 KB each) fit under 12 000 bytes, the third does not.
    expect(letters.map((l) => l.subject).sort()).toEqual([first.id, second.id].sort());
    const kept = letters.find((l) => l.subject === first.id)!.payload as DeadEventPayload;
    expect(kept.truncated).toEqual({
      bytes: Buffer.byteLength(huge(1)),
      sha256: createHash('sha256').update(huge(1)).digest('hex'),
    });
    expect(kept.data.length).toBeLessThan(5000);
    expect(await localMetric(registry, 'ingest_dead_letters_refused_total', { kind: 'event' })).toBe(1);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringMatching(/dead letters at their cap/),
        obj: expect.objectContaining({ subject: third.id }),
      }),
    );
  });
});
