#!/usr/bin/env node
// Import rules of the workspace (docs/architecture.md, "Layers"), run by `pnpm lint`:
// 1. apps are leaves: no file under apps/<app>/ (sources, tests, benches) imports from another app, nor a
//    package's files by relative path (a package is imported by its name, so the app lists it as a dependency);
// 2. no import cycle between the source files of the apps and packages (relative imports inside a package, and
//    `@octi-sekoia/<name>[/<export>]` imports between packages, resolved through the package's `exports`).
//    Type-only imports count too: a cycle of types still ties the files together for a reader.
// Prints each violation; exit 1 when any. Usage: node scripts/check-imports.mjs [--root DIR] (default: the repo).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const args = process.argv.slice(2);
const rootArg = args.indexOf('--root');
const root = rootArg >= 0 ? resolve(args[rootArg + 1]) : resolve(import.meta.dirname, '..');

function walk(dir, keep) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, keep));
    else if (keep(name)) out.push(p);
  }
  return out;
}
const isCode = (name) => /\.(ts|mts|mjs|js)$/.test(name) && !/\.d\.ts$/.test(name);
const isSource = (name) => /\.ts$/.test(name) && !/\.(test|d)\.ts$/.test(name);
const members = (d) =>
  existsSync(join(root, d)) ? readdirSync(join(root, d)).map((m) => join(root, d, m)) : [];

// Static imports and re-exports (`from '…'`), side-effect imports (`import '…'`) and dynamic `import('…')`.
const importRe =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const specifiers = (file) =>
  [...readFileSync(file, 'utf8').matchAll(importRe)].map((m) => m[1] ?? m[2] ?? m[3]);

function packageTarget(spec) {
  const [, name, ...rest] = spec.split('/');
  const dir = join(root, 'packages', name);
  const pkgFile = join(dir, 'package.json');
  if (!existsSync(pkgFile)) return undefined;
  const exportsField = JSON.parse(readFileSync(pkgFile, 'utf8')).exports ?? { '.': './src/index.ts' };
  const key = rest.length > 0 ? `./${rest.join('/')}` : '.';
  const target =
    typeof exportsField === 'string' ? (key === '.' ? exportsField : undefined) : exportsField[key];
  return typeof target === 'string' ? join(dir, target) : undefined;
}

const problems = [];

// 1. Apps are leaves.
for (const app of members('apps').filter((p) => statSync(p).isDirectory())) {
  for (const file of walk(app, isCode)) {
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      const rel = relative(root, target).split(sep);
      const where = relative(root, file);
      if (rel[0] === 'apps' && rel[1] !== relative(join(root, 'apps'), app))
        problems.push(
          `${where} imports '${spec}' from the app apps/${rel[1]}: move what it needs into a package`,
        );
      else if (rel[0] === 'packages')
        problems.push(
          `${where} imports '${spec}' by relative path: import @octi-sekoia/${rel[1]} by its name`,
        );
    }
  }
}

// 2. No import cycles between source files.
const files = [...members('apps'), ...members('packages')].flatMap((m) =>
  existsSync(join(m, 'src')) ? walk(join(m, 'src'), isSource) : [],
);
const graph = new Map();
for (const file of files) {
  const edges = [];
  for (const spec of specifiers(file)) {
    let target;
    if (spec.startsWith('.')) target = resolve(dirname(file), spec);
    else if (spec.startsWith('@octi-sekoia/')) target = packageTarget(spec);
    if (target && existsSync(target)) edges.push(target);
  }
  graph.set(file, edges);
}
// Tarjan's strongly connected components: a component of more than one file is a cycle.
let index = 0;
const stack = [];
const state = new Map();
let cycles = 0;
function visit(v) {
  state.set(v, { index, low: index, onStack: true });
  index += 1;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!state.has(w)) {
      visit(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).onStack) state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
  }
  if (state.get(v).low === state.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) {
      cycles += 1;
      problems.push(
        `import cycle: ${component
          .map((f) => relative(root, f))
          .sort()
          .join(' ↔ ')}`,
      );
    }
  }
}
for (const v of graph.keys()) if (!state.has(v)) visit(v);

for (const p of problems) console.error(p);
if (problems.length > 0) {
  console.error(
    `check-imports: ${problems.length} problem${problems.length === 1 ? '' : 's'} (${cycles} cycle(s))`,
  );
  process.exit(1);
}
console.log(`check-imports: ${files.length} source files, apps are leaves, no import cycle`);
