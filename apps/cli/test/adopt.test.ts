// `adopt` and `resync --wait` end to end (with ingest, workers and the simulators) are tested in
// apps/worker/test/resync; here: their arguments and configuration errors.
import { type TestRedis, testRedis } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, redisEnv } from './helpers.ts';

describe('adopt and resync --wait: arguments', () => {
  let r: TestRedis;
  beforeEach(async () => {
    r = await testRedis('cli-adopt');
  });
  afterEach(async () => {
    await r.cleanup();
  });

  it.each([
    [['adopt', '--dry-run', '--wait'], 'usage error: adopt: --wait does not go with --dry-run'],
    [['adopt', '--bogus'], 'usage error: adopt: unknown option --bogus'],
    [
      ['adopt', '--timeout', '0', '--wait'],
      'usage error: adopt: --timeout must be a positive integer, got "0"',
    ],
    [['resync', '--timeout', '5'], 'usage error: resync: --timeout only goes with --wait'],
  ])('%j → one usage line, exit 2', async (args, line) => {
    const res = await cli(args, redisEnv(r));
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toBe(line);
    expect(res.stdout).toBe('');
  });

  it('adopt needs the worker settings, the dry run also the ingest ones: config errors, exit 2, nothing written', async () => {
    const before = await r.client.keys(`*${r.prefix}*`);
    const adopt = await cli(['adopt'], redisEnv(r));
    expect(adopt.code).toBe(2);
    expect(adopt.stderr).toMatch(/^config error: SEKOIA_INTEL_URL \(sekoia_intel\.url\)/m);
    const dry = await cli(
      ['adopt', '--dry-run'],
      redisEnv(r, {
        SEKOIA_INTEL_URL: 'http://127.0.0.1:9',
        SEKOIA_INTEL_APIKEY: 'sk-test-0123456789',
        SEKOIA_INTEL_IOC_COLLECTION_UUID: '6f1c6d1e-8a3b-4c2d-9e0f-1a2b3c4d5e6f',
      }),
    );
    expect(dry.code).toBe(2);
    expect(dry.stderr).toMatch(/^config error: OPENCTI_URL \(opencti\.url\)/m);
    expect(dry.stderr).not.toContain('sk-test-0123456789');
    expect(await r.client.keys(`*${r.prefix}*`)).toEqual(before);
  });
});
