import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LuaScript, luaSource } from '../src/index.ts';

describe('luaSource: `--- @include` lines expanded', () => {
  let dir: string;
  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
  const url = (name: string) => pathToFileURL(join(dir, name));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lua-source-'));
    mkdirSync(join(dir, 'includes'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces each include by its file, nested ones relative to the including file, each file once', () => {
    write('includes/a.lua', '--- @include "b"\nlocal function a() return b() end\n');
    write('includes/b.lua', 'local function b() return 1 end\n');
    write('main.lua', '--- @include "includes/a"\n--- @include "includes/b"\nreturn a()\n');
    const text = luaSource(url('main.lua'));
    expect(text).toBe(
      'local function b() return 1 end\nlocal function a() return b() end\n-- (includes/b: included above)\nreturn a()\n',
    );
    expect(() => new LuaScript('main', text)).not.toThrow();
  });

  it('an unknown include fails loudly, naming the line, the script and the missing file', () => {
    write('main.lua', 'local x = 1\n--- @include "includes/nope"\nreturn x\n');
    expect(() => luaSource(url('main.lua'))).toThrow(
      /Lua include not found: --- @include "includes\/nope" in .*main\.lua \(no .*includes\/nope\.lua\)/,
    );
  });

  it('a script whose includes were not expanded is refused by LuaScript', () => {
    expect(() => new LuaScript('raw', '--- @include "includes/fence"\nreturn 1\n')).toThrow(
      /Lua script raw: "--- @include "includes\/fence"" not expanded/,
    );
  });
});
