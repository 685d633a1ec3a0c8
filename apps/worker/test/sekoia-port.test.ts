/**
 * The port under Sekoia behaviours that change what is written (issue 14 rows 2 and 8), against the simulator
 * over HTTP: kill chain phases Sekoia may refuse, and how an edit clears a field.
 */
import { SekoiaClient, unknownBehaviours, writeChoices } from '@octi-sekoia/sekoia';
import { type SekoiaBehavior, type SekoiaSimulator, startSekoiaSimulator } from '@octi-sekoia/simulators';
import { unlimitedBudget } from '@octi-sekoia/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestGate, sekoiaPort } from '../src/sekoia-port.ts';

let sim: SekoiaSimulator | undefined;
let client: SekoiaClient | undefined;
afterEach(async () => {
  client?.close();
  await sim?.close();
  sim = client = undefined;
});

const CUSTOM = { kill_chain_name: 'acme-intrusion-chain', phase_name: 'staging' };
const MITRE = { kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' };
const attrs = (over: Record<string, unknown> = {}) => ({
  validFrom: '2026-01-01T00:00:00.000Z',
  validUntil: '2031-01-01T00:00:00.000Z',
  killChainPhases: [CUSTOM, MITRE],
  description: 'd',
  ...over,
});

const items = (...values: string[]) => values.map((value) => ({ value, validFrom: attrs().validFrom }));

async function portFor(behavior: Partial<SekoiaBehavior>, profile: Parameters<typeof writeChoices>[0]) {
  sim = await startSekoiaSimulator({ behavior });
  client = new SekoiaClient({
    baseUrl: sim.url,
    apiKey: sim.apiKey,
    collectionId: sim.collectionId,
    timeoutMs: 5000,
  });
  const degraded: string[] = [];
  const port = sekoiaPort(client, new RequestGate(unlimitedBudget), {
    choices: () => writeChoices(profile),
    onDegraded: (d) => degraded.push(`${d.subjects.join(' ')}: ${d.detail}`),
  });
  return { sim, port, degraded };
}

describe('kill chain phases (row 8)', () => {
  it.each([
    [
      'Sekoia refuses custom phases, no profile: refused once, then sent without them',
      'mitre-lockheed',
      'unknown',
      2,
      [MITRE],
    ],
    [
      'Sekoia refuses custom phases, profile says so: sent without them at once',
      'mitre-lockheed',
      'mitre-lockheed',
      1,
      [MITRE],
    ],
    ['Sekoia accepts every phase, no profile: sent as they are', 'accept-all', 'unknown', 1, [CUSTOM, MITRE]],
  ] as const)('%s', async (_, variant, observed, creates, phases) => {
    const { sim, port, degraded } = await portFor(
      { killChainPhases: variant },
      { ...unknownBehaviours(), killChainPhases: observed },
    );
    const created = await port.createBatch(attrs(), items('a.example', 'b.example'));
    expect(created.map((c) => c.value).sort()).toEqual(['a.example', 'b.example']);
    expect(sim.control.requestCount('create-batch')).toBe(creates);
    for (const i of sim.control.indicators()) expect(i.kill_chain_phases).toEqual(phases);
    expect(degraded).toEqual(
      phases.length === 1 ? ['a.example b.example: acme-intrusion-chain:staging'] : [],
    );
    // An edit follows the same rule.
    await port.edit(created[0]!.id, attrs({ description: 'changed' }));
    const edited = sim.control.indicators().find((i) => i.id === created[0]!.id)!;
    expect(edited).toMatchObject({ description: 'changed', kill_chain_phases: phases });
  });
});

describe('clearing a field with an edit (row 2)', () => {
  it.each([
    [
      'null refused, no profile: no null sent, the edit lands',
      'reject',
      'unknown',
      '2031-01-01T00:00:00.000Z',
    ],
    ['null ignored, no profile: the old valid_until stays', 'keep', 'unknown', '2031-01-01T00:00:00.000Z'],
    ['null clears, profile says so: cleared', 'clear', 'clear', null],
  ] as const)('%s', async (_, variant, observed, validUntil) => {
    const { sim, port } = await portFor({ putNull: variant }, { ...unknownBehaviours(), putNull: observed });
    const [c] = await port.createBatch(attrs({ killChainPhases: [MITRE] }), items('c.example'));
    await port.edit(c!.id, { validFrom: '2026-01-01T00:00:00.000Z', killChainPhases: [], description: '' });
    const i = sim.control.indicators().find((x) => x.id === c!.id)!;
    expect(i.valid_until).toBe(validUntil);
    expect(i.description ?? '').toBe('');
    expect(i.kill_chain_phases).toEqual([]);
  });
});

describe('create batches', () => {
  it('one request for values whose fields differ only by valid_from: each item keeps its own', async () => {
    const { sim, port } = await portFor({}, unknownBehaviours());
    const from = ['2026-03-01T10:00:00.000Z', '2026-03-02T11:30:00.000Z', '2026-03-03T00:00:00.123Z'];
    const { validFrom: _, ...fields } = attrs({ killChainPhases: [MITRE] });
    await port.createBatch(
      fields,
      ['a.example', 'b.example', 'c.example'].map((value, i) => ({ value, validFrom: from[i]! })),
    );
    expect(sim.control.requestCount('create-batch')).toBe(1);
    const got = new Map(sim.control.indicators().map((i) => [i.name, i]));
    expect(['a.example', 'b.example', 'c.example'].map((v) => got.get(v)?.valid_from)).toEqual(from);
    for (const i of got.values())
      expect(i).toMatchObject({ description: 'd', valid_until: '2031-01-01T00:00:00.000Z' });
  });
});

describe('exact search', () => {
  it('a hit carries the attributes Sekoia lists for it (a verify search sees an edit made by hand)', async () => {
    const { sim, port } = await portFor({}, unknownBehaviours());
    const [c] = await port.createBatch(attrs({ killChainPhases: [MITRE] }), items('d.example'));
    const res = await fetch(
      `${sim.url}/v2/inthreat/ioc-collections/${sim.collectionId}/indicators/${c!.id}`,
      {
        method: 'PUT',
        headers: { Authorization: `Bearer ${sim.apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ description: 'edited by hand' }),
      },
    );
    expect(res.status).toBe(200);
    expect(await port.searchExact('d.example')).toEqual([
      {
        id: c!.id,
        value: 'd.example',
        revoked: false,
        attributes: attrs({ killChainPhases: [MITRE], description: 'edited by hand' }),
      },
    ]);
  });
});
