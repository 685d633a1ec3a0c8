#!/usr/bin/env node
// Runs every package's tests through turbo, then prints one closing line that CI can read:
// "tests: N passed, N failed". A package whose runner crashed (no result file) counts as failed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const list = spawnSync('pnpm', ['-r', 'ls', '--depth', '-1', '--json'], { cwd: root, encoding: 'utf8' });
const packages = JSON.parse(list.stdout)
  .map((p) => p.path)
  .filter((p) => p !== root && existsSync(join(p, 'vitest.config.ts')));
for (const p of packages) rmSync(join(p, '.vitest-result.json'), { force: true });

const args = [
  'turbo',
  'run',
  'test',
  '--log-prefix=none',
  '--continue',
  '--concurrency=1',
  ...process.argv.slice(2),
];
const run = spawnSync('pnpm', ['exec', ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { TURBO_TELEMETRY_DISABLED: '1', ...process.env },
});

let passed = 0;
let failed = 0;
const broken = [];
for (const p of packages) {
  const file = join(p, '.vitest-result.json');
  if (!existsSync(file)) {
    broken.push(p.slice(root.length + 1));
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) broken.push(p.slice(root.length + 1));
}
if (broken.length > 0) console.log(`packages whose test run broke before reporting: ${broken.join(', ')}`);
const ok = run.status === 0 && failed === 0 && broken.length === 0 && passed > 0;
console.log(`tests: ${passed} passed, ${failed + broken.length} failed`);
process.exit(ok ? 0 : 1);
