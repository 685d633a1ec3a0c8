import { adoptCommand } from './adopt.ts';
import { checkConfigCommand } from './check-config.ts';
import { deadLettersCommand } from './dead-letters.ts';
import { CommandError, EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, type Io, UsageError } from './io.ts';
import { probeCommand } from './probe.ts';
import { resyncCommand } from './resync.ts';
import { statusCommand } from './status.ts';
import { stixExtractCommand } from './stix-extract.ts';
import { USAGE } from './usage.ts';

const HELP = new Set(['help', '--help', '-h']);

const COMMANDS: Record<string, (io: Io, args: readonly string[]) => Promise<number>> = {
  status: statusCommand,
  'dead-letters': deadLettersCommand,
  resync: resyncCommand,
  adopt: adoptCommand,
  'check-config': checkConfigCommand,
  probe: probeCommand,
  'stix-extract': (_io, args) => stixExtractCommand(args),
};

/** Runs one command line; returns the exit code. Nothing is thrown past it. */
export async function run(io: Io, argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  // Asked for help (`help`, `--help`, `-h`, also after a command): the usage is the answer, on stdout, exit 0.
  if (command !== undefined && argv.some((a) => HELP.has(a))) {
    io.out(USAGE);
    return EXIT_OK;
  }
  const handler = command === undefined ? undefined : COMMANDS[command];
  if (!handler) {
    if (command !== undefined) io.err(`unknown command ${JSON.stringify(command)}`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  try {
    return await handler(io, args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`usage error: ${err.message}`);
      io.err('see: help');
      return EXIT_USAGE;
    }
    if (err instanceof CommandError) {
      if (err.message) io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_ATTENTION;
  }
}
