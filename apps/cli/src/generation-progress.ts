import { CollectionReads, type ReadInfo } from '@octi-sekoia/sync';
import { type Connection, readQueues } from './context.ts';
import { duration } from './format.ts';

export interface FollowResult {
  /** The generation followed (the one the re-sync started), or null when none started in time. */
  generation: number | null;
  done: boolean;
  read: ReadInfo | null;
  swept: number;
  dirty: number;
  waitingJobs: number;
  seconds: number;
}

export interface FollowOptions {
  /** The generation before the request: the re-sync is the first one above it (`target` when known). */
  after?: number;
  target?: number;
  timeoutMs: number;
  /** Progress lines (stdout, or stderr with --json). */
  line: (text: string) => void;
  pollMs?: number;
  now?: () => number;
}

/**
 * Follows a re-sync until its generation is done: started by ingest, the collection read, the recovery applied,
 * the sweep done, the values read from the collection dirtied and the dirty set empty. One line per step, and a
 * progress line every 5 s meanwhile.
 */
export async function followGeneration(c: Connection, opts: FollowOptions): Promise<FollowResult> {
  const now = opts.now ?? Date.now;
  const t0 = now();
  const reads = new CollectionReads(c.redis, {
    keyPrefix: c.config.redis.keyPrefix,
    connectorId: c.config.connector.id,
  });
  const q = readQueues(c);
  const said = new Set<string>();
  const say = (key: string, text: string) => {
    if (said.has(key)) return;
    said.add(key);
    opts.line(text);
  };
  let lastProgress = now();
  let target = opts.target;
  try {
    for (;;) {
      const g = await reads.generations();
      if (target === undefined && opts.after !== undefined && g.current > opts.after) target = g.current;
      const counts = await q.indicators.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      const waitingJobs = Object.values(counts).reduce((a, b) => a + b, 0);
      const dirty = await c.redis.zcard(c.keys.sync.dirty);
      const observed = await reads.pendingObserved();
      const info = (await reads.readInfo()) ?? null;
      const result = (done: boolean): FollowResult => ({
        generation: target ?? null,
        done,
        read: info && target !== undefined && info.generation >= target ? info : null,
        swept: g.swept,
        dirty,
        waitingJobs,
        seconds: Math.round((now() - t0) / 1000),
      });
      if (target === undefined || g.current < target) {
        say('waiting', `waiting for ingest to start generation ${target ?? (opts.after ?? g.current) + 1}…`);
      } else {
        if (g.current > target) {
          opts.line(`generation ${g.current} started meanwhile and supersedes ${target}: following it`);
          target = g.current;
          said.clear();
          said.add('waiting');
          continue;
        }
        say('started', `generation ${target} started: ingest reads every live indicator from OpenCTI again`);
        if (g.read >= target) {
          say(
            'read',
            info && info.generation >= target
              ? `collection read for generation ${target}: ${info.indicators} indicators listed, ${info.values} values ` +
                  `(${info.confirmed} confirmed, ${info.trusted} adopted, ${info.refreshed} with other attributes, ` +
                  `${info.unsure} to search)`
              : `collection read for generation ${target}`,
          );
        }
        if (g.swept >= target)
          say('swept', `sweep of generation ${target} done: indicators not seen in it removed`);
        const observedDone = !observed.some((o) => o <= target!);
        if (g.swept >= target && g.read >= target && observedDone && dirty === 0) {
          opts.line(
            `re-sync done in ${duration(now() - t0)}: generation ${target} swept, dirty set empty, ` +
              `${waitingJobs} jobs still queued (live events)`,
          );
          return result(true);
        }
      }
      if (now() - lastProgress >= 5000) {
        lastProgress = now();
        opts.line(
          `… ${duration(now() - t0)}: generation ${g.current}, ${waitingJobs} jobs queued, ${dirty} dirty values, ` +
            `swept ${g.swept || 'never'}`,
        );
      }
      if (now() - t0 >= opts.timeoutMs) {
        opts.line(`still not done after ${duration(now() - t0)}: follow it with \`status\``);
        return result(false);
      }
      await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 500));
    }
  } finally {
    await q.close();
  }
}
