#!/usr/bin/env node
// Finds import cycles between the source files of the apps and packages (relative imports inside a package, and
// `@octi-sekoia/<name>` imports between packages, taken as the package's src/index.ts). Type-only imports count
// too: a cycle of types still ties the files together for a reader. Prints each cycle; exit 1 when any.
// Usage: node scripts/import-cycles.mjs [dir…] (default: apps packages)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const dirs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['apps', 'packages'];

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'test' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.ts$/.test(name) && !/\.(test|d)\.ts$/.test(name)) out.push(p);
  }
  return out;
}

const files = dirs.flatMap((d) =>
  readdirSync(join(root, d)).flatMap((pkg) => {
    const src = join(root, d, pkg, 'src');
    return existsSync(src) ? sources(src) : [];
  }),
);
const importRe = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm;
const graph = new Map();
for (const file of files) {
  const edges = [];
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(importRe)) {
    let target;
    if (spec.startsWith('.')) target = resolve(dirname(file), spec);
    else if (spec.startsWith('@octi-sekoia/'))
      target = join(root, 'packages', spec.split('/')[1], 'src', 'index.ts');
    if (target && existsSync(target)) edges.push(target);
  }
  graph.set(file, edges);
}

// Tarjan's strongly connected components: a component of more than one file is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
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
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component);
  }
}
for (const v of graph.keys()) if (!state.has(v)) visit(v);

for (const c of cycles) {
  const names = c.map((f) => relative(root, f)).sort();
  console.log(`cycle: ${names.join(' ↔ ')}`);
}
console.log(`${files.length} files, ${cycles.length} import cycle${cycles.length === 1 ? '' : 's'}`);
process.exit(cycles.length > 0 ? 1 : 0);
