// Tombstones bounded by the work that could still bring an older event (prune-tombstones.lua), not by time: once
// no job of their generation older than them is pending, dead-lettered or after ingest's checkpoint, they go,
// and their index with them; while one is, they stay and the older job is still refused.
import { jobId } from '@octi-sekoia/model';
import { addDeadLetter, type ConnectorQueues, createQueues, QUEUE_INDICATORS } from '@octi-sekoia/queue';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PruneRun, SyncState } from '../src/index.ts';
import { sweepUnseen } from '../src/sweep.ts';
import { remove, upsert } from './helpers.ts';

describe('tombstone prune', () => {
  let r: TestRedis;
  let state: SyncState;
  let queues: ConnectorQueues;
  beforeEach(async () => {
    r = await testRedis('tprune');
    state = new SyncState(r.client, { keyPrefix: r.prefix, connectorId: 'c1', tombstoneMinAgeMs: 0 });
    queues = createQueues(r.client, r.prefix, 'c1');
    await r.client.set(state.keys.generation, '1');
  });
  afterEach(async () => {
    await queues.close();
    await r.cleanup();
  });

  /** What ingest commits (apps/ingest checkpoint-store.ts). */
  const checkpoint = (startFrom: string, generation = 1) =>
    r.client.set(
      state.keys.checkpoint,
      JSON.stringify({ start_from: startFrom, recover_until: null, generation, sweep: null }),
    );
  const records = async () => {
    const names: string[] = [];
    await state.scanKeys(`${state.keys.sync.indicatorPrefix}*`, 1000, async (found) => {
      names.push(...found);
    });
    return names.length;
  };

  it('a burst of deletes, drained and checkpointed past, leaves no tombstone and no index entry; bursts do not add up', async () => {
    await checkpoint('0-0');
    for (let round = 0; round < 3; round++) {
      const base = 10_000 * (round + 1);
      for (let i = 0; i < 300; i++)
        await state.recordDesired(upsert(`r${round}-${i}`, `${base + i}-0`, [`v${i}.example`]));
      for (let i = 0; i < 300; i++)
        await state.recordDesired(remove(`r${round}-${i}`, `${base + 1000 + i}-0`));
      expect(await state.tombstoneCount()).toBe(300);
      // Ingest has not committed past them: a crash would read those events again, so they stay.
      expect((await state.pruneTombstones({ batch: 100 })).pruned).toBe(0);
      expect(await records()).toBe(300);
      // Queue drained (nothing was enqueued here), checkpoint past the burst.
      await checkpoint(`${base + 5000}-0`);
      const p = await state.pruneTombstones({ batch: 100 });
      expect(p).toMatchObject({ pruned: 300, state: 'ok', bound: `${base + 5000}-0` });
      expect(await state.tombstoneCount()).toBe(0);
      expect(await records()).toBe(0);
    }
    expect((await state.counters())['tombstones-pruned']).toBe(900);
  });

  it('keeps a tombstone while an older job of its indicator is pending, dead-lettered or after the checkpoint; the older job is still refused', async () => {
    await state.recordDesired(upsert('x', '100-0', ['x.example']));
    await state.recordDesired(remove('x', '200-0'));
    await state.recordDesired(upsert('y', '110-0', ['y.example']));
    await state.recordDesired(remove('y', '120-0'));
    const older = upsert('x', '150-0', ['x.example']);

    // After the checkpoint: ingest may enqueue it again.
    await checkpoint('180-0');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1, bound: '180-0' }); // y (120-0) only
    expect(await state.readIndicator('x')).toMatchObject({ live: false, eventId: '200-0' });
    expect((await state.recordDesired(older)).outcome).toBe('stale');

    // Pending in the indicators queue (waiting, then delayed as a retry): it holds back x's tombstone only.
    await state.recordDesired(upsert('w', '130-0', ['w.example']));
    await state.recordDesired(remove('w', '140-0'));
    await checkpoint('900-0');
    const job = await queues.indicators.add('upsert', older, { jobId: jobId(older) });
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1, bound: '900-0' }); // w
    expect(await state.readIndicator('w')).toBeUndefined();
    await job.remove();
    const retry = await queues.indicators.add('upsert', older, {
      jobId: `${jobId(older)}-replay-1`,
      delay: 60_000,
    });
    expect(await queues.indicators.getJobState(retry.id ?? '')).toBe('delayed');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0, bound: '900-0' });
    expect((await state.recordDesired(older)).outcome).toBe('stale');
    await retry.remove();

    // A dead letter of kind job a replay could bring back; then one of kind event (replayed with the current
    // generation and its own id).
    const dl = await addDeadLetter(queues, { kind: 'job', payload: older, error: 'boom' });
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0, bound: '900-0' });
    await queues.deadLetters.remove(dl);
    const ev = await addDeadLetter(queues, {
      kind: 'event',
      payload: { id: '160-0', event: 'update', data: '{}' },
      error: 'malformed',
    });
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0, bound: '160-0' });
    await queues.deadLetters.remove(ev);
    // A dead letter of an older generation could only bring a job the counter refuses.
    await addDeadLetter(queues, { kind: 'job', payload: { ...older, generation: 0 }, error: 'boom' });
    // An event sent back and not yet popped by ingest.
    await r.client.rpush(
      state.keys.replayedEvents,
      JSON.stringify({ id: '170-0', event: 'update', data: '{}' }),
    );
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0, bound: '170-0' });
    expect((await state.recordDesired(older)).outcome).toBe('stale');
    await r.client.del(state.keys.replayedEvents);

    // A checkpoint of another generation than the counter's (a generation being started): nothing is known.
    await checkpoint('900-0', 2);
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0, bound: '0-0' });

    // Nothing older left anywhere: it goes, and its index entry with it.
    await checkpoint('900-0');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1, bound: '900-0' });
    expect(await state.readIndicator('x')).toBeUndefined();
    expect(await state.tombstoneCount()).toBe(0);
  });

  it('keeps young tombstones (a reader paused past its lease), refuses to scan a large backlog, drops older generations', async () => {
    const young = new SyncState(r.client, {
      keyPrefix: r.prefix,
      connectorId: 'c1',
      tombstoneMinAgeMs: 60_000,
    });
    await young.recordDesired(upsert('x', '100-0', ['x.example']));
    await young.recordDesired(remove('x', '200-0'));
    await checkpoint('900-0');
    expect((await young.pruneTombstones()).pruned).toBe(0);
    expect(await young.tombstoneCount()).toBe(1);

    await queues.indicators.addBulk(
      [1, 2, 3].map((i) => {
        const j = upsert(`q${i}`, `${1000 + i}-0`, []);
        return { name: 'upsert', data: j, opts: { jobId: jobId(j) } };
      }),
    );
    expect(await state.pruneTombstones({ maxPending: 2 })).toMatchObject({ pruned: 0, state: 'busy' });
    expect(await state.pruneTombstones({ maxPending: 3 })).toMatchObject({ pruned: 1, state: 'ok' });

    // A tombstone of generation 1 once the counter holds 2: jobs of 1 are refused by the counter.
    await state.recordDesired(upsert('z', '5000-0', ['z.example']));
    await state.recordDesired(remove('z', '6000-0'));
    await r.client.set(state.keys.generation, '2');
    await checkpoint('7000-0', 2);
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1 });
    expect((await state.recordDesired(upsert('z', '5500-0', ['z.example']))).outcome).toBe(
      'stale-generation',
    );
  });

  it('steps over kept entries: 600 held back by their own dead letters at the front, 300 prunable behind them go', async () => {
    await checkpoint('0-0');
    for (let i = 0; i < 600; i++) {
      await state.recordDesired(upsert(`held${i}`, `${1000 + i}-0`, [`h${i}.example`]));
      await state.recordDesired(remove(`held${i}`, `${3000 + i}-0`));
      // An older job of its own indicator dead-lettered (a recovery's remove at `<updated_at>-0`, say).
      await addDeadLetter(queues, {
        kind: 'job',
        payload: upsert(`held${i}`, `${2000 + i}-0`, []),
        error: 'boom',
      });
    }
    for (let i = 0; i < 300; i++) {
      await state.recordDesired(upsert(`free${i}`, `${5000 + i}-0`, [`f${i}.example`]));
      await state.recordDesired(remove(`free${i}`, `${6000 + i}-0`));
    }
    await checkpoint('90000-0');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 300, state: 'ok', bound: '90000-0' });
    expect(await state.tombstoneCount()).toBe(600);
    expect(await state.readIndicator('free299')).toBeUndefined();
    expect(await state.readIndicator('held0')).toMatchObject({ live: false, eventId: '3000-0' });
  });

  it('resumes each step after the last entry looked at, pruned or kept, within one millisecond too', async () => {
    await checkpoint('0-0');
    // 20 tombstones of one millisecond (one index score, ordered by id), every other one held back.
    for (let i = 0; i < 20; i++) {
      const id = `m${String(i).padStart(2, '0')}`;
      await state.recordDesired(upsert(id, '1000-0', [`${id}.example`]));
      await state.recordDesired(remove(id, `4000-${i + 1}`));
      if (i % 2 === 0)
        await addDeadLetter(queues, { kind: 'job', payload: upsert(id, '2000-0', []), error: 'boom' });
    }
    await checkpoint('90000-0');
    // Steps of 3: some end on an entry they pruned (gone when the next step resumes), some on one they kept.
    expect(await state.pruneTombstones({ batch: 3 })).toMatchObject({ pruned: 10, state: 'ok' });
    expect(await state.tombstoneCount()).toBe(10);
    expect(await state.readIndicator('m19')).toBeUndefined();
    expect(await state.readIndicator('m18')).toMatchObject({ live: false, eventId: '4000-19' });
  });

  it('a step resumes after its cursor: still there, gone since, or indexed again under another score', async () => {
    await checkpoint('90000-0');
    const tomb = async (id: string, at: string) => {
      await state.recordDesired(upsert(id, '10-0', [`${id}.example`]));
      await state.recordDesired(remove(id, at));
    };
    await tomb('q', '3000-1');
    for (const [i, id] of ['a', 'b', 'c', 'd', 'e'].entries()) await tomb(id, `4000-${i + 1}`);
    const left = () => r.client.zrange(state.keys.sync.tombstones, '0', '-1');
    // Still there (same score): after it.
    expect(await state.pruneTombstonesStep({}, { score: '4000', id: 'c' })).toMatchObject({ pruned: 2 });
    expect(await left()).toEqual(['q', 'a', 'b', 'c']);
    // Gone since: after where it would be ('ab' sorts between a and b), and not left in the index.
    expect(await state.pruneTombstonesStep({}, { score: '4000', id: 'ab' })).toMatchObject({ pruned: 2 });
    expect(await left()).toEqual(['q', 'a']);
    // Indexed again under another score ('a' was at 3500 when the cursor was taken): from its old score on.
    expect(await state.pruneTombstonesStep({}, { score: '3500', id: 'a' })).toMatchObject({ pruned: 1 });
    expect(await left()).toEqual(['q']);
    // A full step hands back its last entry; the following step resumes after it.
    await tomb('f', '4000-6');
    const first = await state.pruneTombstonesStep({ batch: 1 });
    expect(first).toMatchObject({ pruned: 1, next: { score: '3000', id: 'q' } });
    expect(await state.pruneTombstonesStep({ batch: 1 }, first.next)).toMatchObject({
      pruned: 1,
      next: { score: '4000', id: 'f' },
    });
    const last = await state.pruneTombstonesStep({ batch: 1 }, { score: '4000', id: 'f' });
    expect(last).toMatchObject({ pruned: 0, state: 'ok' });
    expect(last.next).toBeUndefined();
    expect(await left()).toEqual([]);
  });

  it('holds back an indicator whose id contains -replay, under both spellings of a replayed job', async () => {
    await checkpoint('900-0');
    await state.recordDesired(upsert('x-replay-1', '100-0', ['x.example']));
    await state.recordDesired(remove('x-replay-1', '200-0'));
    const older = upsert('x-replay-1', '150-0', ['x-replay-1.example']);
    // A dead letter replayed (`<jobId>-replay-<ms>`, packages/queue dead-letters.ts), then one of ingest's
    // operator inbox (`<jobId>-replay`).
    for (const suffix of ['-replay-1765000000000', '-replay']) {
      const job = await queues.indicators.add('upsert', older, { jobId: `${jobId(older)}${suffix}` });
      expect(await state.pruneTombstones()).toMatchObject({ state: 'ok', bound: '900-0' });
      expect(await state.readIndicator('x-replay-1')).toMatchObject({ live: false, eventId: '200-0' });
      expect((await state.recordDesired(older)).outcome).toBe('stale');
      await job.remove();
    }
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1 });
    expect(await state.readIndicator('x-replay-1')).toBeUndefined();
  });

  it('active and prioritized jobs hold back their tombstone; a newer own job does not; bounds are strict within a millisecond', async () => {
    await checkpoint('900-0');
    const tomb = async (id: string, at: string) => {
      await state.recordDesired(upsert(id, '10-0', [`${id}.example`]));
      await state.recordDesired(remove(id, at));
    };
    const older = (id: string, at = '150-0') => upsert(id, at, [`${id}.example`]);

    // Prioritized.
    await tomb('p', '200-0');
    const pj = await queues.indicators.add('upsert', older('p'), { jobId: jobId(older('p')), priority: 5 });
    expect(await queues.indicators.getJobState(pj.id ?? '')).toBe('prioritized');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0 });
    await pj.remove();

    // Active: taken by a worker (BullMQ's moveToActive moves the id from wait to active).
    await tomb('a', '200-0');
    const aj = await queues.indicators.add('upsert', older('a'), { jobId: jobId(older('a')) });
    await r.client.lmove(
      state.keys.queueKey(QUEUE_INDICATORS, 'wait'),
      state.keys.queueKey(QUEUE_INDICATORS, 'active'),
      'RIGHT',
      'LEFT',
    );
    expect(await queues.indicators.getJobState(aj.id ?? '')).toBe('active');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1 }); // p only
    expect(await state.readIndicator('p')).toBeUndefined();
    expect(await state.readIndicator('a')).toMatchObject({ live: false });
    await r.client.del(state.keys.queueKey(QUEUE_INDICATORS, 'active'));
    await aj.remove();
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1 }); // a
    expect(await state.tombstoneCount()).toBe(0);

    // An own job newer than T (a later upsert waiting): the tombstone refuses nothing that may come.
    await tomb('n', '300-2');
    const nj = await queues.indicators.add('upsert', older('n', '300-3'), {
      jobId: jobId(older('n', '300-3')),
    });
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1 });
    expect(await state.readIndicator('n')).toBeUndefined();
    await nj.remove();

    // An own job with T's very id (a dependency message reuses its event's id): kept.
    await tomb('s', '300-2');
    const sj = await queues.indicators.add('upsert', older('s', '300-2'), {
      jobId: jobId(older('s', '300-2')),
    });
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0 });
    await sj.remove();
    // The checkpoint at T, or past it within T's millisecond: kept; past T's millisecond: gone.
    await checkpoint('300-2');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0, bound: '300-2' });
    await checkpoint('300-9');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 0, bound: '300-9' });
    await checkpoint('301-0');
    expect(await state.pruneTombstones()).toMatchObject({ pruned: 1, bound: '301-0' });
    expect(await state.tombstoneCount()).toBe(0);
  });

  it('one run per connector at a time: another worker skips while a run holds the lease; a run whose lease went to another stops', async () => {
    await checkpoint('90000-0');
    const tomb = async (id: string, at: string) => {
      await state.recordDesired(upsert(id, '10-0', [`${id}.example`]));
      await state.recordDesired(remove(id, at));
    };
    for (let i = 0; i < 6; i++) await tomb(`t${i}`, `4000-${i + 1}`);
    const second = r.client.duplicate();
    try {
      const other = new SyncState(second, { keyPrefix: r.prefix, connectorId: 'c1', tombstoneMinAgeMs: 0 });
      const lease = state.keys.sync.pruneLease;
      const seen: PruneRun[] = [];
      const ttls: number[] = [];
      // Steps of 2 entries (the batch: fewer than the least per step); the other worker's run comes during the first
      // one's.
      const run = await state.pruneTombstones({
        batch: 2,
        onStep: async () => {
          ttls.push(await r.client.pttl(lease));
          if (seen.length === 0) seen.push(await other.pruneTombstones());
        },
      });
      expect(seen).toEqual([{ pruned: 0, state: 'skipped', more: false, steps: 0, redisMs: 0 }]);
      expect(run).toMatchObject({ pruned: 6, state: 'ok', more: false, steps: 4 });
      // Held with a TTL (a crashed worker holds it that long at most), renewed by each step; released at the end.
      for (const ttl of ttls) expect(ttl > 0 && ttl <= 30_000).toBe(true);
      expect(await r.client.exists(lease)).toBe(0);
      expect(await other.pruneTombstones()).toMatchObject({ state: 'ok', more: false });

      // The lease lapsed and another worker took it: the run's next step does nothing, its release leaves the
      // other's lease alone.
      for (let i = 0; i < 4; i++) await tomb(`u${i}`, `5000-${i + 1}`);
      const lost = await state.pruneTombstones({
        batch: 2,
        onStep: async () => {
          await r.client.set(lease, 'another-worker', 'PX', 30_000);
        },
      });
      expect(lost).toMatchObject({ pruned: 2, state: 'lease-lost', steps: 2 });
      expect(await state.tombstoneCount()).toBe(2);
      expect(await r.client.get(lease)).toBe('another-worker');
      expect(await other.pruneTombstones()).toMatchObject({ pruned: 0, state: 'skipped' });
      await r.client.del(lease);
    } finally {
      second.disconnect();
    }
  });

  it('a run stops at its Redis time budget; the next run, on another worker, resumes where it stopped, past kept entries', async () => {
    await checkpoint('90000-0');
    // 2,000 waiting jobs of other indicators (the pass every step pays), and 400 tombstones at the front of the
    // index held back by an older job of their own indicator, pending; 200 prunable ones behind them.
    const other = (i: number) => upsert(`busy${i}`, `${20_000 + i}-0`, []);
    const held = (i: number) => upsert(`h${String(i).padStart(3, '0')}`, '2000-0', []);
    const jobs = [
      ...Array.from({ length: 2000 }, (_, i) => other(i)),
      ...Array.from({ length: 400 }, (_, i) => held(i)),
    ];
    for (let i = 0; i < jobs.length; i += 500)
      await queues.indicators.addBulk(
        jobs.slice(i, i + 500).map((j) => ({ name: 'upsert', data: j, opts: { jobId: jobId(j) } })),
      );
    for (let i = 0; i < 400; i++) {
      const id = `h${String(i).padStart(3, '0')}`;
      await state.recordDesired(upsert(id, '1000-0', [`${id}.example`]));
      await state.recordDesired(remove(id, `3000-${i + 1}`));
    }
    for (let i = 0; i < 200; i++) {
      await state.recordDesired(upsert(`f${i}`, '1000-0', [`f${i}.example`]));
      await state.recordDesired(remove(`f${i}`, `5000-${i + 1}`));
    }
    const second = r.client.duplicate();
    try {
      const workers = [
        state,
        new SyncState(second, { keyPrefix: r.prefix, connectorId: 'c1', tombstoneMinAgeMs: 0 }),
      ];
      // A budget of 0 ms: one step per run, of 200 entries (the batch: fewer than the least per step).
      const opts = { batch: 200, maxRunMs: 0 };
      const runs: PruneRun[] = [];
      for (let i = 0; i < 4; i++) runs.push(await workers[i % 2]!.pruneTombstones(opts));
      expect(runs.map((r) => [r.steps, r.pruned, r.more])).toEqual([
        [1, 0, true], // h000..h199, kept
        [1, 0, true], // h200..h399, kept: the second worker resumed after the first's run
        [1, 200, true], // f0..f199
        [1, 0, false], // the end of the index below the bound
      ]);
      expect(await r.client.exists(state.keys.sync.pruneCursor)).toBe(0);
      expect(await state.tombstoneCount()).toBe(400);
      expect(await state.readIndicator('f199')).toBeUndefined();
      expect(await state.readIndicator('h399')).toMatchObject({ live: false, eventId: '3000-400' });
      // The next run starts from the start again: the kept ones are looked at, and kept.
      expect(await workers[1]!.pruneTombstones(opts)).toMatchObject({ pruned: 0, more: true, steps: 1 });
      expect(await state.readIndicator('h000')).toMatchObject({ live: false });
    } finally {
      second.disconnect();
    }
  });

  /** `n` tombstones below the bound written as record-desired.lua writes them (record with its TTL, index entry). */
  const tombstones = async (n: number) => {
    const k = state.keys.sync;
    for (let i = 0; i < n; i += 1000) {
      const m = r.client.multi();
      for (let j = i; j < Math.min(n, i + 1000); j++) {
        m.set(
          `${k.indicatorPrefix}t${j}`,
          JSON.stringify([1, `${1000 + j}-0`, 0, [], '', '']),
          'PX',
          state.tombstoneTtlMs,
        );
        m.zadd(k.tombstones, 1000 + j, `t${j}`);
      }
      await m.exec();
    }
  };

  it('a run stops once its steps took its time bound, with more; the next runs resume there until the index is done (on Redis 7.2+ too, where TIME does not move within a script)', async () => {
    await checkpoint('99999999-0');
    // 6,000 tombstones all kept (younger than the least age): every run walks on from where the previous stopped.
    const young = new SyncState(r.client, {
      keyPrefix: r.prefix,
      connectorId: 'c1',
      tombstoneMinAgeMs: 3_600_000,
    });
    await tombstones(6000);
    // Steps of 200 entries: 30 for the whole index, far more than 2 ms of Redis time in all.
    const runs: PruneRun[] = [];
    const stepUs: number[][] = [];
    let looked = 0;
    for (;;) {
      const us: number[] = [];
      const run = await young.pruneTombstones({
        batch: 200,
        maxRunMs: 2,
        onStep: (st) => {
          us.push(st.redisUs);
          looked += st.looked ?? 0;
        },
      });
      runs.push(run);
      stepUs.push(us);
      if (!run.more || runs.length > 30) break;
    }
    // The first run stopped at its bound with the index not done.
    expect(runs[0]).toMatchObject({ state: 'ok', pruned: 0, more: true });
    expect(runs[0]!.steps).toBeLessThan(30);
    // Each run stopped after the step that brought its steps' time to the bound, not before (the last run: at the
    // end of the index).
    runs.forEach((run, i) => {
      const us = stepUs[i]!;
      const before = us.slice(0, -1).reduce((a, b) => a + b, 0);
      expect(before).toBeLessThan(2000);
      if (run.more) expect(before + us[us.length - 1]!).toBeGreaterThanOrEqual(2000);
    });
    expect(runs.length).toBeGreaterThan(1);
    expect(runs[runs.length - 1]!.more).toBe(false);
    // Each run resumed where the previous stopped: every entry looked at once over the runs.
    expect(looked).toBe(6000);
    expect(await r.client.exists(state.keys.sync.pruneCursor)).toBe(0);
    expect(await young.tombstoneCount()).toBe(6000);
  });

  it('a step looks at as many index entries as its pass over the pending jobs is worth, within [minIndex, batch]', async () => {
    await checkpoint('99999999-0');
    await tombstones(3000);
    // 2,000 waiting jobs of other indicators, 400 dead letters: 2,400 passed over by every step.
    const jobs = Array.from({ length: 2000 }, (_, i) => upsert(`busy${i}`, `${200_000_000 + i}-0`, []));
    for (let i = 0; i < jobs.length; i += 500)
      await queues.indicators.addBulk(
        jobs.slice(i, i + 500).map((j) => ({ name: 'upsert', data: j, opts: { jobId: jobId(j) } })),
      );
    for (let i = 0; i < 400; i++)
      await addDeadLetter(queues, {
        kind: 'job',
        payload: upsert(`dl${i}`, `${200_000_000 + i}-0`, []),
        error: 'x',
      });
    const young = new SyncState(r.client, {
      keyPrefix: r.prefix,
      connectorId: 'c1',
      tombstoneMinAgeMs: 3_600_000,
    });
    // 0.25 an entry per pending one: 600 entries.
    const first = await young.pruneTombstonesStep({ minIndex: 100, indexPerPending: 0.25 });
    expect(first).toMatchObject({
      state: 'ok',
      pending: 2400,
      looked: 600,
      next: { score: '1599', id: 't599' },
    });
    // The least per step when the pass is worth fewer; the batch when it is worth more.
    expect(
      await young.pruneTombstonesStep({ minIndex: 700, indexPerPending: 0.25 }, first.next),
    ).toMatchObject({
      looked: 700,
      next: { id: 't1299' },
    });
    expect(
      await young.pruneTombstonesStep(
        { minIndex: 100, indexPerPending: 1, batch: 1500 },
        { score: '2299', id: 't1299' },
      ),
    ).toMatchObject({ looked: 1500, next: { id: 't2799' } });
    // Fewer left than the step may look at: the end of the index below the bound, no next.
    const last = await young.pruneTombstonesStep({}, { score: '3799', id: 't2799' });
    expect(last).toMatchObject({ state: 'ok', looked: 200, pruned: 0 });
    expect(last.next).toBeUndefined();
  });

  it('an indicator upserted again leaves the index; the sweep drops the older generations it deletes from it', async () => {
    await state.recordDesired(upsert('x', '100-0', ['x.example']));
    await state.recordDesired(remove('x', '200-0'));
    await state.recordDesired(upsert('x', '300-0', ['x.example']));
    expect(await state.tombstoneCount()).toBe(0);
    await state.recordDesired(remove('x', '400-0'));
    await r.client.set(state.keys.generation, '2');
    await state.recordDesired(upsert('k', '500-0', ['k.example'], { generation: 2 }));
    await sweepUnseen(state, 2);
    expect(await state.tombstoneCount()).toBe(0);
    expect(await records()).toBe(1);
  });
});
