import { luaSource } from '@octi-sekoia/queue';
import { describe, expect, it } from 'vitest';

describe('the Lua includes of the sync scripts', () => {
  it("the sync engine's scripts carry the one fence comparison, expanded", () => {
    const sync = new URL('../src/lua/', import.meta.url);
    for (const name of ['record-desired', 'read-values', 'sweep-unseen', 'record-observed']) {
      const text = luaSource(new URL(`${name}.lua`, sync));
      expect(text).not.toMatch(/^--- @include/m);
      expect(text.match(/^local function cmpint\(/gm)).toHaveLength(1);
    }
  });

  it('the field-set counting shared by record-desired, sweep-unseen and migrate-legacy is one include', () => {
    const lua = new URL('../src/lua/', import.meta.url);
    for (const name of ['record-desired', 'sweep-unseen', 'migrate-legacy']) {
      const text = luaSource(new URL(`${name}.lua`, lua));
      expect(text.match(/^local function (addRef|dropRef)\(/gm)).toEqual([
        'local function addRef(',
        'local function dropRef(',
      ]);
    }
  });
});
