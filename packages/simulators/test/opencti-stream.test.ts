import { compareEventIds } from '@octi-sekoia/opencti';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OCTI_EXT,
  type OpenCtiSimulator,
  type OpenCtiSimulatorOptions,
  startOpenCtiSimulator,
} from '../src/opencti/index.ts';
import {
  applyRfc6902,
  auth,
  type Frame,
  json,
  openEventSource,
  openRaw,
  type RawStream,
  streamUrl,
} from './opencti-helpers.ts';

const ID_RE = /^\d+-\d+$/;
const open: Array<{ close(): void }> = [];
let sims: OpenCtiSimulator[] = [];

async function start(opts: OpenCtiSimulatorOptions = {}): Promise<OpenCtiSimulator> {
  const sim = await startOpenCtiSimulator({ heartbeatMs: 60, ...opts });
  sims.push(sim);
  return sim;
}
async function raw(url: string, headers: Record<string, string>): Promise<RawStream> {
  const r = await openRaw(url, headers);
  open.push(r);
  return r;
}
afterEach(async () => {
  for (const o of open.splice(0)) o.close();
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

const dataFrames = (r: RawStream) =>
  r.frames().filter((f) => f.event !== 'heartbeat' && f.event !== 'connected');
const ip = (n: number) => `[ipv4-addr:value = '198.51.100.${n}']`;
async function framesUntil(r: RawStream, pred: (fs: Frame[]) => boolean, what: string): Promise<Frame[]> {
  return waitFor(() => (pred(r.frames()) ? r.frames() : undefined), { what });
}

describe('GET /stream/:id status matrix (§1)', () => {
  it('401 with an empty body and the reason phrase for no token, a bad token and an unknown stream', async () => {
    const sim = await start();
    const none = await raw(streamUrl(sim), {});
    expect(none.status).toBe(401);
    expect(none.statusMessage).toBe('You are not authenticated, please check your credentials');
    await none.ended;
    expect(none.text()).toBe('');
    const bad = await raw(streamUrl(sim), auth('wrong'));
    expect(bad.status).toBe(401);
    const unknown = await raw(`${sim.url}/stream/does-not-exist`, auth(sim.token));
    expect(unknown.status).toBe(401);
    expect(unknown.statusMessage).toBe('You are not authorized, please check your credentials');
    await unknown.ended;
    expect(unknown.text()).toBe('');
  });

  it('410 for a stopped stream, 200 again once restarted; a deleted stream is 401', async () => {
    const sim = await start();
    sim.control.stopStream();
    const stopped = await raw(streamUrl(sim), auth(sim.token));
    expect(stopped.status).toBe(410);
    expect(stopped.statusMessage).toBe('This live stream is stopped');
    sim.control.startStream();
    const ok = await raw(streamUrl(sim), auth(sim.token));
    expect(ok.status).toBe(200);
    sim.control.deleteStream();
    expect((await raw(streamUrl(sim), auth(sim.token))).status).toBe(401);
  });

  it('recover without from is a 500 before the stream starts', async () => {
    const sim = await start();
    const r = await raw(streamUrl(sim, '?recover=2025-01-01T00:00:00Z'), auth(sim.token));
    expect(r.status).toBe(500);
    expect(r.statusMessage).toContain('Recovery mode is only possible with a start date');
    await r.ended;
    expect(r.text()).toBe('');
  });

  it('200 with the SSE headers; connected comes first, without id, with the XINFO-style payload', async () => {
    const sim = await start();
    sim.control.createIndicator({ pattern: ip(1) });
    const r = await raw(streamUrl(sim), auth(sim.token));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache, no-transform');
    expect(r.headers.connection).toBe('keep-alive');
    const [first] = await framesUntil(r, (f) => f.length > 0, 'connected');
    expect(r.text().startsWith('event: connected\ndata: ')).toBe(true);
    expect(first?.id).toBeUndefined();
    const info = json(first as Frame);
    expect(Object.keys(info).sort()).toEqual(
      ['connectionId', 'firstEventDate', 'firstEventId', 'lastEventDate', 'lastEventId', 'streamSize'].sort(),
    );
    expect(info.streamSize).toBe(1);
    expect(info.firstEventId).toBe(info.lastEventId);
    expect(info.firstEventId).toMatch(ID_RE);
  });

  it('the raw /stream needs BYPASS; "live" too', async () => {
    const sim = await start();
    sim.control.addToken({ token: 'reader', capabilities: ['TAXIIAPI'] });
    const generic = await raw(`${sim.url}/stream`, auth('reader'));
    expect(generic.status).toBe(401);
    expect(generic.statusMessage).toBe('Consume generic stream is only authorized for bypass user');
    expect((await raw(`${sim.url}/stream/live`, auth('reader'))).status).toBe(401);
    expect((await raw(`${sim.url}/stream`, auth(sim.token))).status).toBe(200);
  });
});

describe('event ids, resume and heartbeats (§2, §7.2–3)', () => {
  it('live ids strictly increase; resume from Last-Event-ID is exclusive; 0-0 replays history incl. deletes', async () => {
    const sim = await start();
    const a = sim.control.createIndicator({ pattern: ip(1) });
    const b = sim.control.createIndicator({ pattern: ip(2) });
    sim.control.updateIndicator({ internalId: a.internalId, set: { description: 'x' } });
    sim.control.deleteIndicator({ internalId: b.internalId });

    const all = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    await framesUntil(all, (f) => f.filter((x) => x.event === 'delete').length === 1, 'the delete');
    const events = dataFrames(all).filter((f) => json(f).origin?.referer !== 'init-dependencies');
    expect(events.map((f) => f.event)).toEqual(['create', 'create', 'update', 'delete']);
    const ids = events.map((f) => f.id as string);
    for (let i = 1; i < ids.length; i++)
      expect(compareEventIds(ids[i] as string, ids[i - 1] as string)).toBeGreaterThan(0);
    expect(ids[0]).toBe(a.eventId);

    const after = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': b.eventId, 'no-dependencies': 'true' }),
    );
    await framesUntil(after, (f) => f.some((x) => x.event === 'delete'), 'the delete after resume');
    expect(
      dataFrames(after)
        .filter((f) => json(f).origin?.referer !== 'init-dependencies')
        .map((f) => f.event),
    ).toEqual(['update', 'delete']);
  });

  it('without from only new events are sent', async () => {
    const sim = await start();
    sim.control.createIndicator({ pattern: ip(1) });
    const r = await raw(streamUrl(sim), auth(sim.token, { 'no-dependencies': 'true' }));
    await framesUntil(r, (f) => f.length > 0, 'connected');
    await waitFor(() => sim.control.connections().length === 1, { what: 'connection registered' });
    const c = sim.control.createIndicator({ pattern: ip(3) });
    const fs = await framesUntil(
      r,
      (f) => f.some((x) => x.id === c.eventId && x.event === 'create'),
      'new create',
    );
    expect(fs.filter((f) => f.event === 'create').map((f) => json(f).data.pattern)).toContain(ip(3));
    expect(fs.filter((f) => f.event === 'create' && json(f).data.pattern === ip(1))).toHaveLength(0);
  });

  it('parameter precedence: query from > header from > Last-Event-ID', async () => {
    const sim = await start();
    const a = sim.control.createIndicator({ pattern: ip(1) });
    const b = sim.control.createIndicator({ pattern: ip(2) });
    const c = sim.control.createIndicator({ pattern: ip(3) });
    const first = (r: RawStream) =>
      framesUntil(r, (f) => f.some((x) => x.event === 'create'), 'a create').then(
        (fs) => fs.find((x) => x.event === 'create')?.id,
      );
    const q = await raw(
      streamUrl(sim, `?from=${b.eventId}`),
      auth(sim.token, { from: a.eventId, 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    expect(await first(q)).toBe(c.eventId);
    const h = await raw(
      streamUrl(sim),
      auth(sim.token, { from: a.eventId, 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    expect(await first(h)).toBe(b.eventId);
    const l = await raw(streamUrl(sim), auth(sim.token, { 'last-event-id': '0', 'no-dependencies': 'true' }));
    expect(await first(l)).toBe(a.eventId);
  });

  it('a date as from starts at <ms>-0 (exclusive)', async () => {
    let t = Date.parse('2025-03-01T00:00:00.000Z');
    const sim = await start({ now: () => t });
    sim.control.createIndicator({ pattern: ip(1) });
    t += 1000;
    const b = sim.control.createIndicator({ pattern: ip(2) });
    const r = await raw(
      streamUrl(sim, '?from=2025-03-01T00:00:00.500Z'),
      auth(sim.token, { 'no-dependencies': 'true' }),
    );
    const fs = await framesUntil(
      r,
      (f) => f.some((x) => x.id === b.eventId && x.event === 'create'),
      'create',
    );
    expect(new Set(fs.filter((f) => f.event === 'create').map((f) => f.id))).toEqual(new Set([b.eventId]));
  });

  it('heartbeats carry the last id, then a synthetic <now>-0 when idle; data is the quoted ISO date of the id', async () => {
    const sim = await start({ heartbeatMs: 40, idleReadMs: 120 });
    const a = sim.control.createIndicator({ pattern: ip(1) });
    const r = await raw(streamUrl(sim), auth(sim.token, { 'last-event-id': '0-0' }));
    const fs = await framesUntil(
      r,
      (f) => f.some((x) => x.event === 'heartbeat' && compareEventIds(x.id as string, a.eventId) > 0),
      'a synthetic heartbeat',
    );
    const hbs = fs.filter((f) => f.event === 'heartbeat');
    expect(hbs[0]?.id).toBe(a.eventId);
    for (const hb of hbs) {
      expect(hb.id).toMatch(ID_RE);
      const ms = Number((hb.id as string).split('-')[0]);
      expect(hb.data).toBe(JSON.stringify(new Date(ms).toISOString()));
    }
    const synthetic = hbs.find((h) => compareEventIds(h.id as string, a.eventId) > 0);
    expect(synthetic?.id?.endsWith('-0')).toBe(true);
    // Non-decreasing heartbeat ids, and a later event gets an id above every synthetic one already sent.
    for (let i = 1; i < hbs.length; i++) {
      expect(compareEventIds(hbs[i]?.id as string, hbs[i - 1]?.id as string)).toBeGreaterThanOrEqual(0);
    }
    const later = sim.control.createIndicator({ pattern: ip(2) });
    const maxHb = r
      .frames()
      .filter((f) => f.event === 'heartbeat')
      .map((f) => f.id as string)
      .sort(compareEventIds)
      .at(-1) as string;
    expect(compareEventIds(later.eventId, maxHb)).toBeGreaterThan(0);
  });

  it('pauseHeartbeats gives a silent connection', async () => {
    const sim = await start({ heartbeatMs: 30 });
    sim.control.pauseHeartbeats({ paused: true });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    await waitFor(() => (sim.control.connections()[0]?.ticks ?? 0) >= 4, { what: 'four heartbeat periods' });
    const marker = sim.control.createIndicator({ pattern: ip(9) });
    await framesUntil(r, (f) => f.some((x) => x.id === marker.eventId), 'marker');
    expect(r.frames().filter((f) => f.event === 'heartbeat')).toHaveLength(0);
    sim.control.pauseHeartbeats({ paused: false });
    await framesUntil(r, (f) => f.some((x) => x.event === 'heartbeat'), 'heartbeats again');
  });

  it('trimming advances firstEventId; an older checkpoint silently resumes at the first retained event', async () => {
    const sim = await start();
    const refs = [1, 2, 3, 4, 5].map((n) => sim.control.createIndicator({ pattern: ip(n) }));
    const info = sim.control.trim({ maxLength: 2 });
    expect(info.firstEventId).toBe(refs[3]?.eventId);
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': refs[0]?.eventId as string, 'no-dependencies': 'true' }),
    );
    const fs = await framesUntil(r, (f) => f.some((x) => x.id === refs[4]?.eventId), 'retained creates');
    expect(json(fs[0] as Frame).firstEventId).toBe(refs[3]?.eventId);
    expect(json(fs[0] as Frame).streamSize).toBe(2);
    expect([...new Set(fs.filter((f) => f.event === 'create').map((f) => f.id))]).toEqual([
      refs[3]?.eventId,
      refs[4]?.eventId,
    ]);
    sim.control.trim({ minId: refs[4]?.eventId as string });
    expect(sim.control.streamInfo().firstEventId).toBe(refs[4]?.eventId);
  });
});

describe('envelopes, patches and visibility (§2, §6, §7.5)', () => {
  it('update patch and reverse_patch are correct RFC 6902 between the previous and the current object', async () => {
    const sim = await start();
    const a = sim.control.createIndicator({
      pattern: ip(1),
      labels: ['a', 'b'],
      validUntil: '2030-01-01T00:00:00Z',
    });
    sim.control.updateIndicator({
      internalId: a.internalId,
      set: { labels: ['b'], description: 'new', valid_until: '2031-01-01T00:00:00Z' },
      extension: { score: 90 },
    });
    sim.control.updateIndicator({
      internalId: a.internalId,
      unset: ['valid_until', 'description'],
      set: { labels: ['b', 'c', 'd'] },
    });
    sim.control.changePattern({ internalId: a.internalId, pattern: "[domain-name:value = 'evil.example']" });
    sim.control.revokeIndicator({ internalId: a.internalId });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    await framesUntil(r, (f) => f.filter((x) => x.event === 'update').length === 4, 'four updates');
    const evs = dataFrames(r).filter(
      (f) => json(f).data.type === 'indicator' && json(f).version === '4' && json(f).type,
    );
    let previous = json(evs[0] as Frame).data;
    for (const f of evs.slice(1)) {
      const env = json(f);
      expect(env.type).toBe('update');
      expect(applyRfc6902(previous, env.context.patch)).toEqual(env.data);
      expect(applyRfc6902(env.data, env.context.reverse_patch)).toEqual(previous);
      expect(env.data.extensions[OCTI_EXT].id).toBe(a.internalId);
      expect(env.event_id).toMatch(ID_RE);
      previous = env.data;
    }
    const last = json(evs.at(-1) as Frame);
    expect(last.context.patch).toContainEqual({ op: 'replace', path: '/revoked', value: true });
    const patternChange = json(evs[3] as Frame);
    expect(patternChange.context.patch).toContainEqual({
      op: 'replace',
      path: '/id',
      value: patternChange.data.id,
    });
    expect(patternChange.data.id).not.toBe(a.stixId);
    expect(patternChange.data.extensions[OCTI_EXT].observable_values).toEqual([
      { type: 'Domain-Name', value: 'evil.example' },
    ]);
    expect(patternChange.data.extensions[OCTI_EXT].main_observable_type).toBe('Domain-Name');
  });

  it('a delete carries the last state (with extensions) and no context', async () => {
    const sim = await start();
    const a = sim.control.createIndicator({ pattern: ip(1) });
    sim.control.deleteIndicator({ internalId: a.internalId });
    const r = await raw(streamUrl(sim), auth(sim.token, { 'last-event-id': '0-0' }));
    const fs = await framesUntil(r, (f) => f.some((x) => x.event === 'delete'), 'delete');
    const create = json(fs.find((f) => f.event === 'create' && json(f).type === 'create') as Frame);
    const del = json(fs.find((f) => f.event === 'delete') as Frame);
    expect(Object.keys(del)).toEqual(['version', 'type', 'scope', 'message', 'origin', 'data', 'event_id']);
    expect(del.type).toBe('delete');
    expect(del.data).toEqual(create.data);
    expect(del.message).toBe('deletes a Indicator `198.51.100.1`');
  });

  it('merge: event merge, the surviving object in data, absorbed ones in context.sources', async () => {
    const sim = await start();
    const target = sim.control.createIndicator({ pattern: ip(1), labels: ['x'] });
    const source = sim.control.createIndicator({ pattern: ip(2), labels: ['y'] });
    const m = sim.control.mergeIndicators({ targetId: target.internalId, sourceIds: [source.internalId] });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    const fs = await framesUntil(r, (f) => f.some((x) => x.event === 'merge'), 'merge');
    const merge = fs.find((f) => f.event === 'merge') as Frame;
    expect(merge.id).toBe(m.eventId);
    const env = json(merge);
    expect(env.type).toBe('merge');
    expect(env.data.extensions[OCTI_EXT].id).toBe(target.internalId);
    expect(env.context.sources.map((s: any) => s.extensions[OCTI_EXT].id)).toEqual([source.internalId]);
    expect(env.data.extensions[OCTI_EXT].stix_ids).toContain(source.stixId);
    expect(env.data.labels).toEqual(['x', 'y']);
    const createTarget = json(fs.find((f) => f.id === target.eventId && json(f).type === 'create') as Frame);
    expect(applyRfc6902(createTarget.data, env.context.patch)).toEqual(env.data);
    expect(applyRfc6902(env.data, env.context.reverse_patch)).toEqual(createTarget.data);
    // A pattern change onto an id another indicator owns is a merge too.
    const c = sim.control.createIndicator({ pattern: ip(3) });
    const res = sim.control.changePattern({ internalId: c.internalId, pattern: ip(1) });
    expect(res.mergedInto).toBe(target.internalId);
    await framesUntil(r, (f) => f.filter((x) => x.event === 'merge').length === 2, 'second merge');
  });

  it('the switch mergeDeletesSources adds a delete per source after the merge', async () => {
    const sim = await start({ switches: { mergeDeletesSources: true } });
    const t = sim.control.createIndicator({ pattern: ip(1) });
    const s = sim.control.createIndicator({ pattern: ip(2) });
    sim.control.mergeIndicators({ targetId: t.internalId, sourceIds: [s.internalId] });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    const fs = await framesUntil(r, (f) => f.some((x) => x.event === 'delete'), 'delete');
    expect(
      dataFrames({ frames: () => fs } as RawStream)
        .map((f) => f.event)
        .filter((e) => e !== 'create'),
    ).toEqual(['merge', 'delete']);
    expect(json(fs.find((f) => f.event === 'delete') as Frame).data.extensions[OCTI_EXT].id).toBe(
      s.internalId,
    );
  });

  it('visibility: leaving the filters is `event: delete` with type update; entering is `event: create` with type update', async () => {
    const sim = await start({ streamFilter: { entityTypes: ['Indicator'], labels: ['sekoia'] } });
    const a = sim.control.createIndicator({ pattern: ip(1), labels: ['sekoia'] });
    const hidden = sim.control.createIndicator({ pattern: ip(2), labels: ['other'] });
    const out = sim.control.updateIndicator({ internalId: a.internalId, set: { labels: ['other'] } });
    sim.control.updateIndicator({ internalId: hidden.internalId, set: { description: 'still hidden' } });
    const back = sim.control.updateIndicator({
      internalId: a.internalId,
      set: { labels: ['sekoia', 'other'] },
    });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    await framesUntil(r, (f) => f.some((x) => x.id === back.eventId), 'back in');
    const evs = dataFrames(r).filter((f) => json(f).type);
    expect(evs.map((f) => [f.event, json(f).type, json(f).data.extensions[OCTI_EXT].id])).toEqual([
      ['create', 'create', a.internalId],
      ['delete', 'update', a.internalId],
      ['create', 'update', a.internalId],
    ]);
    expect(evs[1]?.id).toBe(out.eventId);
    expect(json(evs[1] as Frame).context.patch.length).toBeGreaterThan(0);

    // listen-delete=false suppresses both real deletes and the leave-the-filter delete.
    sim.control.deleteIndicator({ internalId: a.internalId });
    const quiet = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true', 'listen-delete': 'false' }),
    );
    const marker = sim.control.createIndicator({ pattern: ip(7), labels: ['sekoia'] });
    await framesUntil(quiet, (f) => f.some((x) => x.id === marker.eventId), 'marker');
    expect(quiet.frames().filter((f) => f.event === 'delete')).toHaveLength(0);
    expect(
      dataFrames(quiet)
        .filter((f) => json(f).type)
        .map((f) => f.event),
    ).toEqual(['create', 'create', 'create']);
    // query listen-delete beats nothing else but works as a query parameter too.
    const q = await raw(
      streamUrl(sim, '?listen-delete=false&no-dependencies=true'),
      auth(sim.token, { 'last-event-id': '0-0' }),
    );
    await framesUntil(q, (f) => f.some((x) => x.id === marker.eventId), 'marker via query');
    expect(q.frames().filter((f) => f.event === 'delete')).toHaveLength(0);
  });

  it('with-inferences: inferred objects only when the header is literally true', async () => {
    const sim = await start();
    sim.control.createIndicator({ pattern: ip(1), isInferred: true });
    const plain = sim.control.createIndicator({ pattern: ip(2) });
    const without = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    await framesUntil(without, (f) => f.some((x) => x.id === plain.eventId && json(x).type), 'plain');
    expect(
      dataFrames(without)
        .filter((f) => json(f).type)
        .map((f) => json(f).data.pattern),
    ).toEqual([ip(2)]);
    const withInf = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true', 'with-inferences': 'true' }),
    );
    await framesUntil(withInf, (f) => f.some((x) => x.id === plain.eventId && json(x).type), 'plain');
    expect(
      dataFrames(withInf)
        .filter((f) => json(f).type)
        .map((f) => json(f).data.pattern),
    ).toEqual([ip(1), ip(2)]);
  });
});

describe('dependencies (§3)', () => {
  it('author and marking creates precede the event, share its id, origin init-dependencies, once per connection', async () => {
    const sim = await start();
    const a = sim.control.createIndicator({ pattern: ip(1) });
    const b = sim.control.createIndicator({ pattern: ip(2) });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    await framesUntil(r, (f) => f.some((x) => x.id === b.eventId && json(x).type), 'b');
    const fs = dataFrames(r);
    const forA = fs.filter((f) => f.id === a.eventId);
    expect(forA.map((f) => [f.event, json(f).data.type, json(f).origin.referer])).toEqual([
      ['create', 'marking-definition', 'init-dependencies'],
      ['create', 'identity', 'init-dependencies'],
      ['create', 'indicator', undefined],
    ]);
    expect(Object.keys(json(forA[0] as Frame))).toEqual(['data', 'message', 'origin', 'version']);
    expect(fs.filter((f) => f.id === b.eventId)).toHaveLength(1);
  });

  it('switch heartbeatInsideDependencyGroups: a heartbeat with the shared id between dependencies and their event', async () => {
    const sim = await start({ switches: { heartbeatInsideDependencyGroups: true } });
    const a = sim.control.createIndicator({ pattern: ip(1) });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    const fs = await framesUntil(
      r,
      (f) => f.some((x) => x.id === a.eventId && x.event === 'create' && json(x).type),
      'a',
    );
    const group = fs.filter((f) => f.id === a.eventId);
    expect(group.map((f) => f.event)).toEqual(['create', 'heartbeat', 'create', 'heartbeat', 'create']);
    expect(json(group.at(-1) as Frame).type).toBe('create');
  });

  it('no-dependencies=false also sends relationships (with their refs), no-dependencies=true does not', async () => {
    const sim = await start();
    const ind = sim.control.createIndicator({ pattern: ip(1) });
    const malware = sim.control.addObject({
      object: {
        id: 'malware--11111111-2222-4333-8444-555555555555',
        type: 'malware',
        name: 'Poison Ivy',
        is_family: true,
      },
    });
    const rel = sim.control.addObject({
      object: {
        id: 'relationship--aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
        type: 'relationship',
        relationship_type: 'indicates',
        source_ref: ind.stixId,
        target_ref: malware.stixId,
      },
    });
    const upd = sim.control.updateIndicator({
      internalId: ind.internalId,
      set: { description: 'now related' },
    });
    const withDeps = await raw(streamUrl(sim), auth(sim.token, { 'last-event-id': rel.eventId }));
    await framesUntil(withDeps, (f) => f.some((x) => x.id === upd.eventId && x.event === 'update'), 'update');
    const fs = dataFrames(withDeps).filter((f) => f.id === upd.eventId);
    expect(fs.map((f) => [f.event, json(f).data.type])).toEqual([
      ['create', 'marking-definition'],
      ['create', 'identity'],
      ['create', 'indicator'], // the trigger itself, as a ref of its relationship (OpenCTI does the same)
      ['create', 'malware'],
      ['create', 'relationship'],
      ['update', 'indicator'],
    ]);
    expect(fs.slice(0, 5).every((f) => json(f).origin.referer === 'init-dependencies')).toBe(true);

    const noDeps = await raw(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': rel.eventId, 'no-dependencies': 'true' }),
    );
    await framesUntil(noDeps, (f) => f.some((x) => x.id === upd.eventId && x.event === 'update'), 'update');
    expect(dataFrames(noDeps).map((f) => json(f).data.type)).toEqual([
      'marking-definition',
      'identity',
      'indicator',
    ]);
  });

  it('loads a STIX bundle as creates with OpenCTI ids; relationships follow as dependencies', async () => {
    const sim = await start();
    const bundle = JSON.parse(
      (await import('node:fs')).readFileSync(
        new URL('../data/opencti-DATA-TEST-STIX2_v2.json', import.meta.url),
        'utf8',
      ),
    );
    const res = sim.control.loadBundle({ bundle });
    expect(res.indicators).toHaveLength(3);
    const r = await raw(streamUrl(sim), auth(sim.token, { 'last-event-id': '0-0' }));
    const last = res.indicators.at(-1)?.eventId as string;
    await framesUntil(r, (f) => f.some((x) => x.id === last && json(x).type === 'create'), 'last indicator');
    const mains = dataFrames(r).filter((f) => json(f).type === 'create');
    expect(mains.map((f) => json(f).data.type)).toEqual(['indicator', 'indicator', 'indicator']);
    expect(dataFrames(r).some((f) => json(f).data.type === 'relationship')).toBe(true);
  });
});

describe('recovery (§2 Recovery, §7.4)', () => {
  it('replays current objects in the updated_at window, asc, <updated_at>-0 ids, minimal envelope, then live after the recover id', async () => {
    let t = Date.parse('2025-01-01T00:00:00.000Z');
    const sim = await start({ now: () => t });
    const early = sim.control.createIndicator({ pattern: ip(1), at: '2024-06-01T00:00:00.000Z' });
    const b = sim.control.createIndicator({ pattern: ip(2), at: '2024-07-01T00:00:00.000Z' });
    const a = sim.control.createIndicator({ pattern: ip(3), at: '2024-08-01T00:00:00.000Z' });
    sim.control.updateIndicator({
      internalId: b.internalId,
      set: { description: 'later' },
      at: '2024-09-01T00:00:00.000Z',
    });
    const gone = sim.control.createIndicator({ pattern: ip(4), at: '2024-07-15T00:00:00.000Z' });
    sim.control.deleteIndicator({ internalId: gone.internalId });
    sim.control.createIndicator({ pattern: ip(5), at: '2026-01-01T00:00:00.000Z' }); // after recover date
    // Stream ids come from the clock, updated_at from `at`: the live event below happens after the recover date.
    t = Date.parse('2025-07-01T00:00:00.000Z');
    const from = `${Date.parse('2024-06-15T00:00:00.000Z')}-0`;
    const r = await raw(
      streamUrl(sim, '?recover=2025-06-01T00:00:00.000Z'),
      auth(sim.token, { 'last-event-id': from, 'no-dependencies': 'true' }),
    );
    await waitFor(() => sim.control.connections().length === 1, { what: 'connection' });
    const live = sim.control.createIndicator({ pattern: ip(6) });
    await framesUntil(r, (f) => f.some((x) => x.id === live.eventId && json(x).type), 'live event');
    const recovered = dataFrames(r).filter((f) => json(f).origin?.referer === 'init-create');
    expect(recovered.map((f) => json(f).data.pattern)).toEqual([ip(3), ip(2)]);
    expect(recovered.map((f) => f.id)).toEqual([
      `${Date.parse('2024-08-01T00:00:00.000Z')}-0`,
      `${Date.parse('2024-09-01T00:00:00.000Z')}-0`,
    ]);
    for (const f of recovered) {
      expect(f.event).toBe('create');
      expect(Object.keys(json(f))).toEqual(['data', 'message', 'origin', 'version']);
      expect(json(f).origin).toEqual({ referer: 'init-create' });
    }
    expect(json(recovered[1] as Frame).data.description).toBe('later');
    // Live reading starts after <recover>-0: history before it is not replayed, the new event is.
    const live2 = dataFrames(r).filter((f) => json(f).type);
    expect(live2.map((f) => f.id)).toEqual([live.eventId]);
    expect(early.eventId).toMatch(ID_RE);
    expect(a.eventId).toMatch(ID_RE);
  });

  it('clockSkewMs shifts the platform clock; recoveryItemDelayMs makes a slow listing whose heartbeats carry the last listed id', async () => {
    const skew = -5 * 60_000;
    const sim = await start({ heartbeatMs: 10, clockSkewMs: skew, recoveryItemDelayMs: 30 });
    const refs = Array.from({ length: 10 }, (_, i) => sim.control.createIndicator({ pattern: ip(i + 1) }));
    const last = refs.at(-1)!.eventId;
    // Ids and timestamps come from the skewed clock.
    expect(Math.abs(Number(last.split('-')[0]) - (Date.now() + skew))).toBeLessThan(30_000);
    const r = await raw(
      streamUrl(sim, `?recover=${new Date(Number(last.split('-')[0])).toISOString()}`),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    await framesUntil(
      r,
      (f) => f.filter((x) => json(x).origin?.referer === 'init-create').length === 10,
      'the whole listing',
    );
    const frames = r.frames();
    const listed = frames.filter((f) => f.event === 'create');
    const firstListed = frames.indexOf(listed[0] as Frame);
    const lastListed = frames.indexOf(listed.at(-1) as Frame);
    const during = frames.slice(firstListed, lastListed).filter((f) => f.event === 'heartbeat');
    // Heartbeats went on during the listing (about 30 ms per object, one every 10 ms)…
    expect(during.length).toBeGreaterThan(0);
    // …each carrying the id of the object listed just before it, never a synthetic id past the recovery.
    for (const hb of during) {
      const previous = frames
        .slice(0, frames.indexOf(hb))
        .filter((f) => f.event === 'create')
        .at(-1);
      expect(hb.id).toBe(previous?.id);
    }
  });

  it('no recovery when recover <= from; recover header works; query recover beats the header', async () => {
    const sim = await start();
    const a = sim.control.createIndicator({ pattern: ip(1) });
    const r = await raw(
      streamUrl(sim),
      auth(sim.token, {
        'last-event-id': a.eventId,
        recover: '2000-01-01T00:00:00Z',
        'no-dependencies': 'true',
      }),
    );
    const marker = sim.control.createIndicator({ pattern: ip(2) });
    await framesUntil(r, (f) => f.some((x) => x.id === marker.eventId), 'marker');
    expect(dataFrames(r).filter((f) => json(f).origin?.referer === 'init-create')).toHaveLength(0);

    const h = await raw(
      streamUrl(sim),
      auth(sim.token, {
        'last-event-id': '0-0',
        'recover-date': new Date(Date.now() + 60_000).toISOString(),
        'no-dependencies': 'true',
      }),
    );
    await framesUntil(
      h,
      (f) => f.filter((x) => json(x).origin?.referer === 'init-create').length === 2,
      'recovery by header',
    );

    const q = await raw(
      streamUrl(sim, '?recover=2000-01-01T00:00:00Z'),
      auth(sim.token, {
        'last-event-id': '1-0',
        recover: new Date(Date.now() + 60_000).toISOString(),
        'no-dependencies': 'true',
      }),
    );
    const m2 = sim.control.createIndicator({ pattern: ip(3) });
    await framesUntil(q, (f) => f.some((x) => x.id === m2.eventId), 'marker 2');
    expect(dataFrames(q).filter((f) => json(f).origin?.referer === 'init-create')).toHaveLength(0);
  });
  it('with no-dependencies=false, an indicator with a relationship is recovered only as an init-dependencies create', async () => {
    // OpenCTI's recovery publishes the relationship's refs first (the indicator included) and then skips the
    // element itself because the connection cache already has it. A reader skipping dependencies loses it.
    const sim = await start();
    const ind = sim.control.createIndicator({ pattern: ip(1) });
    const malware = sim.control.addObject({
      object: {
        id: 'malware--21111111-2222-4333-8444-555555555555',
        type: 'malware',
        name: 'X',
        is_family: true,
      },
    });
    sim.control.addObject({
      object: {
        id: 'relationship--baaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
        type: 'relationship',
        relationship_type: 'indicates',
        source_ref: ind.stixId,
        target_ref: malware.stixId,
      },
    });
    const r = await raw(
      streamUrl(sim, `?recover=${new Date(Date.now() + 60_000).toISOString()}`),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'false' }),
    );
    const fs = await framesUntil(
      r,
      (f) => f.some((x) => x.event === 'create' && json(x).data.type === 'relationship'),
      'relationship',
    );
    const indicatorFrames = fs.filter((f) => f.event === 'create' && json(f).data.type === 'indicator');
    expect(indicatorFrames.map((f) => json(f).origin.referer)).toEqual(['init-dependencies']);
    expect(fs.filter((f) => json(f).origin?.referer === 'init-create')).toHaveLength(0);
  });
});

describe('faults and newer-platform events (§7.7)', () => {
  it('cuts: destroy resets, end is a clean EOF, mid-message leaves half a frame then resets', async () => {
    const sim = await start();
    const d = await raw(streamUrl(sim), auth(sim.token));
    await framesUntil(d, (f) => f.length > 0, 'connected');
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    expect(sim.control.cutConnections({ mode: 'destroy' })).toBe(1);
    expect(await d.ended).toBe('error');

    const e = await raw(streamUrl(sim), auth(sim.token));
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    sim.control.cutConnections({ mode: 'end' });
    expect(await e.ended).toBe('end');

    const m = await raw(streamUrl(sim), auth(sim.token, { 'no-dependencies': 'true' }));
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    // Frames count dependencies too: marking + identity + indicator 1, then indicator 2, then half of 3.
    sim.control.cutConnections({ mode: 'mid-message', afterMessages: 4 });
    const refs = [1, 2, 3, 4].map((n) => sim.control.createIndicator({ pattern: ip(n) }));
    expect(await m.ended).toBe('error');
    const complete = dataFrames(m).filter((f) => json(f).type);
    expect(complete.map((f) => f.id)).toEqual([refs[0]?.eventId, refs[1]?.eventId]);
    // The rest of the text is the beginning of the third frame, with its id line but no terminating blank line.
    const tail = m.text().slice(m.text().lastIndexOf('\n\n') + 2);
    expect(tail.startsWith(`id: ${refs[2]?.eventId}\nevent: create\ndata: {`)).toBe(true);
    expect(tail.endsWith('\n\n')).toBe(false);
    expect(sim.control.connections()).toHaveLength(0);
  });

  it('mid-message with ending=end gives a clean EOF after the half frame; frames=any can cut a heartbeat', async () => {
    const sim = await start({ heartbeatMs: 30 });
    const m = await raw(streamUrl(sim), auth(sim.token, { 'last-event-id': '0-0' }));
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    sim.control.cutConnections({ mode: 'mid-message', ending: 'end', frames: 'any' });
    sim.control.createIndicator({ pattern: ip(1) });
    expect(await m.ended).toBe('end');
    expect(m.text().endsWith('\n\n')).toBe(false);
  });

  it('the eventsource client drops a half-received message and resumes with the right Last-Event-ID', async () => {
    const sim = await start();
    const refs = [1, 2, 3].map((n) => sim.control.createIndicator({ pattern: ip(n) }));
    const es = openEventSource(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    open.push(es);
    await waitFor(
      () => es.messages.some((m) => m.id === refs[2]?.eventId && m.event === 'create' && json(m).type),
      {
        what: 'first three',
      },
    );
    sim.control.cutConnections({ mode: 'mid-message' });
    const four = sim.control.createIndicator({ pattern: ip(4) });
    // Reconnection (the library waits 3 s) resumes after the last complete id and gets the 4th event once.
    await waitFor(() => es.messages.some((m) => m.id === four.eventId && json(m).type), {
      what: 'the 4th',
      timeoutMs: 15_000,
    });
    const mains = es.messages.filter((m) => m.event === 'create' && json(m).type);
    expect(mains.map((m) => m.id)).toEqual([...refs.map((r) => r.eventId), four.eventId]);
    const attempts = sim.control.connectionLog();
    expect(attempts).toHaveLength(2);
    expect(attempts[1]?.headers['last-event-id']).toBe(refs[2]?.eventId);
  });

  it('failNextConnections answers the next requests with a status (or a reset socket)', async () => {
    const sim = await start();
    sim.control.failNextConnections({ status: 502, statusMessage: 'Bad Gateway', count: 2 });
    sim.control.failNextConnections({ status: 'reset' });
    expect((await raw(streamUrl(sim), auth(sim.token))).status).toBe(502);
    expect((await raw(streamUrl(sim), auth(sim.token))).status).toBe(502);
    await expect(openRaw(streamUrl(sim), auth(sim.token))).rejects.toThrow();
    expect((await raw(streamUrl(sim), auth(sim.token))).status).toBe(200);
    expect(sim.control.connectionLog().map((a) => a.status)).toEqual([502, 502, 'reset', 200]);
  });

  it('token revoked: open streams stay, new connections get 401; restored: 200', async () => {
    const sim = await start();
    const r = await raw(streamUrl(sim), auth(sim.token, { 'no-dependencies': 'true' }));
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    sim.control.revokeToken();
    expect((await raw(streamUrl(sim), auth(sim.token))).status).toBe(401);
    const a = sim.control.createIndicator({ pattern: ip(1) });
    await framesUntil(r, (f) => f.some((x) => x.id === a.eventId), 'event on the open stream');
    sim.control.restoreToken();
    expect((await raw(streamUrl(sim), auth(sim.token))).status).toBe(200);
  });

  it('stopping the stream ends open connections cleanly, then 410', async () => {
    const sim = await start();
    const r = await raw(streamUrl(sim), auth(sim.token));
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    sim.control.stopStream();
    expect(await r.ended).toBe('end');
    expect((await raw(streamUrl(sim), auth(sim.token))).status).toBe(410);
  });

  it('multi-MB events arrive intact through the eventsource client', async () => {
    const sim = await start();
    const description = 'é'.repeat(3 * 1024 * 1024); // 6 MB of UTF-8, split across many chunks
    const a = sim.control.createIndicator({ pattern: ip(1), description });
    const es = openEventSource(
      streamUrl(sim),
      auth(sim.token, { 'last-event-id': '0-0', 'no-dependencies': 'true' }),
    );
    open.push(es);
    const msg = await waitFor(() => es.messages.find((m) => m.id === a.eventId && json(m).type), {
      what: 'big event',
    });
    expect(json(msg).data.description).toBe(description);
    const big = sim.control.appendEvent({
      event: 'create',
      data: { version: '4', blob: 'x'.repeat(5_000_000) },
    });
    const rawMsg = await waitFor(() => es.messages.find((m) => m.id === big.id), { what: 'raw big event' });
    expect(json(rawMsg).blob).toHaveLength(5_000_000);
  });

  it('switches: consumer_metrics, unknown events, no-recover, error event; duplicate frames', async () => {
    const sim = await start({ heartbeatMs: 30, switches: { consumerMetrics: true, unknownEvents: true } });
    const a = sim.control.createIndicator({ pattern: ip(1) });
    const r = await raw(streamUrl(sim), auth(sim.token, { 'last-event-id': '0-0' }));
    const fs = await framesUntil(
      r,
      (f) =>
        f.some((x) => x.event === 'consumer_metrics') && f.some((x) => x.event === 'unknown_future_event'),
      'newer events',
    );
    const metrics = fs.find((f) => f.event === 'consumer_metrics') as Frame;
    expect(metrics.id).toMatch(ID_RE);
    expect(Object.keys(json(metrics)).sort()).toEqual(
      [
        'deliveryRate',
        'estimatedOutOfDepth',
        'processingRate',
        'productionRate',
        'resolutionRate',
        'timeLag',
      ].sort(),
    );
    for (const v of Object.values(json(metrics))) expect(typeof v).toBe('number');
    expect(fs.find((f) => f.event === 'unknown_future_event')?.id).toBeUndefined();

    sim.control.setSwitches({ consumerMetrics: false, unknownEvents: false, noRecover: true });
    const nr = await raw(
      streamUrl(sim, `?recover=${new Date(Date.now() + 60_000).toISOString()}`),
      auth(sim.token, { 'last-event-id': '0-0' }),
    );
    const nfs = await framesUntil(nr, (f) => f.some((x) => x.event === 'no-recover'), 'no-recover');
    const noRec = nfs.find((f) => f.event === 'no-recover') as Frame;
    expect(noRec.id).toMatch(/^\d+-0$/);
    expect(Object.keys(json(noRec)).sort()).toEqual(['message', 'resume_from', 'stream']);
    expect(json(noRec).resume_from).toBe('0-0');
    await framesUntil(
      nr,
      (f) => f.some((x) => x.id === a.eventId && json(x).type),
      'history after no-recover',
    );

    r.close();
    nr.close();
    await waitFor(() => sim.control.connections().length === 0, { what: 'closed' });
    sim.control.setSwitches({ noRecover: false, errorEvent: true });
    const er = await raw(streamUrl(sim), auth(sim.token));
    expect(await er.ended).toBe('end');
    const errFrame = er.frames().find((f) => f.event === 'error') as Frame;
    expect(errFrame.id).toBeUndefined();
    expect(Object.keys(json(errFrame)).sort()).toEqual(['message', 'stream']);

    sim.control.setSwitches({ errorEvent: false });
    const dup = await raw(streamUrl(sim), auth(sim.token, { 'no-dependencies': 'true' }));
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    const b = sim.control.createIndicator({ pattern: ip(2) });
    await framesUntil(dup, (f) => f.some((x) => x.id === b.eventId && json(x).type), 'b');
    // Dependencies already sent on this connection: the next data frame is c itself.
    sim.control.setSwitches({ duplicateFrames: 1 });
    const c = sim.control.createIndicator({ pattern: ip(3) });
    const d = sim.control.createIndicator({ pattern: ip(4) });
    await framesUntil(dup, (f) => f.some((x) => x.id === d.eventId), 'd');
    expect(
      dataFrames(dup)
        .filter((f) => json(f).type)
        .map((f) => f.id),
    ).toEqual([b.eventId, c.eventId, c.eventId, d.eventId]);

    const live = await raw(streamUrl(sim), auth(sim.token));
    await waitFor(() => sim.control.connections().length === 2, { what: 'two conns' });
    expect(sim.control.sendErrorEvent({ message: 'boom' })).toBe(2);
    expect(await live.ended).toBe('end');
    expect(live.frames().at(-1)?.event).toBe('error');
  });

  it('raw events are delivered verbatim, with or without an id', async () => {
    const sim = await start();
    const r = await raw(streamUrl(sim), auth(sim.token));
    await waitFor(() => sim.control.connections().length === 1, { what: 'conn' });
    sim.control.appendEvent({ event: 'create', data: '{not json' });
    sim.control.appendEvent({ event: 'future_thing', data: { a: 1 }, noId: true });
    const last = sim.control.appendEvent({ event: 'update', data: { version: '4' }, id: '99999999999999-5' });
    await framesUntil(r, (f) => f.some((x) => x.id === last.id), 'raw events');
    const fs = dataFrames(r);
    expect(fs.map((f) => [f.event, f.data, f.id === undefined])).toEqual([
      ['create', '{not json', false],
      ['future_thing', '{"a":1}', true],
      ['update', '{"version":"4"}', false],
    ]);
    expect(() => sim.control.appendEvent({ event: 'x', data: {}, id: '1-0' })).toThrow(/not above/);
  });

  it('inspects open connections with the headers they sent (token masked)', async () => {
    const sim = await start();
    await raw(
      streamUrl(sim, '?recover=2025-01-01T00:00:00Z'),
      auth(sim.token, {
        'last-event-id': '0-0',
        'listen-delete': 'true',
        'no-dependencies': 'true',
        'with-inferences': 'false',
      }),
    );
    const [c] = await waitFor(
      () => (sim.control.connections().length === 1 ? sim.control.connections() : undefined),
      {
        what: 'conn',
      },
    );
    expect(c?.headers).toMatchObject({
      authorization: 'Bearer ***',
      'last-event-id': '0-0',
      'listen-delete': 'true',
      'no-dependencies': 'true',
      'with-inferences': 'false',
    });
    expect(c?.url).toContain('recover=2025-01-01T00%3A00%3A00Z'.replace('%3A', ':').replace('%3A', ':'));
    expect(JSON.stringify(sim.control.connectionLog())).not.toContain(sim.token);
  });
});
