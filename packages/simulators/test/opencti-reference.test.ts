/**
 * The simulator checked against the reference, not against itself: the §6 example frames and a real OpenCTI
 * stream sample (data/opencti-stream-event-stix2-indicators.json) are the expected outputs.
 */
import { readFileSync } from 'node:fs';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { OCTI_EXT, type OpenCtiSimulator, startOpenCtiSimulator } from '../src/opencti/index.ts';
import * as ref from './fixtures/opencti-reference-frames.ts';
import { auth, json, openRaw, type RawStream, streamUrl } from './opencti-helpers.ts';

const sims: OpenCtiSimulator[] = [];
const streams: RawStream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function referenceWorld(clock: { t: number }, heartbeatMs = 5000) {
  const sim = await startOpenCtiSimulator({
    now: () => clock.t,
    heartbeatMs,
    idleReadMs: 1,
    origin: ref.origin,
  });
  sims.push(sim);
  clock.t = 1732615205120;
  const created = sim.control.createIndicator({
    pattern: ref.indicatorData.pattern,
    internalId: ref.indicatorData.extensions[ref.X].id,
    stixId: ref.indicatorData.id,
    name: '198.51.100.7',
    labels: ['c2'],
    score: 80,
    confidence: 80,
    createdByRef: ref.indicatorData.created_by_ref,
    markingRefs: ref.indicatorData.object_marking_refs,
    indicatorTypes: ['malicious-activity'],
    validFrom: ref.indicatorData.valid_from,
    validUntil: ref.indicatorData.valid_until,
    killChainPhases: ref.indicatorData.kill_chain_phases,
    created: ref.indicatorData.created,
    at: '2024-11-26T10:00:05.101Z',
  });
  return { sim, created };
}

async function connect(
  sim: OpenCtiSimulator,
  headers: Record<string, string>,
  query = '',
): Promise<RawStream> {
  const r = await openRaw(streamUrl(sim, query), auth(sim.token, headers));
  streams.push(r);
  return r;
}

describe('simulator vs the reference example frames (docs/opencti-api.md)', () => {
  it('reproduces the create frame byte for byte', async () => {
    const clock = { t: 0 };
    const { sim, created } = await referenceWorld(clock);
    expect(created.eventId).toBe(ref.createFrame.id);
    const r = await connect(sim, { 'last-event-id': '0-0', 'no-dependencies': 'true' });
    const expected = `id: ${ref.createFrame.id}\nevent: create\ndata: ${JSON.stringify(ref.createFrame.data)}\n\n`;
    await waitFor(() => r.text().includes(expected), { what: 'the reference create frame' });
  });

  it('connected has the reference keys in the reference order', async () => {
    const clock = { t: 0 };
    const { sim } = await referenceWorld(clock);
    const r = await connect(sim, {});
    const [first] = await waitFor(() => (r.frames().length > 0 ? r.frames() : undefined), {
      what: 'connected',
    });
    expect(first?.event).toBe('connected');
    expect(Object.keys(json(first as never))).toEqual(Object.keys(ref.connectedData));
  });

  it('reproduces the idle heartbeat frame byte for byte', async () => {
    const clock = { t: 0 };
    const { sim } = await referenceWorld(clock, 30);
    clock.t = 1732615210120;
    const r = await connect(sim, { 'last-event-id': '1732615205120-0' });
    await waitFor(() => r.text().includes(ref.heartbeatText), { what: 'the reference heartbeat' });
  });

  it('a pattern change gives the reference update: same ids, same patch paths, reverse_patch with the old values', async () => {
    const clock = { t: 0 };
    const { sim, created } = await referenceWorld(clock);
    clock.t = 1732615300456;
    const upd = sim.control.changePattern({
      internalId: created.internalId,
      pattern: ref.updateFrame.newPattern,
      at: '2024-11-26T10:01:40.440Z',
    });
    expect(upd.eventId).toBe(ref.updateFrame.id);
    const r = await connect(sim, { 'last-event-id': ref.createFrame.id, 'no-dependencies': 'true' });
    const frames = await waitFor(
      () => (r.frames().some((f) => f.id === upd.eventId) ? r.frames() : undefined),
      {
        what: 'update',
      },
    );
    const frame = frames.find((f) => f.event === 'update');
    expect(frame?.id).toBe(ref.updateFrame.id);
    const env = json(frame as never);
    expect(Object.keys(env)).toEqual(ref.updateFrame.envelopeKeys);
    expect(env.event_id).toBe(ref.updateFrame.event_id);
    const paths = (ops: Array<{ path: string }>) => ops.map((o) => o.path).sort();
    expect(paths(env.context.patch)).toEqual(paths(ref.updateFrame.patch));
    expect(paths(env.context.reverse_patch)).toEqual(paths(ref.updateFrame.patch));
    for (const op of ref.updateFrame.patch.filter((o) => !o.value.includes('…'))) {
      expect(env.context.patch).toContainEqual(op);
    }
    const reverse = Object.fromEntries(
      env.context.reverse_patch.map((o: { path: string; value: unknown }) => [o.path, o.value]),
    );
    expect(reverse['/pattern']).toBe(ref.indicatorData.pattern);
    expect(reverse['/id']).toBe(ref.indicatorData.id);
    expect(reverse[`/extensions/${ref.X}/observable_values/0/value`]).toBe('198.51.100.7');
    expect(env.data.extensions[ref.X].id).toBe(ref.indicatorData.extensions[ref.X].id);
  });

  it('a delete gives the reference delete envelope (ids, keys, message, last state)', async () => {
    const clock = { t: 0 };
    const { sim, created } = await referenceWorld(clock);
    clock.t = 1732615400789;
    const del = sim.control.deleteIndicator({
      internalId: created.internalId,
      at: '2024-11-26T10:03:20.777Z',
    });
    expect(del.eventId).toBe(ref.deleteFrame.id);
    const r = await connect(sim, { 'last-event-id': ref.createFrame.id });
    const frames = await waitFor(
      () => (r.frames().some((f) => f.event === 'delete') ? r.frames() : undefined),
      {
        what: 'delete',
      },
    );
    const env = json(frames.find((f) => f.event === 'delete') as never);
    expect(Object.keys(env)).toEqual(ref.deleteFrame.envelopeKeys);
    expect(env.event_id).toBe(ref.deleteFrame.event_id);
    expect(env.message).toBe('deletes a Indicator `198.51.100.7`');
    expect(env.data).toEqual(ref.indicatorData);
  });

  it('reproduces the recovery frame byte for byte', async () => {
    const clock = { t: 0 };
    const { sim } = await referenceWorld(clock);
    const r = await connect(
      sim,
      { 'last-event-id': '0-0', 'no-dependencies': 'true' },
      '?recover=2024-11-26T10:00:06Z',
    );
    const expected = `id: ${ref.recoveryFrame.id}\nevent: create\ndata: ${JSON.stringify(ref.recoveryFrame.data)}\n\n`;
    await waitFor(() => r.text().includes(expected), { what: 'the reference recovery frame' });
  });
});

describe('simulator vs a real OpenCTI stream sample', () => {
  it('importing the platform test bundle yields the ids and fields OpenCTI streamed for it', async () => {
    const sim = await startOpenCtiSimulator();
    sims.push(sim);
    const dataDir = new URL('../data/', import.meta.url);
    const bundle = JSON.parse(readFileSync(new URL('opencti-DATA-TEST-STIX2_v2.json', dataDir), 'utf8'));
    const sample = JSON.parse(
      readFileSync(new URL('opencti-stream-event-stix2-indicators.json', dataDir), 'utf8'),
    ) as Array<Record<string, any>>;
    sim.control.loadBundle({ bundle });
    const ours = sim.control.listIndicators();
    for (const expected of sample) {
      const got = ours.find((i) => i.stix.pattern === expected.pattern)?.stix as Record<string, any>;
      expect(got, expected.pattern).toBeDefined();
      for (const key of [
        'id',
        'spec_version',
        'type',
        'created',
        'lang',
        'labels',
        'object_marking_refs',
        'created_by_ref',
        'name',
        'description',
        'pattern',
        'pattern_type',
        'valid_from',
        'valid_until',
      ]) {
        expect(got[key], key).toEqual(expected[key]);
      }
      expect(got.extensions[OCTI_EXT].stix_ids).toEqual(expected.extensions[OCTI_EXT].stix_ids);
      expect(got.extensions[OCTI_EXT].type).toBe('Indicator');
      expect(got.extensions[OCTI_EXT].extension_type).toBe('property-extension');
      // Shared top-level keys come in the same order.
      const sharedOrder = (o: object, other: object) => Object.keys(o).filter((k) => k in other);
      expect(sharedOrder(got, expected)).toEqual(sharedOrder(expected, got));
      const extKeys = (o: Record<string, any>) => Object.keys(o.extensions[OCTI_EXT]);
      expect(extKeys(got).filter((k) => extKeys(expected).includes(k))).toEqual(
        extKeys(expected).filter((k) => extKeys(got).includes(k)),
      );
    }
  });
});
