import { parseArgs } from './args.ts';
import { withConnection } from './context.ts';
import { EXIT_OK, type Io } from './io.ts';
import { appKeys } from './keys.ts';

export const RESYNC_EXPLANATION = [
  'What happens next:',
  '  1. the ingest replica that reads the stream picks the request up and starts a new generation;',
  '  2. it reads the whole live stream again from OpenCTI (a full recovery) and re-records every indicator;',
  '     values already correct in Sekoia.io are not rewritten;',
  '  3. once the recovery has been read and applied, indicators not seen in it are removed and their values',
  '     revoked from the Sekoia.io collection.',
  'Follow it with: status (generation, checkpoint, dirty values).',
].join('\n');

export async function resyncCommand(io: Io, args: readonly string[]): Promise<number> {
  const { flags } = parseArgs('resync', args, { flags: ['--json'] });
  const requestedAt = new Date().toISOString();
  const result = await withConnection(io, async (c) => {
    const key = appKeys(c.keys, c.config.redis.keyPrefix).resyncRequested;
    const [[, previous], , [, leaseTtl], [, generation]] = (await c.redis
      .multi()
      .get(key)
      .set(key, requestedAt)
      .pttl(c.keys.lease)
      .get(c.keys.generation)
      .exec()) as [[null, string | null], [null, 'OK'], [null, number], [null, string | null]];
    return {
      key,
      requestedAt,
      replaces: previous,
      leader: leaseTtl !== -2,
      generation: generation === null ? null : Number(generation),
    };
  });
  if (flags.has('--json')) {
    io.json(result);
  } else {
    io.out(`re-sync requested at ${requestedAt} (${result.key})`);
    if (result.replaces) io.out(`(replaces the pending request of ${result.replaces})`);
    io.out(RESYNC_EXPLANATION);
    if (result.generation !== null)
      io.out(`Current generation: ${result.generation}; the re-sync starts the next.`);
    if (!result.leader) {
      io.out('note: no ingest replica holds the reader lease right now: the request waits until one does.');
    }
  }
  return EXIT_OK;
}
