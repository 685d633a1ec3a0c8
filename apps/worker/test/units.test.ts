import { loadConfig } from '@octi-sekoia/config';
import { OPENCTI_EXTENSION } from '@octi-sekoia/opencti';
import type { DeadLetter } from '@octi-sekoia/queue';
import {
  ConfigurationError,
  policyOf,
  QuotaFullError,
  RejectedError,
  RetryableError,
} from '@octi-sekoia/sekoia';
import { describe, expect, it } from 'vitest';
import { BudgetQueue } from '../src/budget-queue.ts';
import { configurationCause } from '../src/circuit.ts';
import { isTransient } from '../src/process-job.ts';
import { workerSettings } from '../src/settings.ts';
import { sweepExemptions } from '../src/sweep.ts';
import { upsert } from './harness.ts';

describe('isTransient (job-level errors worth the retry window)', () => {
  it.each([
    [new Error('connect ECONNREFUSED 127.0.0.1:6379'), true],
    [new Error('Connection is closed.'), true],
    [new Error("OOM command not allowed when used memory > 'maxmemory'."), true],
    [new Error('LOADING Redis is loading the dataset in memory'), true],
    [Object.assign(new Error('x'), { policy: 'retryable' }), true],
    [new TypeError('Cannot read properties of undefined'), false],
    [new Error('ERR Error running script'), false],
  ])('%s → %s', (err, transient) => {
    expect(isTransient(err)).toBe(transient);
  });
});

describe('Sekoia port errors', () => {
  it.each([
    [
      '500 from Sekoia: answered',
      new RetryableError('x', { operation: 'edit', status: 500 }),
      'retryable',
      true,
    ],
    [
      '502 from a gateway: maybe in flight',
      new RetryableError('x', { operation: 'edit', status: 502 }),
      'retryable',
      false,
    ],
    [
      'timeout: maybe in flight',
      new RetryableError('x', { operation: 'edit', code: 'timeout' }),
      'retryable',
      false,
    ],
    [
      'quota full: answered, nothing done',
      new QuotaFullError(10, 10, { operation: 'createBatch', status: 400 }),
      'quota-full',
      true,
    ],
    ['rejected', new RejectedError('x', { operation: 'createBatch', status: 400 }), 'rejected', true],
    [
      '401',
      new ConfigurationError('unauthorized', 'x', { operation: 'edit', status: 401 }),
      'configuration',
      true,
    ],
  ])('%s', (_, err, policy, answered) => {
    expect(policyOf(err)).toMatchObject({ policy, answered });
  });

  it('only configuration errors open the circuit, with their reason', () => {
    expect(
      configurationCause(new ConfigurationError('collection-not-found', 'gone', { operation: 'edit' })),
    ).toEqual({
      reason: 'collection-not-found',
      message: 'gone',
    });
    expect(configurationCause({ policy: 'configuration', message: 'm' })).toEqual({
      reason: 'configuration',
      message: 'm',
    });
    expect(configurationCause(new RetryableError('x', { operation: 'edit', status: 503 }))).toBeUndefined();
    expect(configurationCause(new RejectedError('x', { operation: 'edit', status: 400 }))).toBeUndefined();
  });
});

describe('BudgetQueue', () => {
  it('lets at most N callers wait on the shared budget, the others in FIFO order', async () => {
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const shared = {
      take: () =>
        new Promise<void>((resolve) => {
          inside++;
          most = Math.max(most, inside);
          releases.push(() => {
            inside--;
            resolve();
          });
        }),
      pause: async () => {},
    };
    const q = new BudgetQueue(shared, 2);
    const takers = Array.from({ length: 6 }, (_, i) => q.take().then(() => order.push(i)));
    for (let granted = 0; granted < 6; granted++) {
      await Promise.resolve();
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(takers);
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(q.queued).toBe(0);
  });

  it('an aborted waiter leaves the line without taking a slot', async () => {
    const gate: Array<() => void> = [];
    const q = new BudgetQueue(
      { take: () => new Promise<void>((r) => gate.push(r)), pause: async () => {} },
      1,
    );
    const first = q.take();
    const ac = new AbortController();
    const second = q.take(ac.signal);
    const third = q.take();
    ac.abort(new Error('stop'));
    await expect(second).rejects.toThrow('stop');
    gate.shift()?.();
    await first;
    await new Promise((r) => setImmediate(r));
    gate.shift()?.();
    await third;
    expect(q.queued).toBe(0);
  });
});

describe('tuning', () => {
  // What the worker requires (packages/config), plus the TUNING_* variables under test.
  const settingsOf = (env: Record<string, string>) =>
    workerSettings(
      loadConfig('worker', {
        env: {
          CONNECTOR_ID: '0d2b6c5e-1f3a-4c7e-9b8d-2a6f4e1c3b5a',
          SEKOIA_INTEL_URL: 'https://api.sekoia.io',
          SEKOIA_INTEL_APIKEY: 'sk-test-1234',
          SEKOIA_INTEL_IOC_COLLECTION_UUID: '6f1b7c2d-3e4a-4b5c-8d9e-0f1a2b3c4d5e',
          ...env,
        },
      }).config,
    ).tuning;

  it('reads TUNING_* overrides and keeps the write horizon above twice the request timeout', () => {
    expect(settingsOf({ TUNING_LOCK_DURATION_MS: '5000', SEKOIA_INTEL_TIMEOUT_MS: '30000' })).toMatchObject({
      lockDurationMs: 5000,
      writeHorizonMs: 120_000,
      collectionReadPollMs: 200,
    });
    expect(settingsOf({ SEKOIA_INTEL_TIMEOUT_MS: '90000' }).writeHorizonMs).toBe(190_000);
    expect(settingsOf({ TUNING_WRITE_HORIZON_MS: '1000' }).writeHorizonMs).toBe(1000);
    expect(() => settingsOf({ TUNING_MAX_STALLED_COUNT: '0' })).toThrow(
      "TUNING_MAX_STALLED_COUNT (tuning.max_stalled_count) = '0' is invalid (out of range): expected an integer ≥ 1",
    );
  });
});

describe('sweepExemptions (issue 13 case 4: indicators the sweep keeps)', () => {
  const letter = (kind: DeadLetter['kind'], payload: unknown): DeadLetter => ({
    kind,
    subject: 's',
    payload: payload as DeadLetter['payload'],
    error: 'e',
    attempts: 1,
    firstSeen: '',
    lastSeen: '',
  });
  const event = (data: string) => letter('event', { id: '5-0', event: 'update', data });
  const stix = (over: object) =>
    JSON.stringify({
      data: {
        type: 'indicator',
        id: 'indicator--0b4f0f8e-1f67-4f5a-9a2e-1d1c6c1c7a11',
        extensions: { [OPENCTI_EXTENSION]: { id: 'octi-1' } },
        ...over,
      },
    });
  it.each([
    [
      'a failed upsert job: its internal and STIX ids',
      letter('job', upsert('i', '1-0', ['a'])),
      ['i', 'indicator--i'],
    ],
    [
      'a failed remove job: none (the sweep does what it meant)',
      letter('job', { ...upsert('i', '1-0', []), op: 'remove' }),
      [],
    ],
    ['a malformed job without ids: none', letter('job', { kind: 'indicator' }), []],
    ['a job payload that is not an object: none', letter('job', 'garbage'), []],
    [
      'a malformed indicator event: internal and STIX ids',
      event(stix({})),
      ['octi-1', 'indicator--0b4f0f8e-1f67-4f5a-9a2e-1d1c6c1c7a11'],
    ],
    [
      'an event without the extension: its STIX id',
      event(stix({ extensions: {} })),
      ['indicator--0b4f0f8e-1f67-4f5a-9a2e-1d1c6c1c7a11'],
    ],
    [
      'a truncated event: the STIX id in its text',
      event(stix({}).slice(0, 90)),
      ['indicator--0b4f0f8e-1f67-4f5a-9a2e-1d1c6c1c7a11'],
    ],
    [
      'an event of another type: none',
      event(JSON.stringify({ data: { type: 'report', id: 'report--1' } })),
      [],
    ],
    ['an event that is not JSON and names nothing: none', event('{{{'), []],
    ['a rejected value: none (not an indicator)', letter('value', { value: 'a', reason: 'r' }), []],
  ] as const)('%s', (_, l, expected) => {
    expect(sweepExemptions([l], ['dl-1'])).toEqual(
      expected.map((indicator) => ({ indicator, deadLetter: 'dl-1' })),
    );
  });
});
