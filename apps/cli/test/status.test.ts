import { type ConnectorQueues, createQueues } from '@octi-sekoia/queue';
import { freePort, type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, cli, indicatorJob, redisEnv } from './helpers.ts';
import { connectorKeys, seedDeadLetters, seedFailedJob, seedHealthy } from './seed.ts';

describe('status', () => {
  let r: TestRedis;
  let q: ConnectorQueues;
  beforeEach(async () => {
    r = await testRedis('cli-status');
    q = createQueues(r.connect(), r.prefix, CONNECTOR_ID);
  });
  afterEach(async () => {
    await q.close();
    await r.cleanup();
  });

  it('a healthy connector: every line, verdict OK, exit 0; --json says the same', async () => {
    await seedHealthy(r);
    await q.indicators.add('upsert', indicatorJob({ eventId: '1764300000004-0', indicatorId: 'ind-4' }));
    // Two more tombstones kept (the seed's delete left one), three dropped by the workers' prune (prune-tombstones.lua).
    const sync = connectorKeys(r).sync;
    await r.client.zadd(sync.tombstones, 1764300000001, 'gone-1', 1764300000002, 'gone-2');
    await r.client.hset(sync.stats, 'tombstones-pruned', 3);

    const human = await cli(['status'], redisEnv(r));
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    const out = human.stdout;
    expect(out).toMatch(
      new RegExp(
        `^connector: +${CONNECTOR_ID} \\(prefix ${r.prefix}, name "Sekoia.io", stream live-stream-1\\)$`,
        'm',
      ),
    );
    expect(out).toMatch(/^stream: +open: connected; host ingest-1, since \S+ \(\d+ s ago\)$/m);
    expect(out).toMatch(/^leader: +yes \(reader lease held, expires in \d+ s unless renewed\)$/m);
    expect(out).toMatch(
      new RegExp(
        `^checkpoint: +1764300000003-0; event time ${new Date(1764300000003).toISOString()} \\([^()]+\\)$`,
        'm',
      ),
    );
    expect(out).toMatch(/^generation: +2 \(never swept\)$/m);
    expect(out).toMatch(
      /^queue indicators: +waiting 1, active 0, delayed 0, prioritized 0, failed 0, completed 0$/m,
    );
    expect(out).toMatch(/^dirty values: +1 \(1 due now\)$/m);
    expect(out).toMatch(/^dead letters: +0 \(event 0, job 0, value 0\)$/m);
    expect(out).toMatch(/^discarded: +0 dead letters discarded by operators \(event 0, job 0, value 0\)$/m);
    expect(out).toMatch(/^circuit: +closed$/m);
    expect(out).toMatch(/^values: +live 1, revoked 1, rejected 1, pending 1$/m);
    expect(out).toMatch(/^indicators: +2 live$/m);
    expect(out).toMatch(/^jobs recorded: +applied 4$/m);
    expect(out).toMatch(/^tombstones: +3 kept, 3 pruned so far$/m);
    expect(out).toMatch(/^collection: +2 \/ 500000 IOCs \(0\.0%\); counted \S+ \(\d+ s ago\)$/m);
    expect(out).toMatch(/^redis: +redis:\/\/127\.0\.0\.1:6379, maxmemory-policy noeviction$/m);
    // Values aligned: every key line has its value in the same column.
    const columns = out
      .split('\n')
      .filter((l) => /^[a-z][a-z ]*: /.test(l) && !l.startsWith('verdict') && !l.startsWith('note'))
      .map((l) => l.search(/(?<=: +)\S/));
    expect(new Set(columns).size).toBe(1);
    expect(out.trimEnd().split('\n').at(-1)).toBe('verdict: OK, nothing needs attention');

    const json = await cli(['status', '--json'], redisEnv(r));
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      connector: { id: CONNECTOR_ID, keyPrefix: r.prefix, registered: true, found: true, name: 'Sekoia.io' },
      stream: { state: 'open', message: 'connected', host: 'ingest-1' },
      leader: { present: true },
      checkpoint: { startFrom: '1764300000003-0', generation: 2, sweep: null },
      generation: { current: 2, swept: null },
      queue: {
        name: 'indicators',
        waiting: 1,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: 0,
        paused: false,
      },
      dirty: { total: 1, due: 1 },
      deadLetters: { total: 0, event: 0, job: 0, value: 0 },
      deadLettersDiscarded: { total: 0, event: 0, job: 0, value: 0 },
      circuit: { state: 'closed' },
      values: { live: 1, revoked: 1, rejected: 1, pending: 1, total: 4 },
      indicatorsLive: 2,
      counters: { applied: 4 },
      collection: { count: 2, max: 500_000 },
      redis: { maxmemoryPolicy: 'noeviction' },
      verdict: { ok: true, attention: [] },
    });
    expect(report.leader.ttlMs).toBeGreaterThan(0);

    const noScan = await cli(['status', '--json', '--no-scan'], redisEnv(r));
    expect(JSON.parse(noScan.stdout).values).toBeNull();
  });

  it('attention: stream unauthorized, circuit open, dead letters, a failed job → every reason, exit 1', async () => {
    await seedHealthy(r);
    const k = connectorKeys(r);
    await r.client.set(
      k.ingestStatus,
      JSON.stringify({
        state: 'unauthorized',
        message: 'OpenCTI refused the token (401)',
        at: new Date().toISOString(),
        host: 'ingest-1',
      }),
    );
    await r.client.set(
      k.circuit,
      JSON.stringify({
        state: 'open',
        reason: 'unauthorized',
        message: 'Sekoia.io refused the API key (401)',
        since: new Date().toISOString(),
      }),
    );
    await seedDeadLetters(q);
    await seedFailedJob(r, q);

    const human = await cli(['status'], redisEnv(r));
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^dead letters: +3 \(event 1, job 1, value 1\)$/m);
    expect(human.stdout).toMatch(
      /^circuit: +open: unauthorized: Sekoia\.io refused the API key \(401\); since \S+ \(\d+ s ago\)$/m,
    );
    const verdict = human.stdout.trimEnd().split('\n').at(-1);
    expect(verdict).toBe(
      'verdict: ATTENTION: stream unauthorized: OpenCTI refused the token (401); ' +
        'circuit open (unauthorized: Sekoia.io refused the API key (401)): the worker is not writing to Sekoia.io; ' +
        '3 dead letters (see: dead-letters list); 1 failed job in the indicators queue',
    );

    // The reader goes away: no leader is one more reason.
    await r.client.del(k.lease);
    const json = await cli(['status', '--json', '--no-scan'], redisEnv(r));
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.leader).toEqual({ present: false, ttlMs: null });
    expect(report.queue.failed).toBe(1);
    expect(report.deadLetters).toEqual({ total: 3, event: 1, job: 1, value: 1 });
    expect(report.verdict.ok).toBe(false);
    expect(report.verdict.attention).toEqual([
      'no ingest replica holds the reader lease: the stream is not being read',
      expect.stringMatching(/^circuit open/),
      '3 dead letters (see: dead-letters list)',
      '1 failed job in the indicators queue',
    ]);
  });

  it('standby status under a held lease and a paused stream are not alarms; a full collection is', async () => {
    await seedHealthy(r);
    const k = connectorKeys(r);
    const at = new Date().toISOString();
    await r.client.set(
      k.ingestStatus,
      JSON.stringify({ state: 'standby', message: 'waiting for the reader lease', at, host: 'ingest-2' }),
    );
    await r.client.set(k.collectionUsage, JSON.stringify({ count: 100, max: 100, at, full: true }));
    const full = await cli(['status', '--json', '--no-scan'], redisEnv(r));
    expect(full.code).toBe(1);
    expect(JSON.parse(full.stdout).verdict).toEqual({
      ok: false,
      attention: ['the IOC collection is full (100 / 100): new values wait, revokes and edits go on'],
      notes: [
        "the last stream status comes from a standby replica (ingest-2): the reader's state is unknown",
      ],
    });

    await r.client.set(
      k.ingestStatus,
      JSON.stringify({
        state: 'paused',
        message: 'backlog 60000 above the high-water mark 50000',
        at,
        host: 'ingest-1',
      }),
    );
    await r.client.set(k.collectionUsage, JSON.stringify({ count: 95, max: 100, at, full: false }));
    const paused = await cli(['status', '--no-scan'], redisEnv(r));
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(
      /^stream: +paused: backlog 60000 above the high-water mark 50000; host ingest-1/m,
    );
    expect(paused.stdout).toContain('note: the IOC collection is 95% full\n');
    expect(paused.stdout.trimEnd().split('\n').at(-1)).toBe('verdict: OK, nothing needs attention');
  });

  it('a sweep that kept indicators because dead letters name them is an attention point (issue 13 case 4)', async () => {
    await seedHealthy(r);
    const k = connectorKeys(r);
    const at = new Date().toISOString();
    await r.client.set(k.lastSweep, JSON.stringify({ generation: 4, kept: 0, at }));
    const clean = JSON.parse((await cli(['status', '--json', '--no-scan'], redisEnv(r))).stdout);
    expect(clean.lastSweep).toEqual({ generation: 4, kept: 0, at });
    expect(clean.verdict.attention).toEqual([]);
    await r.client.set(k.lastSweep, JSON.stringify({ generation: 5, kept: 2, at }));
    const res = await cli(['status', '--json', '--no-scan'], redisEnv(r));
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout).verdict.attention).toEqual([
      'the sweep of generation 5 kept 2 indicators not seen in it because dead letters name them (their last ' +
        'event could not be applied): replay or discard those dead letters (see: dead-letters list)',
    ]);
  });

  it('values Sekoia holds only as close as it allows: a count per mode and a note, not an alarm (issue 14)', async () => {
    await seedHealthy(r);
    const clean = await cli(['status', '--no-scan'], redisEnv(r));
    expect(clean.stdout).toMatch(/^as close as allowed: +none \(every value written exactly\)$/m);
    const { approximated } = connectorKeys(r);
    const detail = JSON.stringify({ detail: 'x', at: new Date().toISOString() });
    await r.client.hset(approximated('valid-until-kept'), 'a.example', detail, 'b.example', detail);
    await r.client.hset(approximated('custom-kill-chains-dropped'), 'a.example', detail);
    const res = await cli(['status', '--no-scan'], redisEnv(r));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^as close as allowed: +custom-kill-chains-dropped 1, valid-until-kept 2 values \(docs\/sekoia-behaviours\.md\)$/m,
    );
    expect(res.stdout).toContain(
      'note: 3 values held by Sekoia.io only as close as its API allows (each reported once in the worker log; docs/sekoia-behaviours.md)\n',
    );
    expect(res.stdout.trimEnd().split('\n').at(-1)).toBe('verdict: OK, nothing needs attention');
    const json = JSON.parse((await cli(['status', '--json', '--no-scan'], redisEnv(r))).stdout);
    expect(json.approximated).toEqual({ 'custom-kill-chains-dropped': 1, 'valid-until-kept': 2 });
  });

  it('a connector id with nothing in Redis: says so, names the registered ones, writes nothing, exit 1', async () => {
    await seedHealthy(r);
    const other = '0d2b6c5e-1f3a-4c7e-9b8d-2a6f4e1c3b5a';
    const res = await cli(['status', '--no-scan'], redisEnv(r, { CONNECTOR_ID: other }));
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(
      `note: nothing found for connector ${other} under prefix ${r.prefix}: check CONNECTOR_ID and REDIS_KEY_PREFIX (connectors registered on this Redis: ${CONNECTOR_ID})`,
    );
    expect(res.stdout).toMatch(/^stream: +unknown/m);
    expect(res.stdout).toMatch(/^circuit: +unknown/m);
    expect(res.stdout).toMatch(/^verdict: ATTENTION: no ingest replica holds the reader lease/m);
    expect(await r.client.keys(`*${r.prefix}:${other}*`)).toEqual([]);
  });

  it('configuration errors: one line per problem on stderr, exit 2', async () => {
    const res = await cli(['status'], { REDIS_URL: 'http://redis:6379', REDIS_KEY_PREFIX: r.prefix });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^config error: CONNECTOR_ID \(connector\.id\) is missing/),
      expect.stringMatching(/^config error: REDIS_URL \(redis\.url\) = 'http:\/\/redis:6379' is invalid/),
    ]);
  });

  it('Redis unreachable: one line without the password, exit 1', async () => {
    const port = await freePort();
    const res = await cli(
      ['status'],
      redisEnv(r, { REDIS_URL: `redis://:hunter2-redis-pw@127.0.0.1:${port}` }),
    );
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim()).toBe(
      `error: cannot reach Redis at redis://:[REDACTED]@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });
});
