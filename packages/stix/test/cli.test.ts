import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');
const repoRoot = join(packageDir, '..', '..');

function run(
  cmd: string,
  args: string[],
  cwd: string,
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const cli = (args: string[], input: string) =>
  run(process.execPath, ['--import', 'tsx', join(packageDir, 'src', 'bin.ts'), ...args], packageDir, input);

const INPUT = [
  "[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'EVIL.example.']",
  '',
  JSON.stringify({
    pattern: "[ipv4-addr:value = '198.51.100.7'] AND [url:value = 'http://evil.example/']",
    mode: 'lenient',
  }),
  "[ipv4-addr:value = '198.51.100.7'] AND [url:value = 'http://evil.example/']",
  "[domain-name:value = 'evil.example'",
  JSON.stringify({ pattern: "[domain-name:value = 'a.example'\n OR domain-name:value = 'b.example']" }),
  JSON.stringify({ pattern: '[EXISTS a:b]', stixVersion: '2.0' }),
  '{not json',
  '',
].join('\n');

describe('stix-extract CLI', () => {
  it('prints one JSON line per input line', async () => {
    const { code, stdout } = await cli([], INPUT);
    expect(code).toBe(0);
    const lines = stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(7);
    expect(lines[0]).toEqual({
      valid: true,
      observables: [
        { type: 'ipv4-addr', value: '198.51.100.1' },
        { type: 'domain-name', value: 'evil.example' },
      ],
    });
    expect(lines[1].observables.map((o: { value: string }) => o.value)).toEqual([
      '198.51.100.7',
      'http://evil.example/',
    ]);
    expect(lines[2].observables).toEqual([]);
    expect(lines[2].skipped).toHaveLength(2);
    expect(lines[3]).toMatchObject({ valid: false, error: { position: 35 }, observables: [] });
    expect(lines[4].observables.map((o: { value: string }) => o.value)).toEqual(['a.example', 'b.example']);
    expect(lines[5]).toMatchObject({ valid: false, observables: [] });
    expect(lines[6]).toMatchObject({ valid: false, error: { message: expect.stringContaining('JSON') } });
  });

  it('--lenient makes lenient the default', async () => {
    const { code, stdout } = await cli(
      ['--lenient'],
      "[ipv4-addr:value = '198.51.100.7'] AND [url:value = 'http://evil.example/']\n",
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).observables).toHaveLength(2);
  });

  it('rejects unknown flags on stderr with exit code 2', async () => {
    const { code, stdout, stderr } = await cli(['--bogus'], '[a:b = 1]\n');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--bogus');
  });

  it('runs from the repository root as `pnpm stix-extract` with only JSON on stdout', async () => {
    const { code, stdout } = await run(
      'pnpm',
      ['stix-extract'],
      repoRoot,
      "[url:value = 'HTTP://Evil.Example/x']\n",
    );
    expect(code).toBe(0);
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ valid: true, observables: [{ type: 'url', value: 'http://evil.example/x' }] }]);
  });

  it('`pnpm stix-extract`: IDNs come out in xn-- form, labels that are not IDNA 2008 are refused with the reason', async () => {
    const input = [
      "[domain-name:value = 'münchen.de']",
      "[domain-name:value = '\u202egoogle.com']",
      "[domain-name:value = '😀.example']",
    ].join('\n');
    const { code, stdout } = await run('pnpm', ['stix-extract'], repoRoot, `${input}\n`);
    expect(code).toBe(0);
    const [idn, bidi, emoji] = stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(idn).toEqual({ valid: true, observables: [{ type: 'domain-name', value: 'xn--mnchen-3ya.de' }] });
    expect(bidi).toMatchObject({
      observables: [],
      skipped: [{ reason: expect.stringContaining('U+202E is not allowed in a domain name (IDNA 2008)') }],
    });
    expect(emoji).toMatchObject({
      observables: [],
      skipped: [{ reason: expect.stringContaining('U+1F600 is not allowed in a domain name (IDNA 2008)') }],
    });
  });
});
