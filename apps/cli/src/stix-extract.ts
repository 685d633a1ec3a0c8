import { runStixExtract } from '@octi-sekoia/stix/cli';

/** `stix-extract` is packages/stix's own program, run in this process on its streams: no logic is duplicated here. */
export function stixExtractCommand(args: readonly string[]): Promise<number> {
  return runStixExtract(args, process);
}
