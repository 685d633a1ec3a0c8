// The text of a Lua script with its includes expanded: the one implementation, used at run time (tsx, vitest)
// and by scripts/bundle-app.mjs when it inlines a script into a bundle (plain JavaScript so that both can import
// it). A line `--- @include "<path>"` (BullMQ's spelling) is replaced by the file `<path>.lua`, relative to the
// file holding the line; each file is included once per script (its local functions are defined once), nested
// includes too. An include that does not exist fails loudly, naming the script and the line.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** @param {URL} url the script's file URL, `new URL('./lua/<name>.lua', import.meta.url)` */
export function luaSource(url) {
  return expand(url, new Set([url.href]));
}

/**
 * @param {URL} url
 * @param {Set<string>} included
 * @returns {string}
 */
function expand(url, included) {
  const text = readFileSync(url, 'utf8');
  return text.replace(/^--- @include "([^"]+)"[ \t]*$/gm, (line, path) => {
    const target = new URL(`${path}.lua`, url);
    if (!existsSync(target))
      throw new Error(
        `Lua include not found: ${line} in ${fileURLToPath(url)} (no ${fileURLToPath(target)})`,
      );
    if (included.has(target.href)) return `-- (${path}: included above)`;
    included.add(target.href);
    return expand(target, included).replace(/\n$/, '');
  });
}
