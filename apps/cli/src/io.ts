import { writeSync } from 'node:fs';
import { placeholderOf } from '@octi-sekoia/config';
import { redact } from '@octi-sekoia/logger';

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_ATTENTION = 1;
export const EXIT_USAGE = 2;

export type Env = Record<string, string | undefined>;

/**
 * Where a command writes. Every line goes through the redactor with the secrets known so far (the
 * configuration's, added once it is loaded), so no command can print one by mistake.
 */
export class Io {
  private readonly secrets = new Set<string>();

  constructor(
    readonly env: Env,
    private readonly write: (fd: 1 | 2, text: string) => void = (fd, text) => writeSync(fd, text),
  ) {}

  addSecrets(secrets: Iterable<string | undefined>): void {
    // A placeholder (`ChangeMe`: what the configuration refuses as one) is no secret, and check-config must be
    // able to name it.
    for (const s of secrets) if (s && s.length >= 4 && placeholderOf(s) === undefined) this.secrets.add(s);
  }

  /**
   * The logger's redaction: known secrets in any encoding, credential syntax (`Bearer x`, `?apikey=`, URL
   * passwords) and sensitive JSON keys (so `--json` shows `"apiKey": "[REDACTED]"` where text shows `sk***`).
   */
  redact(text: string): string {
    return redact(text, [...this.secrets]);
  }

  /** One or more lines on stdout. */
  out(text = ''): void {
    this.write(1, `${this.redact(text)}\n`);
  }

  /** One or more lines on stderr. */
  err(text: string): void {
    this.write(2, `${this.redact(text)}\n`);
  }

  json(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }
}

/** Thrown by a command for a usage error (one line, exit 2 with the usage hint). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Thrown by a command for a failure it has already explained in one line (exit code given). */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
