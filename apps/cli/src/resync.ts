import { parseArgs, positiveInt } from './args.ts';
import { withWritingConnection } from './context.ts';
import { type FollowResult, followGeneration } from './generation-progress.ts';
import { EXIT_ATTENTION, EXIT_OK, type Io, UsageError } from './io.ts';

export const RESYNC_EXPLANATION = [
  'What happens next:',
  '  1. the ingest replica that reads the stream picks the request up and starts a new generation;',
  '  2. it reads the whole live stream again from OpenCTI (a full recovery) and re-records every indicator;',
  '     values already correct in Sekoia.io are not rewritten;',
  '  3. a worker reads the whole Sekoia.io collection once (pages of 100): values it confirms are not searched',
  '     again, and what the collection holds that OpenCTI does not is revoked after the sweep;',
  '  4. once the recovery has been read and applied, indicators not seen in it are removed and their values',
  '     revoked from the Sekoia.io collection.',
  'Follow it with: status (generation, checkpoint, dirty values), or resync --wait.',
].join('\n');

export async function resyncCommand(io: Io, args: readonly string[]): Promise<number> {
  const { flags, options } = parseArgs('resync', args, {
    flags: ['--json', '--wait'],
    options: ['--timeout'],
  });
  const json = flags.has('--json');
  const wait = flags.has('--wait');
  const timeoutMs = positiveInt('resync', '--timeout', options.get('--timeout'), 3600) * 1000;
  if (options.has('--timeout') && !wait) throw new UsageError('resync: --timeout only goes with --wait');
  const requestedAt = new Date().toISOString();
  const result = await withWritingConnection(io, async (c) => {
    const key = c.keys.resyncRequested;
    const [[, previous], , [, leaseTtl], [, generation]] = (await c.redis
      .multi()
      .get(key)
      .set(key, requestedAt)
      .pttl(c.keys.lease)
      .get(c.keys.generation)
      .exec()) as [[null, string | null], [null, 'OK'], [null, number], [null, string | null]];
    const requested = {
      key,
      requestedAt,
      replaces: previous,
      leader: leaseTtl !== -2,
      generation: generation === null ? null : Number(generation),
    };
    if (!json) {
      io.out(`re-sync requested at ${requestedAt} (${key})`);
      if (previous) io.out(`(replaces the pending request of ${previous})`);
      io.out(RESYNC_EXPLANATION);
      if (requested.generation !== null)
        io.out(`Current generation: ${requested.generation}; the re-sync starts the next.`);
      if (!requested.leader) {
        io.out('note: no ingest replica holds the reader lease right now: the request waits until one does.');
      }
    }
    let followed: FollowResult | undefined;
    if (wait) {
      followed = await followGeneration(c, {
        after: requested.generation ?? 0,
        timeoutMs,
        line: (text) => (json ? io.err(text) : io.out(text)),
      });
    }
    return { ...requested, ...(followed ? { wait: followed } : {}) };
  });
  if (json) io.json(result);
  return result.wait && !result.wait.done ? EXIT_ATTENTION : EXIT_OK;
}
