import { describe, expect, it } from 'vitest';
import { compareEventIds, describeJob, type IndicatorJob, type Job, jobId } from '../src/index.ts';

describe('compareEventIds', () => {
  it.each([
    ['9-0', '10-0', -1],
    ['10-0', '9-0', 1],
    ['5-9', '5-10', -1],
    ['5-10', '5-9', 1],
    ['5-10', '5-10', 0],
    ['0-0', '1732615205120-0', -1],
    ['1732615205120-0', '1732615205101-0', 1],
    ['1732615205120-1', '1732615205121-0', -1],
    ['18446744073709551615-0', '18446744073709551614-99', 1],
    ['99999999999999999999-0', '100000000000000000000-0', -1],
    ['007-0', '7-0', 0],
    ['7-010', '7-9', 1],
    ['0-0', '0-0', 0],
    ['5', '5-0', 0],
    ['5', '5-1', -1],
  ])('%s vs %s → %i', (a, b, want) => {
    expect(Math.sign(compareEventIds(a, b))).toBe(want);
  });

  it('sorts a shuffled list numerically', () => {
    const ids = ['10-0', '9-0', '5-10', '5-9', '100-0', '5-0'];
    expect([...ids].sort(compareEventIds)).toEqual(['5-0', '5-9', '5-10', '9-0', '10-0', '100-0']);
  });
});

const indicatorJob: IndicatorJob = {
  kind: 'indicator',
  generation: 3,
  eventId: '1732615205120-0',
  op: 'upsert',
  indicatorId: '5f3c2a10-8d7e-4b1a-9c3d-2e1f0a9b8c7d',
  stixId: 'indicator--0a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d',
  attributes: { validFrom: '2024-11-26T10:00:05.000Z', killChainPhases: [], description: 'd' },
  values: ['198.51.100.7', 'a.example'],
};

describe('jobId', () => {
  const jobs: Job[] = [
    indicatorJob,
    { ...indicatorJob, indicatorId: 'other' },
    { ...indicatorJob, generation: 4 },
    { ...indicatorJob, eventId: '1732615205120-1' },
    { kind: 'sweep', generation: 3, eventId: '1732615205120-0' },
  ];
  it.each(jobs)('has no ":" ($kind g$generation $eventId)', (job) => {
    expect(jobId(job)).not.toContain(':');
  });
  it('differs by generation, event and indicator', () => {
    expect(new Set(jobs.map(jobId)).size).toBe(jobs.length);
  });
});

describe('describeJob', () => {
  it.each<[Job, string]>([
    [
      indicatorJob,
      'upsert indicator 5f3c2a10-8d7e-4b1a-9c3d-2e1f0a9b8c7d (indicator--0a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d) g3 @1732615205120-0: 2 values',
    ],
    [{ ...indicatorJob, values: ['x'] }, expect.stringMatching(/: 1 value$/) as unknown as string],
    [
      { ...indicatorJob, op: 'remove', values: [] },
      expect.stringMatching(/^remove indicator .*: gone$/) as unknown as string,
    ],
    [{ kind: 'sweep', generation: 2, eventId: '5-0' }, 'sweep marker g2 @5-0'],
  ])('%#', (job, want) => {
    expect(describeJob(job)).toEqual(want);
  });
});
