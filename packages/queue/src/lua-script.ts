import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.ts';

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when Redis does not know it (restart, SCRIPT FLUSH).
 * Load the source with luaSource of `new URL('./lua/<name>.lua', import.meta.url)` (its `--- @include` lines
 * expanded, lua-source.mjs), or readFileSync of that URL as 'utf8' for a script without includes, in exactly the
 * spellings the other modules use: they work under vitest and tsx, and scripts/bundle-app.mjs inlines them into
 * the esbuild bundle.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    // An include left in the text would reach Redis as a comment: the script would miss its functions.
    const include = /^--- @include .*$/m.exec(source);
    if (include) throw new Error(`Lua script ${name}: "${include[0]}" not expanded (load it with luaSource)`);
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return await redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}
