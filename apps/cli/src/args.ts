import { UsageError } from './io.ts';

export interface ArgSpec {
  /** Options without a value, e.g. `--json`. */
  flags?: readonly string[];
  /** Options with a value: `--limit 10` or `--limit=10`. */
  options?: readonly string[];
  /** How many positional arguments are accepted (default 0). */
  maxPositionals?: number;
}

export interface ParsedArgs {
  flags: Set<string>;
  options: Map<string, string>;
  positionals: string[];
}

/** Strict parsing: an unknown option or an extra argument is a usage error naming the command. */
export function parseArgs(command: string, args: readonly string[], spec: ArgSpec): ParsedArgs {
  const flags = new Set<string>();
  const options = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(0, eq) : arg;
      if (spec.flags?.includes(name)) {
        if (eq >= 0) throw new UsageError(`${command}: ${name} takes no value`);
        flags.add(name);
      } else if (spec.options?.includes(name)) {
        const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
        if (value === undefined || value === '') throw new UsageError(`${command}: ${name} needs a value`);
        options.set(name, value);
      } else {
        throw new UsageError(`${command}: unknown option ${name}`);
      }
    } else {
      positionals.push(arg);
    }
  }
  if (positionals.length > (spec.maxPositionals ?? 0)) {
    const extra = positionals[spec.maxPositionals ?? 0];
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(extra)}`);
  }
  return { flags, options, positionals };
}

/** A positive integer option, or the default. */
export function positiveInt(
  command: string,
  name: string,
  raw: string | undefined,
  fallback: number,
): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(`${command}: ${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}
