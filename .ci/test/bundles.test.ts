import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './files.ts';

/**
 * Every package the images bundle (its `build` script runs scripts/bundle-app.mjs) bundles as the Dockerfiles'
 * build stage does: a third-party import that is not a direct dependency of the app fails here — `pnpm deploy
 * --prod` would not link it into the image — without waiting for the compose e2e.
 */
const bundled = ['apps', 'packages'].flatMap((top) =>
  readdirSync(join(repoRoot, top)).flatMap((name) => {
    const dir = join(repoRoot, top, name);
    let build: string | undefined;
    try {
      build = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).scripts?.build;
    } catch {
      return [];
    }
    const m = build?.match(/bundle-app\.mjs(.*)$/);
    return m ? [{ name: `${top}/${name}`, dir, entries: m[1]!.trim().split(/\s+/).filter(Boolean) }] : [];
  }),
);

describe('image bundles', () => {
  it('finds the four apps and the simulators', () => {
    expect(bundled.map((b) => b.name).sort()).toEqual([
      'apps/cli',
      'apps/dashboard',
      'apps/ingest',
      'apps/worker',
      'packages/simulators',
    ]);
  });

  it.each(bundled)(
    '$name bundles with only its own dependencies',
    ({ name, dir, entries }) => {
      const out = mkdtempSync(join(tmpdir(), 'bundle-'));
      try {
        const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'bundle-app.mjs'), ...entries], {
          cwd: dir,
          env: { ...process.env, BUNDLE_OUTDIR: out },
          encoding: 'utf8',
        });
        expect(r.stderr).not.toMatch(/ERROR/);
        expect(r.status).toBe(0);
        const js = readdirSync(out, { recursive: true }).filter((f) => String(f).endsWith('.js'));
        expect(js).toHaveLength(entries.length || 1);
        // Lua scripts are inlined with their includes expanded (packages/queue/src/lua-source.mjs).
        const text = js.map((f) => readFileSync(join(out, String(f)), 'utf8')).join('\n');
        // An include line left in a script would start a line of its inlined text (a JSON string).
        expect(text).not.toMatch(/(\\n|")--- @include/);
        if (name === 'apps/worker') expect(text).toContain('local function cmpfence(');
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
