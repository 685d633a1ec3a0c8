/** The text of the Lua script at `url` with its `--- @include "<path>"` lines expanded (lua-source.mjs). */
export function luaSource(url: URL): string;
