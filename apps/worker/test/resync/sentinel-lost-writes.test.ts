/**
 * What an unplanned failover costs (README, "What a failover costs"): Redis replication is asynchronous, so
 * writes the primary acknowledged but had not sent to its replica are gone when the primary dies and the
 * replica is promoted: checkpoint advances, applied records of values already written to Sekoia, finished jobs.
 * The whole product (ingest, two workers, the CLI) runs on Redis behind Sentinel; the test makes such a loss
 * happen for sure (the replica frozen while the primary goes on acknowledging), then shows that the replays are
 * fenced (no dead letter) and that the workers see the loss (their write mark, apps/worker write-mark.ts) and
 * request a re-sync themselves, which puts the collection back to exactly what OpenCTI says: no operator.
 */

import type { SekoiaBehavior } from '@octi-sekoia/simulators';
import { jsonLogEntries, type SentinelSet, startSentinelSet, waitFor } from '@octi-sekoia/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CONVERGED, ResyncStack } from './harness.ts';

let set: SentinelSet | undefined;
let stack: ResyncStack | undefined;
afterEach(async () => {
  await stack?.close();
  await set?.destroy();
  stack = undefined;
  set = undefined;
});

const N = 300;

async function replOffset(port: number): Promise<number> {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  try {
    return Number(/^master_repl_offset:(\d+)/m.exec(await c.info('replication'))?.[1]);
  } finally {
    c.disconnect();
  }
}

describe('Sentinel: a primary dies with writes its replica never got', () => {
  // Both ways Sekoia may answer a create of a value it holds (docs/sekoia-behaviours.md): with `duplicate`, a
  // value whose applied record was lost can be created twice, which the re-sync's collection read finds.
  it.each([['update'], ['duplicate']] as Array<[SekoiaBehavior['reimport']]>)(
    're-import %s: the lost writes are replayed harmlessly (fenced) and the re-sync the workers request makes the collection equal to OpenCTI again',
    async (reimport) => {
      set = await startSentinelSet();
      stack = await ResyncStack.start({
        redis: await set.testRedis('resync-sentinel'),
        behavior: { reimport },
      });
      const s = stack;
      for (let i = 0; i < N; i++) {
        s.octi.control.createIndicator({
          pattern:
            i % 3 === 0
              ? `[ipv4-addr:value = '198.51.100.${i % 250}']`
              : `[domain-name:value = 'l${i}.example']`,
          validUntil: '2030-01-01T00:00:00.000Z',
        });
      }
      s.spawnIngest();
      const workers = [s.spawnWorker(), s.spawnWorker()];
      await waitFor(() => s.sim.control.liveValues().length >= N / 5, {
        timeoutMs: 60_000,
        what: 'a fifth of the values written',
      });

      // The replica freezes and the primary drops its link (what the replica had already been sent may still reach
      // it from its socket buffer, nothing after): the primary goes on acknowledging the apps' writes alone.
      const primaryPort = await set.masterPort();
      const primary = set.servers.find((x) => x.port === primaryPort)!;
      const replica = set.servers.find((x) => x.port !== primaryPort)!;
      replica.process.kill('SIGSTOP');
      const admin = new Redis({ port: primary.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      admin.on('error', () => undefined);
      await admin.call('CLIENT', 'KILL', 'TYPE', 'replica');
      const replicatedUpTo = await replOffset(primary.port);
      admin.disconnect();
      const frozenAt = s.sim.control.liveValues().length;
      await waitFor(() => s.sim.control.liveValues().length >= frozenAt + 20, {
        timeoutMs: 60_000,
        what: '20 more values written while the replica is cut off',
      });
      const acknowledged = await replOffset(primary.port);
      expect(acknowledged).toBeGreaterThan(replicatedUpTo);
      await primary.stop('SIGKILL');
      replica.process.kill('SIGCONT');
      expect(await replOffset(replica.port)).toBeLessThanOrEqual(replicatedUpTo);

      // The sentinels promote the replica: it lacks every write acknowledged after the cut.
      await waitFor(async () => (await set!.masterPort()) === replica.port, {
        timeoutMs: 60_000,
        what: 'the replica promoted',
      });

      // The apps carry on against the new master: replays of lost job completions and of the lost checkpoint
      // advance meet the fenced desired state; nothing is dead-lettered. Values written to Sekoia whose intents
      // or applied records were lost are what a re-sync is for: the workers' next write marks answer lower than
      // before, one of them requests it (logged once), and ingest starts generation 2, which reads the collection
      // and reconciles it with OpenCTI.
      console.log(
        `[sentinel lost writes, re-import ${reimport}] ${acknowledged - replicatedUpTo} bytes of acknowledged writes lost`,
      );
      await s.waitGeneration(2, 180_000);
      expect(s.diff()).toEqual(CONVERGED);
      expect(await s.deadLetters()).toEqual([]);
      const requested = workers.flatMap((w) =>
        jsonLogEntries(w.output()).filter(
          (e) => e.msg === 'Redis lost writes it had acknowledged (a failover): a re-sync was requested',
        ),
      );
      expect(requested).toHaveLength(1);
    },
    300_000,
  );
});
