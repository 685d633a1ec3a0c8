import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appDir, cli } from './helpers.ts';

/** packages/stix's own CLI, to check that `stix-extract` here is the same program. */
function stixCli(
  args: string[],
  stdin: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(appDir, '../../packages/stix/src/bin.ts'), ...args],
    {
      cwd: appDir,
      env: { PATH: process.env.PATH ?? '' },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('usage', () => {
  it.each([[['help']], [['--help']], [['-h']], [['status', '--help']]])(
    '%j → usage on stdout, nothing on stderr, exit 0',
    async (args) => {
      const res = await cli(args, {});
      expect(res.code).toBe(0);
      expect(res.stderr).toBe('');
      expect(res.stdout).toContain('usage: pnpm cli <command> [options]');
    },
  );

  it.each([[[]], [['bogus']]])('%j → usage on stderr, nothing on stdout, exit 2', async (args) => {
    const res = await cli(args, {});
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('usage: pnpm cli <command> [options]');
    expect(res.stderr).toContain('exit codes: 0 all good; 1 attention needed');
    if (args[0] === 'bogus') expect(res.stderr.split('\n')[0]).toBe('unknown command "bogus"');
  });

  it('an unknown option is a usage error naming the command', async () => {
    const res = await cli(['status', '--verbose'], {});
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toBe('usage error: status: unknown option --verbose');
  });
});

describe('stix-extract', () => {
  const input = [
    "[ipv4-addr:value = '198.51.100.7']",
    '',
    "[domain-name:value = 'EXAMPLE.com'] OR [url:value = 'http://Example.com/a']",
    '{"pattern": "[file:hashes.\'SHA-256\' = \'AB\']", "mode": "lenient"}',
    '[not a pattern',
  ].join('\n');

  it('is the stix package CLI: same output, line for line, exit 0', async () => {
    for (const args of [[], ['--lenient'], ['--stix-version=2.0']]) {
      const [ours, theirs] = await Promise.all([
        cli(['stix-extract', ...args], {}, input),
        stixCli(args, input),
      ]);
      expect(ours.code).toBe(0);
      expect(theirs.code).toBe(0);
      expect(ours.stdout.trimEnd().split('\n')).toHaveLength(4);
      expect(ours.stdout).toBe(theirs.stdout);
    }
    const res = await cli(['stix-extract'], {}, "[ipv4-addr:value = '198.51.100.7']\n");
    expect(JSON.parse(res.stdout)).toMatchObject({
      valid: true,
      observables: [{ type: 'ipv4-addr', value: '198.51.100.7' }],
    });
  });

  it('a bad flag: its usage on stderr, exit 2', async () => {
    const res = await cli(['stix-extract', '--bogus'], {});
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('usage: stix-extract');
  });
});
