import { hostname, userInfo } from 'node:os';
import { type ConnectorQueues, createQueues, getDeadLetter, keys } from '@octi-sekoia/queue';
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Io } from '../src/io.ts';
import { run } from '../src/run.ts';
import { CONNECTOR_ID, cli, redisEnv } from './helpers.ts';
import { connectorKeys, seedDeadLetters, seedValues } from './seed.ts';

describe('dead-letters', () => {
  let r: TestRedis;
  let q: ConnectorQueues;
  let ids: Awaited<ReturnType<typeof seedDeadLetters>>;
  beforeEach(async () => {
    r = await testRedis('cli-dl');
    q = createQueues(r.connect(), r.prefix, CONNECTOR_ID);
    ids = await seedDeadLetters(q);
  });
  afterEach(async () => {
    await q.close();
    await r.cleanup();
  });

  it('list: every entry with its error, counts by kind, --kind and --limit; exit 1 while any is present', async () => {
    const all = await cli(['dead-letters', 'list'], redisEnv(r));
    expect(all.code).toBe(1);
    expect(all.stderr).toBe('');
    for (const id of Object.values(ids)) expect(all.stdout).toContain(id);
    expect(all.stdout).toMatch(
      new RegExp(`^${ids.value}  value  ×1  last \\S+  evil\\.example\\n    400 invalid value$`, 'm'),
    );
    expect(all.stdout).toContain('3 shown; in all: event 1, job 1, value 1');

    const values = await cli(['dead-letters', 'list', '--kind', 'value', '--json'], redisEnv(r));
    expect(values.code).toBe(1);
    expect(JSON.parse(values.stdout)).toEqual({
      counts: { total: 3, event: 1, job: 1, value: 1 },
      kind: 'value',
      matching: 1,
      shown: 1,
      entries: [
        {
          id: ids.value,
          kind: 'value',
          subject: 'evil.example',
          state: 'waiting',
          attempts: 1,
          firstSeen: expect.any(String),
          lastSeen: expect.any(String),
          error: '400 invalid value',
        },
      ],
    });

    const limited = await cli(['dead-letters', 'list', '--limit=2', '--json'], redisEnv(r));
    expect(JSON.parse(limited.stdout)).toMatchObject({ matching: 3, shown: 2 });

    const bad = await cli(['dead-letters', 'list', '--kind', 'nope'], redisEnv(r));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage error: dead-letters: --kind must be event, job or value, got "nope"');
  });

  it('show: by id or by subject, with the payload; an unknown one is exit 1', async () => {
    const byId = await cli(['dead-letters', 'show', ids.job], redisEnv(r));
    expect(byId.code).toBe(0);
    expect(byId.stdout).toMatch(/^kind: +job$/m);
    expect(byId.stdout).toMatch(/^subject: +g1-1764300000009-0-ind-9$/m);
    expect(byId.stdout).toMatch(/^error: +Redis script error after 25 attempts$/m);
    expect(byId.stdout).toContain('"indicatorId": "ind-9"');

    const bySubject = await cli(['dead-letters', 'show', 'evil.example', '--json'], redisEnv(r));
    expect(bySubject.code).toBe(0);
    expect(JSON.parse(bySubject.stdout)).toMatchObject({
      id: ids.value,
      kind: 'value',
      payload: { value: 'evil.example', reason: '400 invalid value', desiredVersion: 2 },
    });

    const unknown = await cli(['dead-letters', 'show', 'value-0000'], redisEnv(r));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      'error: no dead letter "value-0000" (neither an id nor a subject; see: dead-letters list)',
    );
  });

  it('replay of a value: back in the dirty set, rejection forgotten, dead letter removed', async () => {
    await seedValues(r, 1);
    const k = connectorKeys(r);
    expect(await r.client.zscore(k.sync.dirty, 'evil.example')).toBeNull();
    expect(await r.client.hexists(k.sync.value('evil.example'), 'rej')).toBe(1);

    const res = await cli(['dead-letters', 'replay', ids.value], redisEnv(r));
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      `${ids.value}: value "evil.example" marked dirty: a worker reconciles it again\nreplayed and removed\n`,
    );
    const score = await r.client.zscore(k.sync.dirty, 'evil.example');
    expect(score).not.toBeNull();
    expect(Number(score)).toBeLessThanOrEqual(Date.now());
    expect(await r.client.hexists(k.sync.value('evil.example'), 'rej')).toBe(0);
    expect(await getDeadLetter(q, ids.value)).toBeUndefined();
  });

  it('replay of a job re-enqueues it; of an event queues it for ingest; --all --kind replays that kind', async () => {
    const job = await cli(['dead-letters', 'replay', ids.job, '--json'], redisEnv(r));
    expect(job.code).toBe(0);
    const [replayed] = JSON.parse(job.stdout).replayed;
    expect(replayed).toMatchObject({
      id: ids.job,
      kind: 'job',
      newJobId: expect.stringMatching(/^g1-1764300000009-0-ind-9-replay-\d+$/),
    });
    const enqueued = await q.indicators.getJob(replayed.newJobId);
    expect(enqueued?.data).toMatchObject({ indicatorId: 'ind-9', values: ['9.9.9.9'] });

    const events = await cli(['dead-letters', 'replay', '--all', '--kind', 'event'], redisEnv(r));
    expect(events.code).toBe(0);
    expect(events.stdout).toContain(
      `${ids.event}: queued on ${q.keys.replayedEvents}: ingest reads it again`,
    );
    expect(await r.client.lrange(q.keys.replayedEvents, 0, -1)).toEqual([
      JSON.stringify({ id: '1764300000010-0', event: 'create', data: '{not json' }),
    ]);
    // The value one is still there; --all takes it too, then there is nothing left.
    expect(await getDeadLetter(q, ids.value)).toBeDefined();
    const rest = await cli(['dead-letters', 'replay', '--all'], redisEnv(r));
    expect(rest.stdout).toContain(`${ids.value}: value "evil.example" marked dirty`);
    const none = await cli(['dead-letters', 'list'], redisEnv(r));
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('no dead letters\n');
  });

  it('discard: removes one entry for good, logs who/what/why, prints its payload, counts it by kind', async () => {
    const res = await cli(
      ['dead-letters', 'discard', ids.event, '--reason', 'garbage frame from a test feed (ticket 42)'],
      redisEnv(r),
    );
    expect(res.code).toBe(0);
    expect(await getDeadLetter(q, ids.event)).toBeUndefined();
    // The others stay.
    expect(await getDeadLetter(q, ids.job)).toBeDefined();
    expect(await getDeadLetter(q, ids.value)).toBeDefined();
    const logged = JSON.parse(res.stderr.trim()) as Record<string, unknown>;
    expect(logged).toEqual({
      level: 'warn',
      time: expect.any(String),
      name: 'cli',
      msg: 'dead letter discarded',
      by: `${userInfo().username}@${hostname()}`,
      reason: 'garbage frame from a test feed (ticket 42)',
      id: ids.event,
      kind: 'event',
      subject: '1764300000010-0',
      error: 'malformed event: bad JSON',
    });
    expect(res.stdout).toContain(`discarded ${ids.event} (event 1764300000010-0) by ${userInfo().username}@`);
    expect(res.stdout).toContain('"data": "{not json"');

    // By subject, --json; then the counter as status shows it.
    const value = await cli(
      ['dead-letters', 'discard', 'evil.example', '--reason', 'not ours', '--json'],
      redisEnv(r),
    );
    expect(value.code).toBe(0);
    expect(JSON.parse(value.stdout)).toMatchObject({
      discarded: { id: ids.value, kind: 'value', payload: { value: 'evil.example' } },
      reason: 'not ours',
    });
    expect(await r.client.hgetall(keys(r.prefix, CONNECTOR_ID).deadLettersDiscarded)).toEqual({
      total: '2',
      event: '1',
      value: '1',
    });
    const status = await cli(['status', '--json', '--no-scan'], redisEnv(r));
    expect(JSON.parse(status.stdout).deadLettersDiscarded).toEqual({ total: 2, event: 1, job: 0, value: 1 });
    const human = await cli(['status', '--no-scan'], redisEnv(r));
    expect(human.stdout).toMatch(
      /^discarded: +2 dead letters discarded by operators \(event 1, job 0, value 1\)$/m,
    );

    // Gone: a second discard finds nothing (exit 1) and counts nothing.
    const again = await cli(['dead-letters', 'discard', ids.event, '--reason', 'twice'], redisEnv(r));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no dead letter "${ids.event}"`);
    expect(await r.client.hget(keys(r.prefix, CONNECTOR_ID).deadLettersDiscarded, 'total')).toBe('2');
  });

  it('usage errors are exit 2 with one line', async () => {
    const cases: Array<[string[], string]> = [
      [['dead-letters'], 'usage error: dead-letters: list, show, replay or discard?'],
      [
        ['dead-letters', 'purge'],
        'usage error: dead-letters: unknown subcommand "purge" (list, show, replay or discard)',
      ],
      [['dead-letters', 'replay'], 'usage error: dead-letters replay: give one id, or --all'],
      [
        ['dead-letters', 'replay', ids.job, '--all'],
        'usage error: dead-letters replay: give one id, or --all',
      ],
      [
        ['dead-letters', 'list', '--limit', '0'],
        'usage error: dead-letters list: --limit must be a positive integer, got "0"',
      ],
    ];
    for (const [args, line] of cases) {
      const res = await cli(args, redisEnv(r));
      expect({ args, code: res.code, first: res.stderr.split('\n')[0] }).toEqual({
        args,
        code: 2,
        first: line,
      });
    }
    // Nothing was touched.
    expect(await getDeadLetter(q, ids.job)).toBeDefined();
  });

  it('discard usage errors: exit 2 with one line, nothing touched (in process: no Redis needed)', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['dead-letters', 'discard', ids.job],
        'usage error: dead-letters discard: --reason "..." is required (it is logged with your name)',
      ],
      [
        ['dead-letters', 'discard', ids.job, '--reason', '   '],
        'usage error: dead-letters discard: --reason "..." is required (it is logged with your name)',
      ],
      [
        ['dead-letters', 'discard', '--reason', 'x'],
        'usage error: dead-letters discard: which one? (an id from dead-letters list; no --all)',
      ],
      [
        ['dead-letters', 'discard', '--all', '--reason', 'x'],
        'usage error: dead-letters discard: unknown option --all',
      ],
    ];
    for (const [args, line] of cases) {
      const lines: string[] = [];
      const io = new Io(redisEnv(r), (_fd, text) => void lines.push(text));
      expect(await run(io, args), args.join(' ')).toBe(2);
      expect(lines.join('').split('\n')[0]).toBe(line);
    }
    expect(await getDeadLetter(q, ids.job)).toBeDefined();
  });
});
