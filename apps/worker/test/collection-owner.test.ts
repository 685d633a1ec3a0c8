// Issue 15 item 14, with the real worker process: one owner per Sekoia.io collection. A second connector
// (another CONNECTOR_ID, or another REDIS_KEY_PREFIX) is refused with one line naming both, exit 2, until the
// operator hands the collection over with `pnpm cli adopt`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { collectionOwnerKey } from '@octi-sekoia/sync';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { appDir, CONNECTOR_ID, Stack } from './harness.ts';

const OTHER_ID = '0e3f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
let stack: Stack;
let ownerKey: string;
beforeEach(async () => {
  stack = await Stack.start();
  ownerKey = collectionOwnerKey(stack.sim.url, stack.sim.collectionId);
});
afterEach(async () => {
  // The owner record lives outside the test's key prefix (it spans prefixes): remove it by name.
  await stack.r.client.del(ownerKey);
  await stack.close();
});

/** The real CLI (`pnpm cli <args>` runs this entry point) with only the given environment. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(appDir, '..', 'cli', 'src', 'main.ts'), ...args],
    {
      cwd: join(appDir, '..', '..'),
      env: { PATH: process.env.PATH ?? '', ...env },
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

it('a second connector on the same collection is refused (other id, other prefix) until `pnpm cli adopt` hands it over', async () => {
  const s = stack;
  const first = s.spawnWorker();
  await first.waitForOutput(/"msg":"started"/, 90_000);
  expect(JSON.parse((await s.r.client.get(ownerKey)) ?? '{}')).toMatchObject({
    connectorId: CONNECTOR_ID,
    keyPrefix: s.r.prefix,
  });

  const others: Array<Record<string, string>> = [
    { CONNECTOR_ID: OTHER_ID },
    { REDIS_KEY_PREFIX: `${s.r.prefix}:other` },
  ];
  for (const env of others) {
    const second = s.spawnWorker(env);
    expect(await second.exited).toBe(2);
    const refusals = second
      .output()
      .split('\n')
      .filter((l) => l.startsWith('refusing to start:'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain(`is synced by connector ${CONNECTOR_ID} (REDIS_KEY_PREFIX ${s.r.prefix})`);
    const me = env.CONNECTOR_ID ?? CONNECTOR_ID;
    const prefix = env.REDIS_KEY_PREFIX ?? s.r.prefix;
    expect(refusals[0]).toContain(`this is connector ${me} (REDIS_KEY_PREFIX ${prefix})`);
    expect(refusals[0]).toContain('pnpm cli adopt');
    expect(second.output()).not.toContain('"msg":"started"');
  }

  // The operator stops the first connector and hands the collection over to the other one.
  first.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  const adopt = await cli(['adopt'], {
    REDIS_URL: s.r.url,
    REDIS_KEY_PREFIX: s.r.prefix,
    CONNECTOR_ID: OTHER_ID,
    SEKOIA_INTEL_URL: s.sim.url,
    SEKOIA_INTEL_APIKEY: s.sim.apiKey,
    SEKOIA_INTEL_IOC_COLLECTION_UUID: s.sim.collectionId,
  });
  expect(adopt.output).toContain(
    `collection owner: connector ${CONNECTOR_ID} (REDIS_KEY_PREFIX ${s.r.prefix}) → connector ${OTHER_ID}`,
  );
  expect(adopt.code).toBe(0);
  const taker = s.spawnWorker({ CONNECTOR_ID: OTHER_ID });
  await taker.waitForOutput(/"msg":"started"/, 90_000);
  // And now the first one is the second owner.
  const back = s.spawnWorker();
  expect(await back.exited).toBe(2);
  expect(back.output()).toContain(`is synced by connector ${OTHER_ID}`);
});
