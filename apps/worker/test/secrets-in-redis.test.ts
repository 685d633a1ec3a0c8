import type { DeadValuePayload } from '@octi-sekoia/queue';
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Stack, upsert } from './harness.ts';

// Any configured secret, not only the Sekoia key: here the OpenCTI token, which the worker never sends anywhere.
const OPENCTI_TOKEN = '0b8f7a6e-1c2d-4e3f-9a8b-7c6d5e4f3a2b';
// Sekoia cannot tell its type and echoes it in its 400 answer (simulator `invalidValue`): a hostile indicator
// carrying the token in its value makes the token part of Sekoia's rejection reason.
const HOSTILE = `not-an-ioc-${OPENCTI_TOKEN}`;

let stack: Stack;
beforeEach(async () => {
  stack = await Stack.start();
});
afterEach(async () => {
  await stack.close();
});

it('a rejection reason carrying the OpenCTI token reaches Redis redacted (value record and dead letter)', async () => {
  const s = stack;
  const worker = s.spawnWorker({ OPENCTI_TOKEN });
  await worker.waitForOutput(/"msg":"started"/, 90_000);
  await s.enqueue([upsert('i1', '1000-0', [HOSTILE])]);
  await waitFor(async () => (await s.deadLetters()).length === 1, {
    timeoutMs: 30_000,
    what: 'the rejected value to be dead-lettered',
  });
  await s.waitIdle(20_000);

  // The value is data and stays as it is; what Sekoia said about it (the reason) is redacted everywhere.
  const rej = await s.r.client.hget(s.keys.sync.value(HOSTILE), 'rej');
  expect(JSON.parse(rej ?? 'null')).toMatchObject({ reason: expect.stringContaining('[REDACTED]') });
  expect(rej).not.toContain(OPENCTI_TOKEN);
  const letter = (await s.deadLetters())[0]!;
  expect(letter).toMatchObject({ kind: 'value', subject: HOSTILE });
  expect(letter.error).not.toContain(OPENCTI_TOKEN);
  expect((letter.payload as DeadValuePayload).reason).toContain('[REDACTED]');
  expect((letter.payload as DeadValuePayload).reason).not.toContain(OPENCTI_TOKEN);
  expect(worker.output()).not.toContain(OPENCTI_TOKEN);
});
