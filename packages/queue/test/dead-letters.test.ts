import type { IndicatorJob } from '@octi-sekoia/model';
import { type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addDeadLetter,
  type ConnectorQueues,
  createQueues,
  deadLetterId,
  getDeadLetter,
  listDeadLetters,
  removeDeadLetter,
  replayDeadLetter,
  startDeadLetterParker,
} from '../src/index.ts';

const job: IndicatorJob = {
  kind: 'indicator',
  generation: 1,
  eventId: '1700000000000-0',
  op: 'upsert',
  indicatorId: 'ind-1',
  stixId: 'indicator--1',
  attributes: { validFrom: '2024-01-01T00:00:00.000Z', killChainPhases: [], description: 'd' },
  values: ['1.2.3.4'],
};

describe('dead letters', () => {
  let r: TestRedis;
  let q: ConnectorQueues;
  beforeEach(async () => {
    r = await testRedis('dlq');
    q = createQueues(r.connect(), r.prefix, 'conn-1');
  });
  afterEach(async () => {
    await q.close();
    await r.cleanup();
  });

  it('keeps one entry per subject and counts sightings, redacting the error', async () => {
    const redact = (s: string) => s.replaceAll('sk-secret', '[redacted]');
    let t = Date.parse('2026-01-01T00:00:00.000Z');
    const now = () => new Date(t);
    const id1 = await addDeadLetter(
      q,
      { kind: 'job', payload: job, error: new Error('401 with key sk-secret') },
      { redact, now },
    );
    t += 60_000;
    const id2 = await addDeadLetter(
      q,
      { kind: 'job', payload: job, error: 'still failing sk-secret' },
      { redact, now },
    );
    expect(id2).toBe(id1);
    expect(id1).toBe(deadLetterId('job', 'g1-1700000000000-0-ind-1'));
    const dl = await getDeadLetter(q, id1);
    expect(dl).toMatchObject({
      kind: 'job',
      subject: 'g1-1700000000000-0-ind-1',
      payload: job,
      error: 'still failing [redacted]',
      attempts: 2,
      firstSeen: '2026-01-01T00:00:00.000Z',
      lastSeen: '2026-01-01T00:01:00.000Z',
    });
    expect(await r.client.hget(q.keys.queueKey(q.keys.queues.deadLetters, id1), 'data')).not.toContain(
      'sk-secret',
    );
    expect(await listDeadLetters(q)).toHaveLength(1);
  });

  it('counts every sighting when many writers add the same subject at once', async () => {
    const writers = Array.from({ length: 3 }, () => createQueues(r.connect(), r.prefix, 'conn-1'));
    try {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          addDeadLetter(writers[i % 3]!, {
            kind: 'value',
            payload: { value: 'evil.example', reason: `400 #${i}` },
            error: `400 #${i}`,
          }),
        ),
      );
    } finally {
      await Promise.all(writers.map((w) => w.close()));
    }
    const all = await listDeadLetters(q);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ kind: 'value', subject: 'evil.example', attempts: 30 });
  });

  it('lists by kind and removes', async () => {
    await addDeadLetter(q, {
      kind: 'event',
      payload: { id: '1-1', event: 'create', data: '{bad' },
      error: 'bad JSON',
    });
    const vid = await addDeadLetter(q, {
      kind: 'value',
      payload: { value: 'x.example', reason: 'r' },
      error: 'r',
    });
    expect((await listDeadLetters(q, { kind: 'value' })).map((d) => d.id)).toEqual([vid]);
    expect(await listDeadLetters(q)).toHaveLength(2);
    expect(await removeDeadLetter(q, vid)).toBe(true);
    expect(await removeDeadLetter(q, vid)).toBe(false);
    expect(await getDeadLetter(q, vid)).toBeUndefined();
    // A new sighting after removal starts a fresh count.
    await addDeadLetter(q, { kind: 'value', payload: { value: 'x.example', reason: 'r' }, error: 'r' });
    expect((await getDeadLetter(q, vid))?.attempts).toBe(1);
  });

  it('replays each kind to where it belongs and removes the entry', async () => {
    const dirtied: string[] = [];
    const handlers = { markValueDirty: async (v: string) => void dirtied.push(v) };
    const jid = await addDeadLetter(q, { kind: 'job', payload: job, error: 'e' });
    const vid = await addDeadLetter(q, {
      kind: 'value',
      payload: { value: 'x.example', reason: 'r' },
      error: 'r',
    });
    const raw = { id: '5-0', event: 'update', data: '{"x":' };
    const eid = await addDeadLetter(q, { kind: 'event', payload: raw, error: 'bad JSON' });

    const j = await replayDeadLetter(q, jid, handlers);
    expect(j?.kind).toBe('job');
    const requeued = await q.indicators.getJob(j?.kind === 'job' ? j.newJobId : '');
    expect(requeued?.data).toEqual(job);
    expect(requeued?.id).toMatch(/^g1-1700000000000-0-ind-1-replay-\d+$/);

    expect(await replayDeadLetter(q, vid, handlers)).toEqual({ kind: 'value', value: 'x.example' });
    expect(dirtied).toEqual(['x.example']);

    expect(await replayDeadLetter(q, eid, handlers)).toEqual({ kind: 'event', list: q.keys.replayedEvents });
    expect((await r.client.lrange(q.keys.replayedEvents, 0, -1)).map((s) => JSON.parse(s))).toEqual([raw]);

    expect(await listDeadLetters(q)).toEqual([]);
    expect(await replayDeadLetter(q, jid, handlers)).toBeUndefined();
  });

  it('parks new entries in failed and replays one sent back with Retry', async () => {
    const dirtied: string[] = [];
    const parker = startDeadLetterParker(q, r.connect(), {
      markValueDirty: async (v) => void dirtied.push(v),
    });
    try {
      const vid = await addDeadLetter(q, {
        kind: 'value',
        payload: { value: 'y.example', reason: 'r' },
        error: 'r',
      });
      await waitFor(async () => (await getDeadLetter(q, vid))?.state === 'failed', {
        what: 'parked in failed',
      });
      // A later sighting updates the parked entry in place.
      await addDeadLetter(q, { kind: 'value', payload: { value: 'y.example', reason: 'r2' }, error: 'r2' });
      expect(await getDeadLetter(q, vid)).toMatchObject({ state: 'failed', attempts: 2, error: 'r2' });
      // What Bull Board's Retry does.
      await (await q.deadLetters.getJob(vid))?.retry('failed');
      await waitFor(() => dirtied.length === 1, { what: 'value replayed' });
      expect(dirtied).toEqual(['y.example']);
      await waitFor(async () => (await getDeadLetter(q, vid)) === undefined, { what: 'entry gone' });
    } finally {
      await parker.close();
    }
  });
});
