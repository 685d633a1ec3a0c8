import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { IndicatorJob } from '@octi-sekoia/model';

export const appDir = join(import.meta.dirname, '..');
export const CONNECTOR_ID = '4a0d6a3e-5c1b-4f7e-8d2a-9b3c1e5f7a90';

export interface CliResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real entry point (`node --import tsx src/main.ts …`) with only the given environment (nothing
 * inherited but PATH) and optional stdin; resolves once it has exited and its output is complete.
 */
export function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr }));
  });
}

/** The environment of a CLI working on the test's Redis prefix. */
export function redisEnv(r: { url: string; prefix: string }, extra: Record<string, string> = {}) {
  return { CONNECTOR_ID, REDIS_URL: r.url, REDIS_KEY_PREFIX: r.prefix, ...extra };
}

export function indicatorJob(over: Partial<IndicatorJob> = {}): IndicatorJob {
  return {
    kind: 'indicator',
    generation: 1,
    eventId: '1764300000000-0',
    op: 'upsert',
    indicatorId: 'ind-1',
    stixId: 'indicator--0b5d8a2c-1f6e-4c3a-9d7b-2e8f1a4c6b90',
    attributes: { validFrom: '2026-11-01T00:00:00.000Z', killChainPhases: [], description: 'test indicator' },
    values: ['1.2.3.4'],
    ...over,
  };
}
