/**
 * stix-extract: reads patterns on stdin, one per line, or JSON lines
 * `{"pattern": "...", "mode"?: "strict"|"lenient", "stixVersion"?: "2.0"|"2.1"}`; prints one JSON line per
 * input: `{"valid", "error"?, "observables", "skipped"?}`. Blank lines are ignored. Flags: `--lenient`,
 * `--stix-version=2.0|2.1`. Only JSON goes to stdout; usage errors go to stderr with exit code 2.
 * `runStixExtract` is the program (the operator CLI runs it in its own process, `pnpm cli stix-extract`);
 * bin.ts runs it on the process's streams.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { StixVersion } from './ast.ts';
import { type ExtractionMode, type ExtractionResult, extractObservables } from './extract.ts';

interface Defaults {
  mode: ExtractionMode;
  stixVersion: StixVersion;
}

const USAGE = 'usage: stix-extract [--lenient] [--stix-version=2.0|2.1] < patterns';

export function parseArgs(argv: string[]): Defaults | string {
  const d: Defaults = { mode: 'strict', stixVersion: '2.1' };
  for (const arg of argv) {
    if (arg === '--lenient') d.mode = 'lenient';
    else if (arg === '--strict') d.mode = 'strict';
    else if (arg === '--stix-version=2.0' || arg === '--stix-version=2.1')
      d.stixVersion = arg.slice(-3) as StixVersion;
    else return `unknown argument ${JSON.stringify(arg)}\n${USAGE}`;
  }
  return d;
}

function outputFor(r: ExtractionResult): Record<string, unknown> {
  const out: Record<string, unknown> = { valid: r.valid };
  if (r.error) out.error = r.error;
  out.observables = r.observables;
  if (r.skipped.length > 0) out.skipped = r.skipped;
  return out;
}

function invalidInput(message: string): Record<string, unknown> {
  return { valid: false, error: { message, position: 0 }, observables: [] };
}

/** One input line to one output object. A pattern never starts with `{`, so JSON input is unambiguous. */
export function processLine(line: string, d: Defaults): Record<string, unknown> {
  const trimmed = line.trimStart();
  if (!trimmed.startsWith('{')) return outputFor(extractObservables(line, d));
  let input: unknown;
  try {
    input = JSON.parse(trimmed);
  } catch (err) {
    return invalidInput(`invalid JSON input line: ${(err as Error).message}`);
  }
  if (
    typeof input !== 'object' ||
    input === null ||
    typeof (input as { pattern?: unknown }).pattern !== 'string'
  ) {
    return invalidInput('JSON input line needs a string "pattern"');
  }
  const { pattern, mode, stixVersion } = input as { pattern: string; mode?: unknown; stixVersion?: unknown };
  if (mode !== undefined && mode !== 'strict' && mode !== 'lenient') {
    return invalidInput('"mode" must be "strict" or "lenient"');
  }
  if (stixVersion !== undefined && stixVersion !== '2.0' && stixVersion !== '2.1') {
    return invalidInput('"stixVersion" must be "2.0" or "2.1"');
  }
  return outputFor(
    extractObservables(pattern, {
      mode: (mode as ExtractionMode | undefined) ?? d.mode,
      stixVersion: (stixVersion as StixVersion | undefined) ?? d.stixVersion,
    }),
  );
}

/** The streams the program reads and writes (the process's own, from bin.ts). */
export interface ExtractIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** Runs stix-extract over `io`; resolves to the exit code (2: usage error). */
export async function runStixExtract(argv: readonly string[], io: ExtractIo): Promise<number> {
  const d = parseArgs([...argv]);
  if (typeof d === 'string') {
    io.stderr.write(`${d}\n`);
    return 2;
  }
  const rl = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    if (!io.stdout.write(`${JSON.stringify(processLine(line, d))}\n`)) {
      await new Promise((resolve) => io.stdout.once('drain', resolve));
    }
  }
  return 0;
}
