import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFilePath, loadConfig } from '../src/index.ts';
import { BASE, tempFile } from './helpers.ts';

// `pnpm --filter ./apps/worker start` typed at the root runs in apps/worker with INIT_CWD=<root>.
const root = dirname(tempFile('config.yml', 'worker:\n  concurrency: 7\n'));
const appDir = join(root, 'apps', 'worker');
mkdirSync(appDir, { recursive: true });
const elsewhere = dirname(tempFile('other.yml', ''));

describe('configFilePath: one rule for every app and the CLI', () => {
  it.each([
    ['started through pnpm from the root', { INIT_CWD: root }, appDir, join(root, 'config.yml')],
    ['run in the root itself (the CLI, node dist/main.js)', {}, root, join(root, 'config.yml')],
    [
      'CONFIG_FILE relative to where it was typed',
      { INIT_CWD: root, CONFIG_FILE: 'config.yml' },
      appDir,
      join(root, 'config.yml'),
    ],
    [
      'CONFIG_FILE absolute',
      { INIT_CWD: elsewhere, CONFIG_FILE: join(root, 'config.yml') },
      appDir,
      join(root, 'config.yml'),
    ],
  ])('%s', (_what, env, cwd, expected) => {
    expect(configFilePath(env, cwd)?.path).toBe(expected);
  });

  it('no config.yml where the command was typed: none (environment and defaults only)', () => {
    expect(configFilePath({ INIT_CWD: elsewhere }, root)).toBeUndefined();
  });

  it('loadConfig reads the root config.yml of an app started through pnpm from the root', () => {
    const cwd = process.cwd();
    try {
      process.chdir(appDir);
      expect(loadConfig('worker', { env: { ...BASE, INIT_CWD: root } }).config.worker.concurrency).toBe(7);
    } finally {
      process.chdir(cwd);
    }
  });
});
