// A real headless Chromium (Debian's, installed by .ci/run) drives the dashboard: 401 without credentials; with
// them, the dead-letter queue shows a value the Sekoia simulator rejected, with its reason; once the fault is
// fixed, Retry on the page sends it back and the value appears in the simulator's collection.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type IndicatorJob, jobId } from '@octi-sekoia/model';
import { Registry } from '@octi-sekoia/ops';
import { type SekoiaSimulator, startSekoiaSimulator } from '@octi-sekoia/simulators';
import {
  freePort,
  type ManagedProcess,
  startProcess,
  type TestRedis,
  testRedis,
  waitFor,
} from '@octi-sekoia/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, CONNECTOR_ID, startDashboard } from './helpers.ts';

const outDir = join(import.meta.dirname, '..', 'test-output');
const workerDir = join(import.meta.dirname, '..', '..', 'worker');
const REJECTED = '203.0.113.77';

let r: TestRedis;
let sekoia: SekoiaSimulator;
let worker: ManagedProcess;
let browser: Browser;
let d: Awaited<ReturnType<typeof startDashboard>>;

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  r = await testRedis('browser');
  sekoia = await startSekoiaSimulator();
  // The fault: Sekoia refuses every create (as it would an invalid value) until the test clears it.
  sekoia.control.setFaults({
    rules: [
      {
        route: 'create-batch',
        action: {
          kind: 'status',
          status: 400,
          body: { message: `invalid value ${REJECTED}`, code: 'INTHREAT4001' },
        },
      },
    ],
  });
  const { redact } = await import('@octi-sekoia/logger');
  const { SyncState } = await import('@octi-sekoia/sync');
  const state = new SyncState(r.connect(), { keyPrefix: r.prefix, connectorId: CONNECTOR_ID });
  d = await startDashboard(r, {
    redact: (t) => redact(t, [sekoia.apiKey]),
    registry: new Registry(),
    markValueDirty: (_c, value) => state.markDirty([value], { clearRejection: true }),
  });
  worker = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: workerDir,
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: r.url,
      REDIS_KEY_PREFIX: r.prefix,
      CONNECTOR_ID,
      SEKOIA_INTEL_URL: sekoia.url,
      SEKOIA_INTEL_APIKEY: sekoia.apiKey,
      SEKOIA_INTEL_IOC_COLLECTION_UUID: sekoia.collectionId,
      SEKOIA_INTEL_REQUESTS_PER_SECOND: '100',
      SEKOIA_INTEL_REQUEST_BURST: '100',
      WORKER_HTTP_PORT: String(await freePort()),
    },
  });
  await worker.waitForOutput(/"msg":"started"/, 30_000);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  worker?.kill('SIGTERM');
  await worker?.exited;
  await d?.close();
  await sekoia?.close();
  await r?.cleanup();
});

describe('dashboard in a browser', () => {
  it('refuses the page without credentials', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const statuses: number[] = [];
    page.on('response', (res) => statuses.push(res.status()));
    // Chromium turns a 401 without credentials into ERR_INVALID_AUTH_CREDENTIALS; the response is still seen.
    await page.goto(`${d.url}/board/`).catch(() => undefined);
    expect(statuses).toContain(401);
    await ctx.close();
  });

  it('shows a rejected value in the dead-letter queue and sends it back once the fault is fixed', async () => {
    const job: IndicatorJob = {
      kind: 'indicator',
      generation: 1,
      eventId: `${Date.now()}-0`,
      op: 'upsert',
      indicatorId: 'a1b2c3d4-0000-4000-8000-000000000077',
      stixId: 'indicator--a1b2c3d4-0000-5000-8000-000000000077',
      attributes: { validFrom: '2026-01-01T00:00:00.000Z', killChainPhases: [], description: 'browser test' },
      values: [REJECTED],
    };
    await r.client.set(`${r.prefix}:${CONNECTOR_ID}:generation`, '1');
    await d.queues.indicators.add(job.op, job, { jobId: jobId(job) });
    const deadLetters = async () => {
      const c = await d.queues.deadLetters.getJobCounts('waiting', 'failed', 'active', 'delayed');
      return Object.values(c).reduce((a, b) => a + b, 0);
    };
    await waitFor(async () => (await d.queues.deadLetters.getJobCounts('failed')).failed === 1, {
      what: 'the dead letter, parked in failed',
      timeoutMs: 30_000,
    });

    const ctx = await browser.newContext({ httpCredentials: AUTH });
    const page = await ctx.newPage();
    await page.goto(`${d.url}/board/`);
    await page.getByText('dead-letters').first().click();
    await page.getByText('Failed', { exact: false }).first().click();
    await expect.poll(async () => (await page.content()).includes(REJECTED), { timeout: 20_000 }).toBe(true);
    await expect
      .poll(async () => /invalid value|rejected|400/i.test(await page.content()), { timeout: 20_000 })
      .toBe(true);
    await page.screenshot({ path: join(outDir, 'dead-letter.png'), fullPage: true });

    sekoia.control.resetFaults();
    await page.getByRole('button', { name: /retry/i }).first().click();
    const confirm = page.getByRole('button', { name: /confirm|retry/i });
    if (await confirm.count())
      await confirm
        .last()
        .click()
        .catch(() => undefined);
    await waitFor(() => sekoia.control.liveValues().includes(REJECTED), {
      what: 'the value in Sekoia',
      timeoutMs: 30_000,
    });
    await page.screenshot({ path: join(outDir, 'after-send-back.png'), fullPage: true });
    expect(await deadLetters()).toBe(0);
    await ctx.close();
  });
});
