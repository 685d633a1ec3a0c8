import type { IocAttributes } from '@octi-sekoia/model';
import { describe, expect, it } from 'vitest';
import { type Decision, decide } from '../src/decide.ts';
import { type AppliedState, type DesiredValue, emptyApplied } from '../src/value-state.ts';

const A: IocAttributes = { validFrom: '2024-01-01T00:00:00.000Z', killChainPhases: [], description: 'a' };
const live = (fp: string, version = 5, generation = 1): DesiredValue => ({
  value: 'v',
  version,
  live: true,
  attributes: A,
  fp,
  generation,
  liveIndicators: 1,
  winner: { indicatorId: 'i', eventId: '1-0' },
});
const gone = (version = 5): DesiredValue => ({
  value: 'v',
  version,
  live: false,
  generation: 0,
  liveIndicators: 0,
});
const applied = (over: Partial<AppliedState> = {}): AppliedState => ({
  ...emptyApplied(),
  generation: 1,
  ...over,
});
const NOW = 1_000_000;
const ctx = { seq: 7, now: NOW, writeHorizonMs: 120_000, searched: false };

describe('decide', () => {
  const cases: [string, DesiredValue, AppliedState, Partial<typeof ctx>, Decision][] = [
    [
      'unknown value, desired → create',
      live('f1'),
      applied(),
      {},
      { kind: 'write', actions: [{ type: 'create', attributes: A, fp: 'f1' }] },
    ],
    [
      'known, same attributes → nothing',
      live('f1'),
      applied({ ids: { X: 'f1' } }),
      {},
      { kind: 'noop', reason: 'in-sync' },
    ],
    [
      'known, attributes changed → edit',
      live('f2'),
      applied({ ids: { X: 'f1' } }),
      {},
      { kind: 'write', actions: [{ type: 'edit', id: 'X', attributes: A, fp: 'f2' }] },
    ],
    [
      'known, attributes unknown (adopted) → edit',
      live('f2'),
      applied({ ids: { X: '' } }),
      {},
      { kind: 'write', actions: [{ type: 'edit', id: 'X', attributes: A, fp: 'f2' }] },
    ],
    [
      'no longer desired → revoke every known id',
      gone(),
      applied({ ids: { Y: 'f1', X: 'f1' } }),
      {},
      {
        kind: 'write',
        actions: [
          { type: 'revoke', id: 'X' },
          { type: 'revoke', id: 'Y' },
        ],
      },
    ],
    ['not desired, nothing known → nothing', gone(), applied(), {}, { kind: 'noop', reason: 'absent' }],
    [
      'duplicates: keep the one with the attributes, revoke the rest',
      live('f2'),
      applied({ ids: { A1: 'f1', B2: 'f2', C3: '' } }),
      {},
      {
        kind: 'write',
        actions: [
          { type: 'revoke', id: 'A1' },
          { type: 'revoke', id: 'C3' },
        ],
      },
    ],
    [
      'duplicates, none matching: edit the first, revoke the rest',
      live('f3'),
      applied({ ids: { B: 'f1', A: 'f2' } }),
      {},
      {
        kind: 'write',
        actions: [
          { type: 'edit', id: 'A', attributes: A, fp: 'f3' },
          { type: 'revoke', id: 'B' },
        ],
      },
    ],
    [
      'rejected at this version → not re-sent',
      live('f1', 5),
      applied({ rejected: { reason: '400', version: 5 } }),
      {},
      { kind: 'noop', reason: 'rejected' },
    ],
    [
      'rejected at an older version → sent again',
      live('f1', 6),
      applied({ rejected: { reason: '400', version: 5 } }),
      {},
      { kind: 'write', actions: [{ type: 'create', attributes: A, fp: 'f1' }] },
    ],
    [
      'rejected, then not desired → revoke what exists',
      gone(6),
      applied({ ids: { X: 'f0' }, rejected: { reason: '400', version: 5 } }),
      {},
      { kind: 'write', actions: [{ type: 'revoke', id: 'X' }] },
    ],
    [
      'case 2: revoke of X refused at this version → only the other ids are revoked',
      gone(6),
      applied({ ids: { X: 'f0', Y: 'f0' }, rejected: { reason: '422', version: 6, ids: ['X'] } }),
      {},
      { kind: 'write', actions: [{ type: 'revoke', id: 'Y' }] },
    ],
    [
      'case 2: every remaining id refused at this version → nothing more (terminal)',
      gone(6),
      applied({ ids: { X: 'f0' }, rejected: { reason: '422', version: 6, ids: ['X'] } }),
      {},
      { kind: 'noop', reason: 'rejected' },
    ],
    [
      'case 2: revoke refused at an older version → revoked again',
      gone(8),
      applied({ ids: { X: 'f0' }, rejected: { reason: '422', version: 6, ids: ['X'] } }),
      {},
      { kind: 'write', actions: [{ type: 'revoke', id: 'X' }] },
    ],
    [
      'lost create answer → search first',
      live('f1'),
      applied({ unsure: true }),
      {},
      { kind: 'search', reason: 'unsure' },
    ],
    [
      'lost answer, already searched → act on the result',
      live('f1'),
      applied({ unsure: true }),
      { searched: true },
      { kind: 'write', actions: [{ type: 'create', attributes: A, fp: 'f1' }] },
    ],
    [
      'another claim writing (intent in flight) → wait until it expires',
      live('f1'),
      applied({ intents: [{ seq: 3, op: 'create', since: NOW - 1000, fp: 'f1' }] }),
      {},
      { kind: 'wait', untilMs: NOW - 1000 + 120_000 },
    ],
    [
      'a crashed writer (intent expired) → search',
      live('f1'),
      applied({ intents: [{ seq: 3, op: 'create', since: NOW - 200_000, fp: 'f1' }] }),
      {},
      { kind: 'search', reason: 'expired-intent' },
    ],
    [
      'own intent is not foreign',
      live('f1'),
      applied({ ids: { X: 'f1' }, intents: [{ seq: 7, op: 'edit', since: NOW, fp: 'f1' }] }),
      {},
      { kind: 'noop', reason: 'in-sync' },
    ],
    [
      'ids confirmed in an older generation → verify once',
      live('f1', 5, 2),
      applied({ ids: { X: 'f1' }, generation: 1 }),
      {},
      { kind: 'search', reason: 'verify-generation' },
    ],
    [
      'older generation, verified → nothing',
      live('f1', 5, 2),
      applied({ ids: { X: 'f1' }, generation: 1 }),
      { searched: true },
      { kind: 'noop', reason: 'in-sync' },
    ],
    [
      'older generation, nothing known → create without search',
      live('f1', 5, 2),
      applied({ generation: 1 }),
      {},
      { kind: 'write', actions: [{ type: 'create', attributes: A, fp: 'f1' }] },
    ],
    [
      'older generation, not desired → revoke without search',
      gone(),
      applied({ ids: { X: 'f1' }, generation: 0 }),
      {},
      { kind: 'write', actions: [{ type: 'revoke', id: 'X' }] },
    ],
  ];
  it.each(cases)('%s', (_name, desired, app, extra, expected) => {
    expect(decide(desired, app, { ...ctx, ...extra })).toEqual(expected);
  });
});
