import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { SekoiaSimulator, SimTask } from '../src/sekoia/index.ts';
import { MD5, SHA256, TEXT_IMPORT_EXAMPLE } from './sekoia-fixtures.ts';
import { call, control, createBatch, startSim } from './sekoia-helpers.ts';

let sim: SekoiaSimulator;
afterEach(async () => {
  await sim?.close();
});

const importText = (body: unknown) => call(sim, 'POST', `${sim.collectionId}/indicators/text`, body);

async function finished(taskId: string): Promise<SimTask> {
  return waitFor(
    async () => {
      const t = (await control(sim, 'GET', `tasks/${taskId}`)).body as SimTask | null;
      return t && t.status !== 'pending' ? t : undefined;
    },
    { what: `text task ${taskId}` },
  );
}

describe('POST /{id}/indicators/text', () => {
  it('accepts the reference example with 202 {task_id} and applies it later', async () => {
    sim = await startSim();
    const r = await importText(TEXT_IMPORT_EXAMPLE);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ task_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const task = await finished(r.body.task_id);
    expect(task).toMatchObject({
      status: 'done',
      total: 2,
      imported: 2,
      created: 2,
      updated: 0,
      rejected: 0,
    });
    expect(sim.control.liveValues()).toEqual(['198.51.100.7', '203.0.113.9']);
    expect(sim.control.indicators()[0]).toMatchObject({
      description: 'https://octi.example/i/42',
      valid_until: '2026-12-01T00:00:00.000Z',
      kill_chain_phases: TEXT_IMPORT_EXAMPLE.kill_chain_phases,
    });
  });

  it('the delay is configurable: nothing is stored before the task runs', async () => {
    sim = await startSim({ behavior: { textDelayMs: 600_000 } });
    const r = await importText({ indicators: '203.0.113.9' });
    expect(r.status).toBe(202);
    expect(sim.control.task(r.body.task_id)?.status).toBe('pending');
    expect(sim.control.liveValues()).toEqual([]);
    expect((await control(sim, 'POST', 'tasks/flush')).status).toBe(200);
    expect(sim.control.task(r.body.task_id)?.status).toBe('done');
    expect(sim.control.liveValues()).toEqual(['203.0.113.9']);
  });

  it('validates format, lines and fields with 400', async () => {
    sim = await startSim({ behavior: { textMaxLines: 3 } });
    const cases = [
      { indicators: '203.0.113.9', format: 'ipv4' },
      { indicators: '' },
      { indicators: '\n \n' },
      { indicators: ['203.0.113.9'] },
      { indicators: '10.0.0.1\n10.0.0.2\n10.0.0.3\n10.0.0.4' },
      { indicators: '203.0.113.9', description: 'x'.repeat(501) },
      { indicators: '203.0.113.9', valid_until: 'soon' },
    ];
    for (const body of cases) expect((await importText(body)).status).toBe(400);
    expect(sim.control.tasks()).toEqual([]);
  });

  it('rejects lines that do not match the format, per line in the task outcome', async () => {
    sim = await startSim();
    const r = await importText({
      indicators: '203.0.113.9\nevil.example\nnot a value',
      format: 'ipv4-addr.value',
    });
    const task = await finished(r.body.task_id);
    expect(task).toMatchObject({ status: 'done', total: 3, imported: 1, created: 1, rejected: 2 });
    expect(task.rejections.map((x) => x.line)).toEqual(['evil.example', 'not a value']);
  });

  it('one_per_line (or no format) detects each line; a comma joins one file’s hashes', async () => {
    sim = await startSim();
    const r = await importText({
      indicators: `203.0.113.9\r\nevil.example\n${MD5},${SHA256}\n203.0.113.1,evil.example`,
    });
    const task = await finished(r.body.task_id);
    expect(task).toMatchObject({ created: 3, rejected: 1 });
    expect(task.rejections[0]?.line).toBe('203.0.113.1,evil.example');
    const file = sim.control.indicators().find((i) => i.x_ic_observable_types[0] === 'file');
    expect(file).toMatchObject({
      name: `${MD5},${SHA256}`,
      pattern: `[file:hashes.MD5 = '${MD5}' OR file:hashes.'SHA-256' = '${SHA256}']`,
    });
  });

  it('file.hashes accepts hash lines only', async () => {
    sim = await startSim();
    const r = await importText({ indicators: `${MD5}\n203.0.113.9`, format: 'file.hashes' });
    const task = await finished(r.body.task_id);
    expect(task).toMatchObject({ created: 1, rejected: 1 });
  });

  it('re-import counts updated or ignored lines', async () => {
    sim = await startSim();
    await createBatch(sim, ['203.0.113.9']);
    const t1 = await finished((await importText({ indicators: '203.0.113.9\n203.0.113.10' })).body.task_id);
    expect(t1).toMatchObject({ created: 1, updated: 1, imported: 2 });
    sim.control.setBehavior({ reimport: 'ignore' });
    const t2 = await finished((await importText({ indicators: '203.0.113.9' })).body.task_id);
    expect(t2).toMatchObject({ ignored: 1, imported: 0 });
  });

  it('quota overflow shows as rejected lines', async () => {
    sim = await startSim({ behavior: { quotaMax: 2 } });
    const task = await finished(
      (await importText({ indicators: '10.0.0.1\n10.0.0.2\n10.0.0.3' })).body.task_id,
    );
    expect(task).toMatchObject({
      created: 2,
      rejected: 1,
      rejections: [{ line: '10.0.0.3', reason: 'IOC limit reached' }],
    });
  });

  it('a 202 task can later fail some or all lines (fault)', async () => {
    sim = await startSim({ behavior: { textLineFailureRate: 1 } });
    const task = await finished((await importText({ indicators: '10.0.0.1\n10.0.0.2' })).body.task_id);
    expect(task).toMatchObject({ status: 'done', imported: 0, rejected: 2 });
    expect(sim.control.liveValues()).toEqual([]);
  });

  it('a collection deleted before the task runs fails the task', async () => {
    sim = await startSim({ behavior: { textDelayMs: 600_000 } });
    const r = await importText({ indicators: '10.0.0.1' });
    sim.control.deleteCollection();
    sim.control.flushTasks();
    expect(sim.control.task(r.body.task_id)).toMatchObject({ status: 'failed', rejected: 1 });
  });
});
