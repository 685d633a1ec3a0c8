// `--code <git ref>`: run the product's apps from a snapshot of a commit instead of the working tree (which other
// people may be editing while a long benchmark runs). The snapshot is `git archive <sha>` extracted to a temporary
// directory, with node_modules recreated as symlinks: workspace packages (@octi-sekoia/*) point into the snapshot,
// third-party packages to the working tree's installed copies (the lockfile is the same unless it changed).
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT } from './children.ts';

function linkEntries(fromDir: string, toDir: string, snapshot: string): void {
  mkdirSync(toDir, { recursive: true });
  for (const name of readdirSync(fromDir)) {
    const from = join(fromDir, name);
    const to = join(toDir, name);
    const st = lstatSync(from);
    if (st.isSymbolicLink()) {
      const abs = resolve(dirname(from), readlinkSync(from));
      const inRepo = abs.startsWith(`${ROOT}/`) && !abs.includes('/node_modules/');
      symlinkSync(inRepo ? snapshot + abs.slice(ROOT.length) : realpathSync(from), to);
    } else if (st.isDirectory() && name.startsWith('@')) {
      linkEntries(from, to, snapshot);
    } else {
      symlinkSync(from, to);
    }
  }
}

/** Bundles ingest and worker inside the snapshot with the repository's own script (as the Dockerfiles do). */
export function bundleApps(root: string): void {
  for (const app of ['ingest', 'worker']) {
    execFileSync(process.execPath, [join(root, 'scripts', 'bundle-app.mjs')], {
      cwd: join(root, 'apps', app),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
}

/**
 * Extracts `ref` and returns the snapshot's root and commit. One snapshot per bench process: runs of the same
 * commit by other people on this machine remove theirs when they end (a shared one vanished under a running
 * bench: `spawn node ENOENT`).
 */
export function prepareSnapshot(ref: string): { root: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: ROOT })
    .toString()
    .trim();
  const root = join(tmpdir(), `octi-sekoia-bench-src-${commit.slice(0, 12)}-${process.pid}`);
  if (existsSync(join(root, '.bench-ready'))) return { root, commit };
  const work = `${root}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C '${work}'`], { cwd: ROOT });
  const dirs = [
    '.',
    ...['apps', 'packages'].flatMap((d) => readdirSync(join(ROOT, d)).map((n) => join(d, n))),
  ];
  for (const d of dirs) {
    const nm = join(ROOT, d, 'node_modules');
    if (existsSync(nm) && existsSync(join(work, d))) linkEntries(nm, join(work, d, 'node_modules'), root);
  }
  execFileSync('touch', [join(work, '.bench-ready')]);
  rmSync(root, { recursive: true, force: true });
  renameSync(work, root);
  return { root, commit };
}
