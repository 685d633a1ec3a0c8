// The stix-extract program on this process's streams (`pnpm stix-extract`); the program is cli.ts.
import { runStixExtract } from './cli.ts';

process.exitCode = await runStixExtract(process.argv.slice(2), process);
