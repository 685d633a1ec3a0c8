// A real headless Chromium (Debian's, installed by .ci/run) drives the dashboard: 401 without credentials; with
// them, the trash icons (hidden, clicked anyway) delete nothing; the dead-letter queue shows a value the Sekoia
// simulator rejected, with its reason; once the fault is fixed, Retry on the page sends it back and the value
// appears in the simulator's collection. No request leaves the dashboard's origin and the page breaks none of
// its Content-Security-Policy.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type IndicatorJob, jobId } from '@octi-sekoia/model';
import { Registry } from '@octi-sekoia/ops';
import { addDeadLetter, keys, removeDeadLetter } from '@octi-sekoia/queue';
import { type SekoiaSimulator, startSekoiaSimulator } from '@octi-sekoia/simulators';
import {
  freePort,
  type ManagedProcess,
  startProcess,
  type TestRedis,
  testRedis,
  waitFor,
} from '@octi-sekoia/testkit';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, CONNECTOR_ID, mainName, startDashboard } from './helpers.ts';

const outDir = join(import.meta.dirname, '..', 'test-output');
const workerDir = join(import.meta.dirname, '..', '..', 'worker');
const REJECTED = '203.0.113.77';
/** The page loads and refreshes on its own: generous on a loaded machine. */
const POLL = { timeout: 20_000 };

let r: TestRedis;
let sekoia: SekoiaSimulator;
let worker: ManagedProcess;
let browser: Browser;
let d: Awaited<ReturnType<typeof startDashboard>>;
/** Every URL the browser asked for, and every Content-Security-Policy violation it reported. */
const requested: string[] = [];
const violations: string[] = [];

/** A context with the operator's credentials that records requests and CSP violations. */
async function operatorPage(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ httpCredentials: AUTH });
  ctx.on('request', (req) => requested.push(req.url()));
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  return { ctx, page };
}

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
  // As ingest records it when it registers the connector in OpenCTI.
  await r.client.hset(keys(r.prefix, CONNECTOR_ID).info, { name: 'Sekoia Intel', streamId: 'live' });
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
  await worker.waitForOutput(/"msg":"started"/, 90_000);
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
  // Checked here so that every page of every test counts: the dashboard works without the internet.
  const elsewhere = requested.filter(
    (u) => !u.startsWith('data:') && new URL(u).origin !== new URL(d.url).origin,
  );
  expect(elsewhere).toEqual([]);
  expect(requested.length).toBeGreaterThan(10);
  expect(violations).toEqual([]);
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

  it('deletes nothing when the trash icons are clicked: hidden on dead letters, absent on indicator jobs', async () => {
    // A delayed indicator job (the running worker does not take it for an hour) and a dead letter holding the
    // only copy of a raw stream event.
    const delayed = await d.queues.indicators.add(
      'sweep',
      { kind: 'sweep', generation: 1, eventId: '1-0' },
      { jobId: 'g1-1-0-sweep', delay: 3_600_000 },
    );
    const letter = await addDeadLetter(d.queues, {
      kind: 'event',
      payload: { id: '7-0', event: 'create', data: '{"data": broken' },
      error: 'unparsable event',
    });
    await waitFor(async () => (await d.queues.deadLetters.getJobState(letter)) === 'failed', {
      what: 'the dead letter parked in failed',
    });

    const { ctx, page } = await operatorPage();
    const writes: string[] = [];
    page.on('response', (res) => {
      const req = res.request();
      if (req.method() !== 'GET')
        writes.push(`${req.method()} …/${req.url().split('/').pop()} → ${res.status()}`);
    });
    await page.goto(`${d.url}/board/`);
    // The sidebar names the connector and the queue's role.
    await expect
      .poll(async () => page.getByText('Sekoia Intel · indicators').count(), POLL)
      .toBeGreaterThan(0);
    await page.getByText('Sekoia Intel · dead letters').first().click();
    await page.getByText('Failed', { exact: false }).first().click();
    await expect.poll(async () => (await page.content()).includes('unparsable event'), POLL).toBe(true);
    const trash = page.locator('button:has(svg.lucide-trash-2)');
    // "Clean all" and the entry's own trash icon: rendered by Bull Board, hidden by the dashboard.
    await expect.poll(() => trash.count(), POLL).toBe(2);
    for (let i = 0; i < 2; i += 1) {
      expect(await trash.nth(i).isVisible()).toBe(false);
      // Clicked anyway, as a user who unhides them would: the server refuses.
      await trash.nth(i).dispatchEvent('click');
      await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => page.getByRole('alertdialog').count(), POLL).toBe(0);
    }
    // "Empty" in the queue menu: hidden, clicked anyway.
    await page.locator('button:has(svg.lucide-ellipsis-vertical)').first().click();
    // Hidden elements are not in the accessibility tree: found by their text.
    const empty = page.locator('[role="menuitem"]', { hasText: 'Empty' });
    await empty.waitFor({ state: 'attached' });
    expect(await empty.isVisible()).toBe(false);
    await empty.dispatchEvent('click');
    await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.getByRole('alertdialog').count(), POLL).toBe(0);
    // The three clicks reached the server, which refused them.
    await expect.poll(() => writes.length, POLL).toBe(3);
    expect(writes).toEqual(['PUT …/failed → 403', 'PUT …/clean → 403', 'PUT …/empty → 403']);
    await page.reload();
    await expect.poll(async () => (await page.content()).includes('unparsable event'), POLL).toBe(true);
    expect(await d.queues.deadLetters.getJobState(letter)).toBe('failed');

    // The indicator job: the queue is shown read-only, so there is no trash icon (nor any action) to click.
    await page.goto(`${d.url}/board/queue/${mainName}?status=delayed`);
    await expect.poll(async () => (await page.content()).includes('g1-1-0-sweep'), POLL).toBe(true);
    expect(await page.locator('svg.lucide-trash-2').count()).toBe(0);
    expect(await d.queues.indicators.getJobState(delayed.id as string)).toBe('delayed');
    await page.screenshot({ path: join(outDir, 'trash-refused.png'), fullPage: true });
    await ctx.close();
    // Out of the way of the next test, which counts dead letters.
    await d.queues.indicators.remove(delayed.id as string);
    await removeDeadLetter(d.queues, letter);
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
    await r.client.set(keys(r.prefix, CONNECTOR_ID).generation, '1');
    // Generation 1's recovery is over (swept): the value is written at once, not held until a sweep.
    await r.client.set(keys(r.prefix, CONNECTOR_ID).sync.swept, '1');
    await d.queues.indicators.add(job.op, job, { jobId: jobId(job) });
    const deadLetters = async () => {
      const c = await d.queues.deadLetters.getJobCounts('waiting', 'failed', 'active', 'delayed');
      return Object.values(c).reduce((a, b) => a + b, 0);
    };
    await waitFor(async () => (await d.queues.deadLetters.getJobCounts('failed')).failed === 1, {
      what: 'the dead letter, parked in failed',
      timeoutMs: 30_000,
    });

    const { ctx, page } = await operatorPage();
    await page.goto(`${d.url}/board/`);
    await page.getByText('Sekoia Intel · dead letters').first().click();
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
