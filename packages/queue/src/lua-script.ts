import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.ts';

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when Redis does not know it (restart, SCRIPT FLUSH).
 * Load the source with readFileSync of `new URL('./lua/<name>.lua', import.meta.url)` as 'utf8', in exactly the
 * spelling the other modules use: that works under vitest and tsx, and scripts/bundle-app.mjs inlines it into the
 * esbuild bundle.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
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
