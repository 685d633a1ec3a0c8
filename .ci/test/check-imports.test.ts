import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from './files.ts';

/** Runs scripts/check-imports.mjs over a tree made of `files` (path → content). */
function check(files: Record<string, string>): { status: number | null; out: string } {
  const root = mkdtempSync(join(tmpdir(), 'check-imports-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/check-imports.mjs'), '--root', root], {
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout + r.stderr };
}
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

const pkg = (name: string, exports?: Record<string, string>) =>
  JSON.stringify({ name: `@octi-sekoia/${name}`, ...(exports ? { exports } : {}) });

describe('scripts/check-imports.mjs', () => {
  it('passes on this repository', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/check-imports.mjs')], {
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toContain('apps are leaves, no import cycle');
    expect(r.status).toBe(0);
  });

  it('passes when apps import packages by name and packages import each other without a cycle', () => {
    const r = check({
      'apps/cli/src/main.ts': "import { a } from '@octi-sekoia/a';\nimport { b } from './b.ts';\n",
      'apps/cli/src/b.ts': 'export const b = 1;\n',
      'apps/cli/vitest.config.ts': "import { shared } from '../../vitest.shared.ts';\n",
      'packages/a/package.json': pkg('a'),
      'packages/a/src/index.ts': "export { c } from '@octi-sekoia/c/sub';\n",
      'packages/c/package.json': pkg('c', { '.': './src/index.ts', './sub': './src/sub.ts' }),
      'packages/c/src/index.ts': "export * from './sub.ts';\n",
      'packages/c/src/sub.ts': 'export const c = 1;\n',
    });
    expect(r.out).toContain('apps are leaves, no import cycle');
    expect(r.status).toBe(0);
  });

  it('refuses an app importing from another app, in sources and in tests, statically or dynamically', () => {
    const r = check({
      'apps/cli/src/adopt.ts': "import { read } from '../../worker/src/read.ts';\n",
      'apps/cli/test/t.test.ts': "const m = await import('../../ingest/src/x.ts');\n",
      'apps/worker/src/read.ts': 'export const read = 1;\n',
      'apps/ingest/src/x.ts': 'export const x = 1;\n',
    });
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      "apps/cli/src/adopt.ts imports '../../worker/src/read.ts' from the app apps/worker",
    );
    expect(r.out).toContain(
      "apps/cli/test/t.test.ts imports '../../ingest/src/x.ts' from the app apps/ingest",
    );
  });

  it("refuses an app importing a package's file by relative path", () => {
    const r = check({
      'apps/cli/src/x.ts': "await import('../../../packages/stix/src/cli.ts');\n",
      'packages/stix/src/cli.ts': 'export {};\n',
    });
    expect(r.status).toBe(1);
    expect(r.out).toContain('by relative path: import @octi-sekoia/stix by its name');
  });

  it('refuses an import cycle inside a package (type-only imports count) and across packages', () => {
    const inside = check({
      'packages/q/src/a.ts': "import type { B } from './b.ts';\nexport type A = B[];\n",
      'packages/q/src/b.ts': "import type { A } from './a.ts';\nexport interface B { a?: A }\n",
    });
    expect(inside.status).toBe(1);
    expect(inside.out).toContain('import cycle: packages/q/src/a.ts ↔ packages/q/src/b.ts');
    const across = check({
      'packages/a/package.json': pkg('a'),
      'packages/a/src/index.ts': "export { b } from '@octi-sekoia/b';\n",
      'packages/b/package.json': pkg('b'),
      'packages/b/src/index.ts': "import { a } from '@octi-sekoia/a';\nexport const b = a;\n",
    });
    expect(across.status).toBe(1);
    expect(across.out).toContain('import cycle: packages/a/src/index.ts ↔ packages/b/src/index.ts');
  });
});
