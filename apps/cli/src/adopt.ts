import type { AppConfig } from '@octi-sekoia/config';
import { type NormalizeConfig, normalizeMessage } from '@octi-sekoia/model';
import { compareEventIds, openStream, type StreamMessage } from '@octi-sekoia/opencti';
import { SekoiaClient } from '@octi-sekoia/sekoia';
import {
  type CollectionPlan,
  CollectionPlanner,
  CollectionReads,
  collectionOwnerKey,
  DesiredCollection,
  describeRead,
  handOverCollection,
  observeIndicator,
  type ReadInfo,
  RequestBudget,
  readWithBudget,
  sameConnector,
} from '@octi-sekoia/sync';
import { parseArgs, positiveInt } from './args.ts';
import { appConfig, type Connection, connect, withWritingConnection, writeQueues } from './context.ts';
import { duration, plural } from './format.ts';
import { type FollowResult, followGeneration } from './generation-progress.ts';
import { CommandError, EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, type Io, UsageError } from './io.ts';

/** How many items of each list the text output shows (--json has them all). */
const SHOWN = 50;

export async function adoptCommand(io: Io, args: readonly string[]): Promise<number> {
  const { flags, options } = parseArgs('adopt', args, {
    flags: ['--dry-run', '--json', '--wait'],
    options: ['--timeout'],
  });
  const json = flags.has('--json');
  const line = (text: string) => (json ? io.err(text) : io.out(text));
  const timeoutMs = positiveInt('adopt', '--timeout', options.get('--timeout'), 3600) * 1000;
  if (flags.has('--dry-run')) {
    if (flags.has('--wait')) throw new UsageError('adopt: --wait does not go with --dry-run');
    return dryRun(io, json, line, timeoutMs);
  }
  return adopt(io, json, line, flags.has('--wait'), timeoutMs);
}

/** The shared request budget of the configured Sekoia host + API key (the workers' own). */
export function budgetOf(c: Connection, config: AppConfig): RequestBudget {
  const s = config.sekoiaIntel;
  return new RequestBudget(c.redis, {
    keyPrefix: config.redis.keyPrefix,
    host: new URL(s.url).host,
    apiKey: s.apiKey,
    ratePerSecond: s.requestsPerSecond,
    burst: s.requestBurst,
  });
}

/** The Sekoia client of a collection read from the CLI, under the shared request budget. */
function collectionClient(config: AppConfig, budget: RequestBudget): SekoiaClient {
  const s = config.sekoiaIntel;
  return new SekoiaClient({
    baseUrl: s.url,
    apiKey: s.apiKey,
    collectionId: s.iocCollectionUuid,
    timeoutMs: s.timeoutMs,
    userAgent: 'octi-sekoia-cli',
    beforeRequest: () => budget.take(),
  });
}

// ---- dry run ---------------------------------------------------------------------------------------------

interface DryRunReport {
  dryRun: true;
  collection: string;
  streamId: string;
  opencti: { messages: number; liveIndicators: number; values: number };
  plan: CollectionPlan;
}

/**
 * What an adoption would change, without writing anything (not to Sekoia, not to Redis's sync state): OpenCTI's
 * truth from a recovery read of the stream (from 0-0 with recover=now, up to the first id past it), the
 * collection listed page by page, and the plan: values to create, indicators to revoke (values no live
 * indicator exports, duplicates), indicators to edit.
 */
async function dryRun(io: Io, json: boolean, line: (t: string) => void, timeoutMs: number): Promise<number> {
  const worker = appConfig(io, 'worker');
  const ingest = appConfig(io, 'ingest');
  const c = await connect(worker);
  try {
    line(`reading OpenCTI's live indicators (stream ${ingest.connector.liveStreamId}, full recovery)…`);
    const truth = await readOpenCti(ingest, line, timeoutMs);
    const desired = truth.desired.values();
    line(
      `OpenCTI: ${truth.messages} messages read, ${truth.desired.indicatorCount} live indicators, ` +
        `${desired.size} values to hold`,
    );
    line(`reading the collection ${worker.sekoiaIntel.iocCollectionUuid}…`);
    const planner = new CollectionPlanner(desired);
    const client = collectionClient(worker, budgetOf(c, worker));
    let last = 0;
    try {
      await client.listAll((page) => {
        const p = planner.addPage(page.map((i) => observeIndicator(i)));
        if (Date.now() - last >= 2000) {
          last = Date.now();
          line(`  values checked ${p.checked}: to revoke ${p.toRevoke}, to edit ${p.toEdit}`);
        }
      });
    } finally {
      client.close();
    }
    const plan = planner.finish();
    const report: DryRunReport = {
      dryRun: true,
      collection: worker.sekoiaIntel.iocCollectionUuid,
      streamId: ingest.connector.liveStreamId,
      opencti: {
        messages: truth.messages,
        liveIndicators: truth.desired.indicatorCount,
        values: desired.size,
      },
      plan,
    };
    if (json) {
      io.json(report);
      return EXIT_OK;
    }
    printPlan(io, plan);
    return EXIT_OK;
  } finally {
    await c.close();
  }
}

function printPlan(io: Io, plan: CollectionPlan): void {
  const notLive = plan.revoke.filter((r) => r.reason === 'not-live');
  const dups = plan.revoke.length - notLive.length;
  io.out(`values checked ${plan.checked} (${plural(plan.indicators, 'live indicator')} in the collection)`);
  if (plan.revoke.length > 0) {
    io.out(
      `to revoke: ${plural(plan.revoke.length, 'indicator')} (${notLive.length} whose value no live OpenCTI ` +
        `indicator exports, ${dups} duplicate${dups === 1 ? '' : 's'})`,
    );
    for (const r of plan.revoke.slice(0, SHOWN)) io.out(`  revoke  ${r.value}  ${r.id}  (${r.reason})`);
    if (plan.revoke.length > SHOWN) io.out(`  … and ${plan.revoke.length - SHOWN} more (--json lists all)`);
  }
  if (plan.create.length > 0) {
    io.out(
      `to create: ${plural(plan.create.length, 'value')} live in OpenCTI and absent from the collection`,
    );
    for (const cr of plan.create.slice(0, SHOWN)) io.out(`  create  ${cr.value}`);
    if (plan.create.length > SHOWN) io.out(`  … and ${plan.create.length - SHOWN} more (--json lists all)`);
  }
  if (plan.edit.length > 0) {
    io.out(`to edit: ${plural(plan.edit.length, 'indicator')} whose attributes differ from OpenCTI's`);
    for (const e of plan.edit.slice(0, SHOWN)) {
      const diff: string[] = [];
      const cur = e.current;
      if (!cur) diff.push('no valid_from');
      else {
        if (Date.parse(cur.validFrom) !== Date.parse(e.attributes.validFrom)) diff.push('valid_from');
        if (
          (cur.validUntil ? Date.parse(cur.validUntil) : null) !==
          (e.attributes.validUntil ? Date.parse(e.attributes.validUntil) : null)
        )
          diff.push('valid_until');
        if (cur.description !== e.attributes.description) diff.push('description');
        if (JSON.stringify(cur.killChainPhases) !== JSON.stringify(e.attributes.killChainPhases))
          diff.push('kill_chain_phases');
      }
      io.out(`  edit    ${e.value}  ${e.id}  (${diff.join(', ') || 'attributes'})`);
    }
    if (plan.edit.length > SHOWN) io.out(`  … and ${plan.edit.length - SHOWN} more (--json lists all)`);
  }
  io.out(
    `summary: would revoke ${plan.revoke.length}, create ${plan.create.length}, edit ${plan.edit.length}; ` +
      `${plan.unchanged} values already right. Nothing was written (dry run).`,
  );
}

/** OpenCTI's live indicators: a recovery read of the stream, up to the first id past the recovery date. */
async function readOpenCti(
  ingest: AppConfig,
  line: (t: string) => void,
  timeoutMs: number,
): Promise<{ desired: DesiredCollection; messages: number }> {
  const recoverMs = Date.now();
  const endId = `${recoverMs}-0`;
  const normalize: NormalizeConfig = {
    openctiUrl: ingest.opencti.url,
    descriptionTemplate: ingest.sekoiaIntel.descriptionTemplate,
    validUntilRounding: ingest.sekoiaIntel.validUntilRounding,
    extractionMode: ingest.sekoiaIntel.extractionMode,
    maxEventBytes: ingest.ingest.maxEventBytes,
    generation: 1,
  };
  const desired = new DesiredCollection();
  let messages = 0;
  let last = Date.now();
  await new Promise<void>((resolve, reject) => {
    let finished = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      handle.close();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(
      () =>
        finish(
          new CommandError(`OpenCTI's recovery was not read within ${duration(timeoutMs)}`, EXIT_ATTENTION),
        ),
      timeoutMs,
    );
    const handle = openStream({
      url: ingest.opencti.url,
      token: ingest.opencti.token,
      streamId: ingest.connector.liveStreamId,
      lastEventId: '0-0',
      recover: new Date(recoverMs).toISOString(),
      listenDelete: ingest.connector.liveStreamListenDelete,
      noDependencies: ingest.connector.liveStreamNoDependencies,
      withInferences: ingest.connector.liveStreamWithInferences,
      heartbeatTimeoutMs: ingest.ingest.heartbeatTimeoutS * 1000,
      backoff: { baseMs: 500, maxMs: 10_000 },
      onConnected: () => undefined, // the dry run needs nothing from the `connected` frame
      onMessage: (msg: StreamMessage) => {
        if (finished) return;
        if (msg.event === 'no-recover') {
          finish(
            new CommandError(
              'OpenCTI skipped the recovery (the stream has origin filters): the dry run cannot know what is live',
              EXIT_ATTENTION,
            ),
          );
          return;
        }
        if (!msg.id) return;
        if (compareEventIds(msg.id, endId) > 0) {
          finish();
          return;
        }
        messages += 1;
        const r = normalizeMessage(msg, normalize);
        if (r.outcome === 'jobs') for (const job of r.jobs) desired.add(job);
        if (Date.now() - last >= 2000) {
          last = Date.now();
          line(`  OpenCTI: ${messages} messages read, ${desired.indicatorCount} live indicators so far`);
        }
      },
      onStatus: (st) => {
        if (st.state === 'unauthorized') finish(new CommandError(`OpenCTI: ${st.message}`, EXIT_USAGE));
      },
    });
  });
  return { desired, messages };
}

// ---- adoption --------------------------------------------------------------------------------------------

interface AdoptReport {
  collection: string;
  collectionChanged: { from: string; droppedValueRecords: number } | null;
  /** The connector that owned the collection before this adoption handed it over, if another. */
  previousOwner: { connectorId: string; keyPrefix: string } | null;
  generation: number;
  resyncRequested: boolean;
  read: ReadInfo | null;
  wait?: FollowResult;
}

/**
 * Adopts the configured collection: when the sync state was built for another collection (workers refuse to
 * start then), forgets the applied state of the old one (workers must be stopped) and records the new one;
 * requests a re-sync (unless ingest has never run: its first run is one); reads the whole collection into the
 * applied state for the generation the re-sync starts (pausing the indicators queue while it reads). The
 * re-sync then keeps or fixes what OpenCTI says is live and revokes the rest after its sweep.
 */
async function adopt(
  io: Io,
  json: boolean,
  line: (t: string) => void,
  wait: boolean,
  timeoutMs: number,
): Promise<number> {
  const config = appConfig(io, 'worker');
  const configured = config.sekoiaIntel.iocCollectionUuid;
  const report = await withWritingConnection(
    io,
    async (c) => {
      const reads = new CollectionReads(c.redis, {
        keyPrefix: config.redis.keyPrefix,
        connectorId: config.connector.id,
      });
      const q = writeQueues(c);
      try {
        const identity = await reads.identity();
        let changed: AdoptReport['collectionChanged'] = null;
        if (identity.collectionId !== undefined && identity.collectionId !== configured) {
          const workers = await q.indicators.getWorkersCount().catch(() => 0);
          if (workers > 0) {
            throw new CommandError(
              `the sync state was built for ${identity.collectionId} and ${plural(workers, 'worker is', 'workers are')} ` +
                `still connected: stop every worker, then run adopt again`,
              EXIT_ATTENTION,
            );
          }
          line(`collection changed: ${identity.collectionId} → ${configured}`);
          const dropped = await reads.dropAppliedState();
          line(
            `forgot what was written to ${identity.collectionId} (${plural(dropped, 'value record')}); ` +
              'that collection is left as it is',
          );
          changed = { from: identity.collectionId, droppedValueRecords: dropped };
        }
        await reads.updateIdentity({ collectionId: configured });
        // The explicit handover: this connector becomes the collection's one owner (workers of the previous
        // owner refuse to start from now on; stop them first).
        const me = { connectorId: config.connector.id, keyPrefix: config.redis.keyPrefix };
        const previous = await handOverCollection(
          c.redis,
          collectionOwnerKey(config.sekoiaIntel.url, configured),
          me,
          'pnpm cli adopt',
        );
        const previousOwner =
          previous && !sameConnector(previous, me)
            ? { connectorId: previous.connectorId, keyPrefix: previous.keyPrefix }
            : null;
        if (previousOwner) {
          line(
            `collection owner: connector ${previousOwner.connectorId} (REDIS_KEY_PREFIX ${previousOwner.keyPrefix}) → ` +
              `connector ${me.connectorId} (REDIS_KEY_PREFIX ${me.keyPrefix})`,
          );
        }

        // The generation the read is for: the re-sync's (ingest's first run is one already).
        const [checkpoint, leaseTtl] = await Promise.all([
          c.redis.get(c.keys.checkpoint),
          c.redis.pttl(c.keys.lease),
        ]);
        const before = (await reads.generations()).current;
        let generation = Math.max(1, before);
        let resyncRequested = false;
        if (checkpoint) {
          await c.redis.set(c.keys.resyncRequested, new Date().toISOString());
          resyncRequested = true;
          generation = before + 1;
          if (leaseTtl !== -2) {
            line(`re-sync requested: waiting for ingest to start generation ${before + 1}…`);
            const deadline = Date.now() + 30_000;
            while (Date.now() < deadline && (await reads.generations()).current <= before)
              await new Promise((resolve) => setTimeout(resolve, 200));
            generation = Math.max(generation, (await reads.generations()).current);
          } else {
            line('re-sync requested; no ingest replica reads the stream now: it starts when one does');
          }
        } else {
          line('ingest has not run yet: its first run is the full re-sync');
        }

        line(`reading the collection ${configured} for generation ${generation} (indicators queue paused)…`);
        const budget = budgetOf(c, config);
        const client = collectionClient(config, budget);
        let last = 0;
        let read: ReadInfo | null = null;
        try {
          const r = await readWithBudget(reads, generation, client, budget, {
            by: 'cli adopt',
            beforeRead: async () => {
              await q.indicators.pause();
            },
            afterRead: async () => {
              await q.indicators.resume();
            },
            onProgress: (p) => {
              if (Date.now() - last < 2000) return;
              last = Date.now();
              line(
                `  ${p.indicators} indicators listed, ${p.values} values: ${p.counts.trusted} adopted, ` +
                  `${p.counts.confirmed} confirmed, ${p.counts.unsure} to search`,
              );
            },
          });
          if (r.kind === 'read') {
            read = r.info;
            line(`collection read: ${describeRead(r.info)}`);
          } else {
            read = (await reads.readInfo()) ?? null;
            line(
              `the collection was already read for generation ${r.readGeneration} (by ${read?.by ?? 'a worker'})`,
            );
          }
        } finally {
          client.close();
        }
        await reads.markAdopted();

        const out: AdoptReport = {
          collection: configured,
          collectionChanged: changed,
          previousOwner,
          generation,
          resyncRequested,
          read,
        };
        line(
          `adopted: generation ${generation} keeps or fixes what OpenCTI says is live and, after its sweep, revokes ` +
            'every other indicator of the collection (values no live indicator exports, duplicates).',
        );
        if (wait) {
          out.wait = await followGeneration(c, { target: generation, timeoutMs, line });
        } else {
          line('follow it with: status, or resync --wait');
        }
        return out;
      } finally {
        await q.close();
      }
    },
    config,
  );
  if (json) io.json(report);
  return report.wait && !report.wait.done ? EXIT_ATTENTION : EXIT_OK;
}
