/**
 * Acceptance 1: ingest (the real entry point, a child process) is SIGKILLed at seeded-random points of a
 * 10,000-event stream, and restarted each time. Afterwards the jobs in Redis are exactly the jobs of every
 * indicator event of the stream: none lost, and no duplicate other than those the job ids absorb.
 */
import { createQueues } from '@octi-sekoia/queue';
import {
  applyScenario,
  controlTarget,
  generateScenario,
  type OpenCtiSimulator,
  Rng,
  startOpenCtiSimulator,
  TLP,
} from '@octi-sekoia/simulators';
import { type ManagedProcess, type TestRedis, testRedis, waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONNECTOR_ID,
  compare,
  expectedJobIds,
  jobIds,
  parseJobId,
  readWholeStream,
  spawnIngest,
} from './helpers.ts';

let r: TestRedis;
let sim: OpenCtiSimulator;
const procs: ManagedProcess[] = [];

beforeEach(async () => {
  r = await testRedis('ingest-crash');
});
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await sim?.close();
  await r.cleanup();
});

function uuidFrom(rng: Rng): string {
  const h = rng.hex(32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

describe('ingest killed with SIGKILL during a 10,000-event stream', () => {
  it('loses no indicator event and enqueues no duplicate the job ids do not absorb', async () => {
    const seed = 8117;
    const rng = new Rng(seed + 1);
    const scenario = generateScenario({ seed, indicators: 5450 });
    const steps = scenario.steps.length;
    sim = await startOpenCtiSimulator({
      heartbeatMs: 200,
      seed,
      // OpenCTI's heartbeat timer can fire between dependency messages and the event sharing their id.
      switches: { heartbeatInsideDependencyGroups: true },
    });
    const target = controlTarget(sim.control);
    const queues = createQueues(r.client, r.prefix, CONNECTOR_ID);
    const count = () => queues.indicators.count();

    // 60 % of the story exists before ingest starts (read from 0-0, no recovery); the rest is appended while it
    // runs, with an indicator by a new author and another TLP marking every slice: more dependency messages
    // (identity/marking `create`s sharing the indicator's id) than one group per connection.
    const split = Math.floor(steps * 0.6);
    applyScenario(target, scenario, { to: split });
    const markings = Object.values(TLP);
    let authored = 0;
    const appendSlice = (from: number, to: number) => {
      applyScenario(target, scenario, { from, to });
      const author = `identity--${uuidFrom(rng)}`;
      sim.control.addObject({
        object: { id: author, type: 'identity', name: `Author ${authored}`, identity_class: 'organization' },
      });
      sim.control.createIndicator({
        pattern: `[domain-name:value = 'authored-${authored}.test']`,
        createdByRef: author,
        markingRefs: [rng.pick(markings)],
        internalId: uuidFrom(rng),
      });
      authored++;
    };

    // Kill points: seeded job counts between 5 % and 90 % of the stream.
    const kills = Array.from({ length: 4 }, () => rng.int(Math.floor(steps * 0.05), Math.floor(steps * 0.9)))
      .sort((a, b) => a - b)
      .map((v, i, all) => (i > 0 && v - (all[i - 1] ?? 0) < 300 ? v + 300 * i : v));

    const start = () => {
      const p = spawnIngest(r, sim, { INGEST_BATCH_SIZE: '200', CONNECTOR_LOG_LEVEL: 'warn' });
      procs.push(p);
      return p;
    };
    let proc = start();

    // Appends the remaining steps in slices, each once ingest made progress since the previous one (so most are
    // read live, and some while ingest is down).
    const appender = (async () => {
      await waitFor(async () => (await count()) > 0, { timeoutMs: 60_000, what: 'first jobs' });
      const slice = 40;
      for (let from = split; from < steps; from += slice) {
        const before = await count();
        const to = Math.min(steps, from + slice);
        appendSlice(from, to);
        await waitFor(async () => (await count()) >= before + (to - from) / 2, {
          timeoutMs: 60_000,
          what: 'ingest progress between appended slices',
        });
      }
    })();

    const restarts: Array<{ killedAt: number; enqueued: string[]; log: number }> = [];
    for (const at of kills) {
      await waitFor(async () => (await count()) >= at, { timeoutMs: 90_000, what: `${at} jobs` });
      proc.kill('SIGKILL');
      expect(await proc.exited).toBe('SIGKILL');
      restarts.push({
        killedAt: await count(),
        enqueued: await jobIds(queues),
        log: sim.control.connectionLog().length,
      });
      // The dead leader's lease would expire after its TTL (15 s); drop it instead of waiting that long.
      await r.client.del(queues.keys.lease);
      proc = start();
    }
    await appender;
    // Connections of the ingest processes (the oracle's own connection comes next): the last restart's included.
    const opened = () => sim.control.connectionLog().filter((a) => a.status === 200).length;
    await waitFor(() => opened() >= kills.length + 1, { what: 'the last restart connected' });
    const log = sim.control.connectionLog();
    const attempts = log.filter((a) => a.status === 200);

    const messages = await readWholeStream(sim);
    const expected = expectedJobIds(messages, sim.url);
    await waitFor(async () => (await count()) >= expected.size, {
      timeoutMs: 90_000,
      what: `${expected.size} jobs`,
    });
    const ids = await jobIds(queues);
    const got = new Set(ids);
    const missing = [...expected].filter((id) => !got.has(id));
    const unexpected = ids.filter((id) => !expected.has(id));
    expect({ missing: missing.length, unexpected }).toEqual({ missing: 0, unexpected: [] });
    expect(got.size).toBe(ids.length);
    expect(expected.size).toBeGreaterThan(9000);
    // Each job is what its id says (generation 1, the event, the indicator), not a stale copy.
    const sample = await queues.indicators.getJobs(['waiting'], 0, 200);
    expect(sample).toHaveLength(201);
    for (const j of sample) {
      expect(j.data.kind).toBe('indicator');
      if (j.data.kind === 'indicator') expect(j.id).toBe(`g1-${j.data.eventId}-${j.data.indicatorId}`);
    }

    // The stream had dependency groups: identity/marking creates with the id of the indicator that follows.
    const deps = messages.filter((m) => m.data.includes('"init-dependencies"'));
    expect(deps.length).toBeGreaterThan(50);
    for (const d of deps.slice(0, 20)) {
      const type = (JSON.parse(d.data) as { data: { type: string } }).data.type;
      expect(['identity', 'marking-definition']).toContain(type);
      const next = messages.find((m) => m.id === d.id && m.data.includes('"type":"indicator"'));
      expect(next, `indicator after dependency ${d.id}`).toBeDefined();
    }

    // Every restart resumed from a committed checkpoint (exclusive), never from the start of the stream again.
    const resumedFrom = attempts.map((a) => a.headers['last-event-id'] ?? '');
    expect(resumedFrom.length).toBeGreaterThanOrEqual(kills.length + 1);
    expect(resumedFrom[0]).toBe('0-0');
    for (const id of resumedFrom.slice(1)) expect(compare(id, '0-0')).toBeGreaterThan(0);
    // Re-read after each kill: jobs already in Redis at the kill whose event lies after the resume point.
    const restartedFrom = restarts.map(
      (k) => log.slice(k.log).find((a) => a.status === 200)?.headers['last-event-id'] ?? '0-0',
    );
    const reread = restarts.map(
      (k, i) =>
        k.enqueued.filter((id) => compare(parseJobId(id).eventId, restartedFrom[i] ?? '0-0') > 0).length,
    );
    // At most the last batch written before its checkpoint commit (INGEST_BATCH_SIZE=200) is read again.
    for (const n of reread) expect(n).toBeLessThanOrEqual(210);
    console.info(
      `crash test: ${messages.length} stream messages, ${expected.size} jobs, ${deps.length} dependency messages, ` +
        `kills at ${restarts.map((k) => k.killedAt).join(', ')} jobs, restarts from ${restartedFrom.join(', ')} ` +
        `(jobs enqueued before the kill and read again: ${reread.join(', ')})`,
    );
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 240_000);
});
