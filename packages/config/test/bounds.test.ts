import { describe, expect, it } from 'vitest';
import { boundProblem, SETTING_BOUNDS, type SettingBound } from '../src/bounds.ts';
import { VARS } from '../src/schema.ts';

const below: SettingBound = { setting: 'LOW', must: 'below', other: 'HIGH' };
const atLeast: SettingBound = { setting: 'MAX', must: 'at-least', other: 'BASE' };

describe('boundProblem', () => {
  it.each([
    [below, 99, 100, undefined],
    [below, 100, 100, "= '100' is not below HIGH (100)"],
    [below, 101, 100, "= '101' is not below HIGH (100)"],
    [atLeast, 5000, 1000, undefined],
    [atLeast, 1000, 1000, undefined],
    [atLeast, 999, 1000, "= '999' is below BASE (1000)"],
  ])('%j: %i against %i', (bound, value, other, want) => {
    expect(boundProblem(bound, value, other)?.what).toBe(want);
  });

  it('says what is expected, naming the other setting', () => {
    expect(boundProblem(below, 1, 0)?.expected).toBe('an integer less than HIGH');
    expect(boundProblem(atLeast, 0, 1)?.expected).toBe('an integer ≥ BASE');
  });
});

describe('SETTING_BOUNDS', () => {
  it('names settings of the schema', () => {
    const known = new Set(VARS.map((v) => v.env));
    for (const b of SETTING_BOUNDS) expect([known.has(b.setting), known.has(b.other)]).toEqual([true, true]);
  });
});
