#!/usr/bin/env node
// Runs every package's tests through turbo, then prints one closing line that CI can read:
// "tests: N passed, N failed". A package whose runner crashed (no result file) counts as failed.
// Extra arguments go to turbo (e.g. --filter @octi-sekoia/stix); then only the filtered packages count.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const extra = process.argv.slice(2);
const list = spawnSync('pnpm', ['-r', 'ls', '--depth', '-1', '--json'], { cwd: root, encoding: 'utf8' });
const packages = JSON.parse(list.stdout)
  .map((p) => p.path)
  .filter((p) => p !== root && existsSync(join(p, 'vitest.config.ts')));
for (const p of packages) rmSync(join(p, '.vitest-result.json'), { force: true });

// The tests need a Redis: REDIS_TEST_URL or 127.0.0.1:6379, else a private one started for this run.
const env = { TURBO_TELEMETRY_DISABLED: '1', ...process.env };
const redisUrl = env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
const ping = (url) => {
  const { hostname, port } = new URL(url);
  const r = spawnSync('redis-cli', ['-h', hostname, '-p', port || '6379', 'ping'], { encoding: 'utf8' });
  return r.stdout?.trim() === 'PONG';
};
let privateRedis;
if (!ping(redisUrl)) {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.error(`No Redis answers at ${redisUrl} and redis-server is not installed.`);
    console.error('Install it (Debian: apt-get install redis-server) or set REDIS_TEST_URL.');
    process.exit(1);
  }
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const args = ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  privateRedis = spawn('redis-server', args, { stdio: 'ignore' });
  env.REDIS_TEST_URL = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !ping(env.REDIS_TEST_URL); i++) spawnSync('sleep', ['0.1']);
  console.log(
    `No Redis at ${redisUrl}: started a private redis-server for this run at ${env.REDIS_TEST_URL}`,
  );
}

const turbo = [
  'exec',
  'turbo',
  'run',
  'test',
  '--log-prefix=none',
  '--continue',
  '--concurrency=1',
  ...extra,
];
const run = spawnSync('pnpm', turbo, { cwd: root, stdio: 'inherit', env });
privateRedis?.kill();

let passed = 0;
let failed = 0;
const broken = [];
for (const p of packages) {
  const file = join(p, '.vitest-result.json');
  const name = p.slice(root.length + 1);
  if (!existsSync(file)) {
    if (extra.length === 0) broken.push(name);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) broken.push(name);
}
if (broken.length > 0) console.log(`packages whose tests broke before reporting: ${broken.join(', ')}`);
const ok = run.status === 0 && failed === 0 && broken.length === 0 && passed > 0;
console.log(`tests: ${passed} passed, ${failed + broken.length} failed`);
process.exit(ok ? 0 : 1);
