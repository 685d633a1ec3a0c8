import { describe, expect, it } from 'vitest';
import { describeJob, type IndicatorJob, type Job, jobId } from '../src/job.ts';

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
