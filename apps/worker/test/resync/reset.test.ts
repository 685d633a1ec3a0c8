/**
 * Generations end to end (ingest + workers as processes, both simulators over HTTP): a reset in OpenCTI re-syncs
 * a collection changed behind the connector's back, and a re-sync of unchanged values costs the collection read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, CONVERGED, pagesFor, ResyncStack } from './harness.ts';

let stack: ResyncStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const N = 120;

describe('a generation re-verifies, sweeps and reconciles', () => {
  it('a reset after deletes, additions, duplicates and edits behind the connector back: the collection ends as OpenCTI says', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    for (let i = 0; i < N; i++) {
      s.octi.control.createIndicator({
        pattern:
          i % 4 === 0 ? `[ipv4-addr:value = '198.51.100.${i}']` : `[domain-name:value = 'r${i}.example']`,
        validUntil: '2030-01-01T00:00:00.000Z',
      });
    }
    s.spawnIngest();
    s.spawnWorker();
    s.spawnWorker();
    await s.waitGeneration(1);
    expect(s.diff()).toEqual(CONVERGED);

    // Behind the connector's back, through the Sekoia API: 5 revoked, 3 edited, 4 foreign values added, 3
    // duplicates of values the connector holds.
    const live = s.sim.control.indicators().filter((i) => !i.revoked);
    const revoked = live.slice(0, 5);
    const edited = live.slice(5, 8);
    const duplicated = live.slice(8, 11);
    for (const i of revoked) await s.api('DELETE', `/indicators/${i.id}`);
    for (const i of edited) await s.api('PUT', `/indicators/${i.id}`, { description: 'edited by hand' });
    const fields = { valid_from: '2026-01-01T00:00:00Z' };
    await s.api('POST', '/indicators', {
      default_fields: fields,
      indicators: ['foreign-1.example', 'foreign-2.example', '203.0.113.9', 'foreign-3.example'].map(
        (value) => ({
          value,
        }),
      ),
    });
    s.sim.control.setBehavior({ reimport: 'duplicate' });
    await s.api('POST', '/indicators', {
      default_fields: fields,
      indicators: duplicated.map((i) => ({ value: i.name })),
    });
    s.sim.control.setBehavior({ reimport: 'update' });
    expect(s.diff()).not.toEqual(CONVERGED);

    s.sim.control.resetCounters();
    s.octi.control.resetConnectorState({ id: CONNECTOR_ID });
    await s.waitGeneration(2);
    expect(s.diff()).toEqual(CONVERGED);
    const fixed = s.requests();
    // Writes only for what differs: 5 re-created (one request each: every description differs), 3 edited,
    // 4 foreign values and 3 duplicates revoked.
    expect(fixed).toMatchObject({ create: 5, edit: 3, revoke: 7 });
    const read2 = await s.reads.readInfo();
    // Foreign values adopted as they are; a duplicate listed on a later page than its value's known id is added
    // to it (the record had not changed since the earlier page).
    expect(read2).toMatchObject({ generation: 2, trusted: 4, unsure: 0, refreshed: 3 });
    // The collection read in pages, plus one search per value revoked behind our back (the read does not trust a
    // revoked listing to drop a known id), plus the values of jobs applied before the read paused the queue.
    expect(fixed.list).toBeGreaterThanOrEqual(pagesFor(read2!.indicators) + 5);

    // A re-sync of N unchanged values: the collection read, no write.
    s.sim.control.resetCounters();
    const resync = await s.cli(['resync', '--wait', '--timeout', '60']);
    expect(resync.code).toBe(0);
    expect(resync.output).toContain('re-sync done');
    await s.waitGeneration(3);
    expect(s.diff()).toEqual(CONVERGED);
    const unchanged = s.requests();
    const read3 = (await s.reads.readInfo())!;
    expect(read3).toMatchObject({ generation: 3, confirmed: N, unsure: 0, trusted: 0 });
    expect(unchanged).toMatchObject({ create: 0, edit: 0, revoke: 0 });
    const pages = pagesFor(read3.indicators);
    const searches = unchanged.list - pages;
    console.info(
      `re-sync of ${N} unchanged values: ${unchanged.total} Sekoia requests (${pages} list pages of the ` +
        `${read3.indicators} indicators, ${searches} searches, 0 writes)`,
    );
    // The design's promise (root README, "What a refresh does"): the read confirms every unchanged value, so no
    // value is searched, except those of jobs applied in the moment before the read paused the queue — a few,
    // never one search per value (N).
    expect(unchanged.list).toBeGreaterThanOrEqual(pages);
    expect(searches).toBeLessThanOrEqual(N / 10);
    const status = await s.cli(['status', '--no-scan']);
    expect(status.output).toMatch(/^collection read: +generation 3: \d+ indicators, 120 values; /m);
  });
});
