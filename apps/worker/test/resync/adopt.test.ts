/**
 * Adopting a collection: the one the Python connector filled (duplicates, values of `!=` / LIKE patterns, stale
 * values of pattern changes), shown first by `adopt --dry-run` without a single write, then adopted by the
 * worker's first start; and a changed SEKOIA_INTEL_IOC_COLLECTION_UUID, refused until `cli adopt` confirms it.
 */
import { waitFor } from '@octi-sekoia/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { CONVERGED, pagesFor, ResyncStack } from './harness.ts';

let stack: ResyncStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const V1 = '2031-01-01T00:00:00.000Z';
const V2 = '2032-06-01T00:00:00.000Z';

/**
 * What the Python connector sent for an indicator event: one text import of every string of the pattern,
 * operators ignored, the format of the first comparison, the indicator's validity and the OpenCTI link.
 */
async function pythonImport(s: ResyncStack, internalId: string, values: string[], format: string) {
  const o = s.octi.control.getObject({ internalId }) as Record<string, unknown>;
  await s.api('POST', '/indicators/text', {
    format,
    indicators: values.join('\n'),
    valid_from: o.valid_from,
    ...(o.valid_until ? { valid_until: o.valid_until } : {}),
    description: `${s.octi.url}/dashboard/observations/indicators/${internalId}`,
  });
}

describe('adoption', () => {
  it('a collection the Python connector filled: the dry run lists exactly what adoption then changes', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    const c = s.octi.control;
    const py = async (ref: { internalId: string }, values: string[], format = 'domain-name.value') => {
      await pythonImport(s, ref.internalId, values, format);
      s.sim.control.flushTasks();
    };
    // Right in Sekoia already.
    for (let i = 0; i < 30; i++) {
      const ref = c.createIndicator({ pattern: `[domain-name:value = 'ok-${i}.example']`, validUntil: V1 });
      await py(ref, [`ok-${i}.example`]);
    }
    // Patterns whose values must not be exported: PY pushed them anyway.
    await py(
      c.createIndicator({ pattern: "[ipv4-addr:value != '198.51.100.7']", validUntil: V1 }),
      ['198.51.100.7'],
      'ipv4-addr.value',
    );
    await py(c.createIndicator({ pattern: "[domain-name:value LIKE 'like.example']", validUntil: V1 }), [
      'like.example',
    ]);
    await py(
      c.createIndicator({
        pattern:
          "[(domain-name:value = 'a.example' OR domain-name:value = 'b.example') AND domain-name:value != 'c.example']",
        validUntil: V1,
      }),
      ['c.example', 'b.example', 'a.example'],
    );
    // A pattern change: PY imported the new value and never removed the old one.
    const changed = c.createIndicator({ pattern: "[domain-name:value = 'old.example']", validUntil: V1 });
    await py(changed, ['old.example']);
    c.changePattern({ internalId: changed.internalId, pattern: "[domain-name:value = 'new.example']" });
    await py(changed, ['new.example']);
    // An update re-imported with Sekoia duplicating: two ids, the older one with the old validity.
    const dup = c.createIndicator({ pattern: "[domain-name:value = 'dup.example']", validUntil: V1 });
    await py(dup, ['dup.example']);
    c.updateIndicator({ internalId: dup.internalId, set: { valid_until: V2 } });
    s.sim.control.setBehavior({ reimport: 'duplicate' });
    await py(dup, ['dup.example']);
    // An update Sekoia ignored on re-import: one id with the old validity.
    const stale = c.createIndicator({ pattern: "[domain-name:value = 'edit.example']", validUntil: V1 });
    await py(stale, ['edit.example']);
    c.updateIndicator({ internalId: stale.internalId, set: { valid_until: V2 } });
    s.sim.control.setBehavior({ reimport: 'ignore' });
    await py(stale, ['edit.example']);
    s.sim.control.setBehavior({ reimport: 'update' });
    // An IN list PY dropped (lists are not strings): never sent.
    c.createIndicator({ pattern: "[domain-name:value IN ('in-1.example', 'in-2.example')]", validUntil: V1 });
    // Deleted in OpenCTI: PY revoked it (a revoked indicator stays listed).
    const gone = c.createIndicator({ pattern: "[domain-name:value = 'gone.example']", validUntil: V1 });
    await py(gone, ['gone.example']);
    c.deleteIndicator({ internalId: gone.internalId });
    const goneId = s.sim.control.indicators().find((i) => i.canonical === 'gone.example')!.id;
    await s.api('DELETE', `/indicators/${goneId}`);
    const idOf = (v: string) =>
      s.sim.control
        .indicators()
        .filter((i) => i.canonical === v && !i.revoked)
        .map((i) => i.id);
    const [dupOld, dupNew] = idOf('dup.example');

    // The dry run: nothing written.
    s.sim.control.resetCounters();
    const dry = await s.cli(['adopt', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const { plan } = JSON.parse(dry.output.slice(dry.output.indexOf('{\n'))) as {
      plan: {
        create: { value: string }[];
        revoke: { value: string; id: string; reason: string }[];
        edit: { value: string; id: string }[];
        unchanged: number;
      };
    };
    const writes = s.requests();
    expect({ create: writes.create, edit: writes.edit, revoke: writes.revoke, text: writes.text }).toEqual({
      create: 0,
      edit: 0,
      revoke: 0,
      text: 0,
    });
    expect(await s.reads.stateExists()).toBe(false);
    expect(plan.create.map((x) => x.value).sort()).toEqual(['in-1.example', 'in-2.example']);
    expect(plan.revoke.map((x) => `${x.value} ${x.reason}`).sort()).toEqual([
      '198.51.100.7 not-live',
      'a.example not-live',
      'b.example not-live',
      'c.example not-live',
      'dup.example duplicate',
      'like.example not-live',
      'old.example not-live',
    ]);
    expect(plan.revoke.find((x) => x.value === 'dup.example')?.id).toBe(dupOld);
    expect(plan.edit.map((x) => x.value)).toEqual(['edit.example']);
    expect(plan.unchanged).toBe(31); // 30 ok-*, new.example (dup.example has a duplicate to revoke)
    const text = await s.cli(['adopt', '--dry-run']);
    expect(text.code).toBe(0);
    expect(text.output).toContain('values checked 39 (40 live indicators in the collection)');
    expect(text.output).toContain(`  revoke  dup.example  ${dupOld}  (duplicate)`);
    expect(text.output).toContain('  create  in-1.example');
    expect(text.output).toContain(
      'summary: would revoke 7, create 2, edit 1; 31 values already right. Nothing was written (dry run).',
    );
    expect(s.requests()).toMatchObject({ create: 0, edit: 0, revoke: 0, text: 0 });

    // The workers' first start adopts the collection (two start at once: one reads, the other waits for it),
    // then generation 1 applies the plan.
    s.sim.control.resetCounters();
    s.spawnIngest();
    const workers = [s.spawnWorker(), s.spawnWorker()];
    await s.waitGeneration(1);
    expect(s.diff()).toEqual(CONVERGED);
    const done = s.requests();
    expect(done).toMatchObject({ create: 1, edit: 1, revoke: plan.revoke.length });
    expect(idOf('dup.example')).toEqual([dupNew]);
    const read = (await s.reads.readInfo())!;
    expect(read).toMatchObject({ generation: 1, trusted: read.values, unsure: 0 });
    // No value was searched: the collection read in pages is all the adoption asked of Sekoia.
    expect(done.list).toBe(pagesFor(read.indicators));
    const adoptedBy = workers.filter((w) => w.output().includes('collection adopted for generation 1'));
    expect(adoptedBy).toHaveLength(1);
  });

  it('a changed collection id: the worker refuses to start until `cli adopt` confirms it, then adopts the new one', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    for (let i = 0; i < 20; i++)
      s.octi.control.createIndicator({ pattern: `[domain-name:value = 'v-${i}.example']`, validUntil: V1 });
    s.spawnIngest();
    let worker = s.spawnWorker();
    await s.waitGeneration(1);
    const oldCollection = s.sim.collectionId;
    const before = s.sim.control.indicators(oldCollection);

    // The new collection holds some of the values (other attributes) and values OpenCTI does not have.
    const next = s.sim.control.createCollection({ name: 'new' });
    await s.api(
      'POST',
      '/indicators',
      {
        default_fields: { valid_from: '2026-01-01T00:00:00Z', description: 'someone else' },
        indicators: ['v-0.example', 'v-1.example', 'other-1.example', 'other-2.example'].map((value) => ({
          value,
        })),
      },
      next,
    );
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);

    worker = s.spawnWorker({ SEKOIA_INTEL_IOC_COLLECTION_UUID: next });
    expect(await worker.exited).toBe(2);
    expect(worker.output()).toContain(
      `refusing to start: SEKOIA_INTEL_IOC_COLLECTION_UUID changed: the sync state in Redis was built for ${oldCollection}`,
    );
    expect(worker.output()).toContain('pnpm cli adopt');
    expect(s.sim.control.indicators(next).filter((i) => !i.revoked)).toHaveLength(4);

    const adopted = await s.cli(['adopt', '--json'], { SEKOIA_INTEL_IOC_COLLECTION_UUID: next });
    expect(adopted.code).toBe(0);
    const report = JSON.parse(adopted.output.slice(adopted.output.indexOf('{\n'))) as {
      collectionChanged: { from: string };
      generation: number;
      read: { trusted: number };
    };
    expect(report).toMatchObject({
      collectionChanged: { from: oldCollection },
      generation: 2,
      read: { trusted: 4 },
    });
    expect((await s.reads.identity()).collectionId).toBe(next);

    s.spawnWorker({ SEKOIA_INTEL_IOC_COLLECTION_UUID: next });
    await s.waitGeneration(2);
    expect(s.diff(next)).toEqual(CONVERGED);
    // The old collection is left as it was.
    expect(s.sim.control.indicators(oldCollection)).toEqual(before);
    await waitFor(async () => (await s.queues.indicators.isPaused()) === false, { what: 'queue resumed' });
  });

  it('a changed description template starts a new generation at ingest start: every value is edited once', async () => {
    stack = await ResyncStack.start();
    const s = stack;
    for (let i = 0; i < 20; i++)
      s.octi.control.createIndicator({ pattern: `[domain-name:value = 't-${i}.example']`, validUntil: V1 });
    let ingest = s.spawnIngest();
    s.spawnWorker();
    await s.waitGeneration(1);
    expect((await s.reads.identity()).descriptionTemplate).toBe(s.template);
    ingest.kill('SIGTERM');
    expect(await ingest.exited).toBe(0);

    s.sim.control.resetCounters();
    s.template = 'OpenCTI indicator {id} ({name})';
    ingest = s.spawnIngest({ SEKOIA_INTEL_DESCRIPTION_TEMPLATE: s.template });
    await ingest.waitForOutput(
      /configuration changed since the last start \(SEKOIA_INTEL_DESCRIPTION_TEMPLATE\)/,
    );
    await s.waitGeneration(2);
    expect(s.diff()).toEqual(CONVERGED);
    expect(s.requests()).toMatchObject({ create: 0, revoke: 0, edit: 20 });
    expect((await s.reads.identity()).descriptionTemplate).toBe(s.template);
  });
});
