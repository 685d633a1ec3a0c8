#!/usr/bin/env node
// Bundles an app's TypeScript (and the workspace packages it imports) into dist/*.js for the containers.
// Third-party packages stay external: they come from `pnpm deploy --prod`. Lua scripts are inlined as text.
// Usage (from an app directory): node ../../scripts/bundle-app.mjs [entry ...]   default: src/main.ts
// BUNDLE_OUTDIR overrides dist/ (tests bundle into a temporary directory).
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { luaSource } from '../packages/queue/src/lua-source.mjs';

const entries = process.argv.slice(2);
if (entries.length === 0) entries.push('src/main.ts');
for (const e of entries)
  if (!existsSync(e)) throw new Error(`bundle-app: entry ${e} not found in ${process.cwd()}`);

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const appName = pkg.name;
const directDeps = new Set(Object.keys(pkg.dependencies ?? {}));

const workspaceAndLua = {
  name: 'workspace-and-lua',
  setup(b) {
    // Bare imports are external except our own workspace packages, which ship TypeScript source.
    // An external must be a direct dependency of the app: `pnpm deploy` links only those next to the bundle.
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@octi-sekoia/') || args.path.startsWith('node:')) return undefined;
      const name = args.path.startsWith('@')
        ? args.path.split('/').slice(0, 2).join('/')
        : args.path.split('/')[0];
      if (!builtinModules.includes(name) && !directDeps.has(name)) {
        return {
          errors: [
            {
              text: `${name} is imported (by ${args.importer}) but is not a dependency of ${appName}: add it to its package.json`,
            },
          ],
        };
      }
      return { external: true };
    });
    // Lua scripts are read next to their module at run time with exactly
    // `luaSource(new URL('./lua/name.lua', import.meta.url))` (includes expanded, packages/queue/src/lua-source.mjs)
    // or `readFileSync(new URL('./lua/name.lua', import.meta.url), 'utf8')`: inline them, includes expanded by the
    // same function, so the bundle is self-contained.
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      let source = await readFile(args.path, 'utf8');
      const url = String.raw`new URL\(\s*'(\.{1,2}\/[^']+\.lua)'\s*,\s*import\.meta\.url\s*\)`;
      const re = new RegExp(
        String.raw`luaSource\(\s*${url}\s*\)|readFileSync\(\s*${url}\s*,\s*'utf8'\s*\)`,
        'g',
      );
      const found = [...source.matchAll(re)];
      for (const m of found) {
        const text = luaSource(pathToFileURL(resolve(dirname(args.path), m[1] ?? m[2])));
        source = source.replace(m[0], () => JSON.stringify(text));
      }
      return found.length > 0 ? { contents: source, loader: 'ts' } : undefined;
    });
    // `import text from './x.lua?raw'` (the vitest/vite spelling) → the file as text.
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path.replace(/\?raw$/, '')),
      namespace: 'raw-text',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      return { contents: await readFile(args.path, 'utf8'), loader: 'text', resolveDir: dirname(args.path) };
    });
  },
};

await build({
  entryPoints: entries,
  outdir: process.env.BUNDLE_OUTDIR ?? 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  loader: { '.lua': 'text' },
  plugins: [workspaceAndLua],
  // ESM bundles of CommonJS-using code need require().
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
console.log(`bundled ${entries.join(', ')} → ${process.env.BUNDLE_OUTDIR ?? 'dist'}/`);
