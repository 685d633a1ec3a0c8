/**
 * `stix-extract` is packages/stix's own CLI, run in this process: its module reads `process.argv` and stdin
 * when imported (top-level `await main()`), and it exports no runner, so the arguments are handed over
 * through `process.argv` and the module is imported once. No logic is duplicated here.
 */
export async function stixExtractCommand(args: readonly string[]): Promise<number> {
  process.argv = [process.argv[0] ?? 'node', 'stix-extract', ...args];
  await import('../../../packages/stix/src/cli.ts');
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
