import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ManagedProcess, startProcess } from './process.ts';

/** An app's real entry point (`src/main.ts` via tsx) with only PATH and the given environment. */
export function startEntryPoint(appDir: string, env: Record<string, string>) {
  const proc: ManagedProcess = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let stderr = '';
  proc.child.stderr?.on('data', (d: string) => {
    stderr += d;
  });
  return { proc, stderr: () => stderr };
}

/** A config.yml in a fresh temporary folder; returns its path. */
export function tempConfigFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'config-')), 'config.yml');
  writeFileSync(path, content);
  return path;
}

/** The JSON log lines of a process's output, parsed. */
export function jsonLogEntries(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
