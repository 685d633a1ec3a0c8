import { describe, expect, it } from 'vitest';
import { type IndicatorJob, InvalidJobError, validateJob } from '../src/index.ts';

describe('validateJob', () => {
  const ok: IndicatorJob = {
    kind: 'indicator',
    generation: 1,
    eventId: '1-0',
    op: 'upsert',
    indicatorId: 'i',
    stixId: 'indicator--i',
    attributes: { validFrom: '2026-01-01T00:00:00.000Z', killChainPhases: [], description: 'shared' },
    values: ['a.example'],
  };
  it.each([
    ['an upsert', ok, undefined],
    ['a remove', { ...ok, op: 'remove', values: [] }, undefined],
    ['a sweep marker', { kind: 'sweep', generation: 2, eventId: '5-0' }, undefined],
    ['not an object', 'x', 'not an object'],
    ['an unknown kind', { ...ok, kind: 'other' }, 'unknown kind'],
    ['a bad event id', { ...ok, eventId: '1:0' }, 'bad eventId'],
    ['an event id of more than 20 digits', { ...ok, eventId: `${'1'.repeat(21)}-0` }, 'bad eventId'],
    ['a float generation', { ...ok, generation: 1.5 }, 'bad generation'],
    ['a bad op', { ...ok, op: 'merge' }, 'bad op'],
    ['no indicator id', { ...ok, indicatorId: '' }, 'missing indicatorId'],
    ['an empty value', { ...ok, values: [''] }, 'values'],
    ['no attributes on an upsert', { ...ok, attributes: undefined }, 'missing attributes'],
    ['a numeric validUntil', { ...ok, attributes: { ...ok.attributes, validUntil: 5 } }, 'validUntil'],
  ])('%s', (_, data, error) => {
    if (error === undefined) expect(validateJob(data)).toBe(data);
    else {
      expect(() => validateJob(data)).toThrow(InvalidJobError);
      expect(() => validateJob(data)).toThrow(error);
    }
  });
});
