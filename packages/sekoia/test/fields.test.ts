import type { IocAttributes, KillChainPhase } from '@octi-sekoia/model';
import type { SekoiaBehavior } from '@octi-sekoia/simulators';
import { canonicalValue } from '@octi-sekoia/stix';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClearMode,
  createDefaults,
  createItem,
  editFields,
  keptValidUntil,
  type ListedIndicator,
  observedIndicator,
  withKnownPhases,
  withoutValidUntil,
} from '../src/fields.ts';
import { type Setup, setup } from './helpers.ts';

/**
 * The field mapping both ways (src/fields.ts), through the Sekoia simulator over real HTTP: desired attributes →
 * the request body → what Sekoia lists → observed value and attributes. Every field comes back equal; the rows
 * marked as approximations are where Sekoia makes the exact state impossible, and say what comes back instead
 * (docs/sekoia-behaviours.md).
 */

const SHA256 = 'a'.repeat(64);
const IPV6 = '2001:db8::1';
const FROM = '2026-01-01T00:00:00.000Z';
const UNTIL = '2027-01-01T00:00:00.000Z';
const C2: KillChainPhase = { kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' };
const RECON: KillChainPhase = {
  kill_chain_name: 'lockheed-martin-cyber-kill-chain',
  phase_name: 'reconnaissance',
};
const CUSTOM: KillChainPhase = { kill_chain_name: 'acme', phase_name: 'staging' };
const BASE: IocAttributes = { validFrom: FROM, killChainPhases: [], description: '' };

let s: Setup | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function start(behavior: Partial<SekoiaBehavior>): Promise<Setup> {
  s = await setup({ behavior }, { canonicalValue });
  return s;
}

/** Every indicator of the collection, as listed. */
async function listed(x: Setup): Promise<ListedIndicator[]> {
  const out: ListedIndicator[] = [];
  await x.client.listAll((page) => {
    out.push(...page);
  });
  return out;
}

interface CreateRow {
  name: string;
  value: string;
  /** As the model holds them: kill chain phases normalised (sorted by chain, then phase). */
  desired: IocAttributes;
  behavior?: Partial<SekoiaBehavior>;
  /** Only the known kill chain phases are sent (the port's choice under 'mitre-lockheed'). */
  knownOnly?: boolean;
  /** What is read back when it is not `desired`. */
  back?: IocAttributes;
  /** Sekoia adds a valid_until of its own: compared without it (`withoutValidUntil`). */
  defaultValidity?: true;
}

const createRows: CreateRow[] = [
  { name: 'valid_from', value: SHA256, desired: BASE },
  { name: 'valid_until', value: SHA256, desired: { ...BASE, validUntil: UNTIL } },
  { name: 'description', value: SHA256, desired: { ...BASE, description: 'https://octi.example/i/1' } },
  { name: 'kill chain phases', value: SHA256, desired: { ...BASE, killChainPhases: [RECON, C2] } },
  {
    name: 'every field at once',
    value: 'evil.example',
    desired: { validFrom: FROM, validUntil: UNTIL, killChainPhases: [CUSTOM, C2], description: 'd' },
  },
  // Normalisations and approximations (docs/sekoia-behaviours.md).
  {
    name: 'kill chain phases in another order, repeated: read back normalised',
    value: SHA256,
    desired: { ...BASE, killChainPhases: [C2, RECON, C2] },
    back: { ...BASE, killChainPhases: [RECON, C2] },
  },
  {
    name: 'no valid_until: Sekoia applies its default validity (approximation: compared without valid_until)',
    value: '198.51.100.7',
    desired: BASE,
    defaultValidity: true,
  },
  {
    name: 'custom kill chain phases under mitre-lockheed: dropped (approximation custom-kill-chains-dropped, row 8)',
    value: SHA256,
    desired: { ...BASE, killChainPhases: [CUSTOM, C2] },
    behavior: { killChainPhases: 'mitre-lockheed' },
    knownOnly: true,
    back: { ...BASE, killChainPhases: [C2] },
  },
  {
    name: 'IPv6 named written out in full: read back as the canonical value (row 1)',
    value: IPV6,
    desired: { ...BASE, validUntil: UNTIL },
    behavior: { itemName: 'ipv6-expanded' },
  },
  {
    name: 'hash named upper-case: read back as the canonical value (row 1)',
    value: SHA256,
    desired: BASE,
    behavior: { itemName: 'upper-hashes' },
  },
  {
    name: 'file named by a label: read back as the value of its pattern (row 1)',
    value: SHA256,
    desired: BASE,
    behavior: { itemName: 'file-hashes' },
  },
];

describe('field mapping round trip: attributes → create → list → attributes', () => {
  it.each(createRows.map((r) => [r.name, r] as const))('%s', async (_, row) => {
    const x = await start({ defaultValidity: true, ...row.behavior });
    const defaults = createDefaults(row.desired);
    const sent = row.knownOnly ? withKnownPhases(defaults).fields : defaults;
    const created = await x.client.createBatch(sent, [
      createItem({ value: row.value, validFrom: row.desired.validFrom }),
    ]);
    expect(created).toHaveLength(1);
    const all = await listed(x);
    expect(all).toHaveLength(1);
    const back = observedIndicator(all[0]!);
    expect(back).toMatchObject({ value: canonicalValue(row.value), revoked: false });
    const want = row.back ?? row.desired;
    if (row.defaultValidity) {
      expect(back.attributes?.validUntil).toMatch(/^\d{4}-/);
      expect(withoutValidUntil(back.attributes!)).toEqual(withoutValidUntil(want));
    } else {
      expect(back.attributes).toEqual(want);
    }
  });
});

interface EditRow {
  name: string;
  /** What the indicator held before the edit. */
  before: IocAttributes;
  desired: IocAttributes;
  clear: ClearMode;
  behavior?: Partial<SekoiaBehavior>;
  /** The valid_until Sekoia keeps (approximation valid-until-kept, rows 2 and 3). */
  kept?: string;
}

const FULL: IocAttributes = { validFrom: FROM, validUntil: UNTIL, killChainPhases: [C2], description: 'old' };

const editRows: EditRow[] = [
  {
    name: 'valid_from',
    before: FULL,
    desired: { ...FULL, validFrom: '2026-02-01T00:00:00.000Z' },
    clear: 'omit',
  },
  {
    name: 'valid_until',
    before: FULL,
    desired: { ...FULL, validUntil: '2028-01-01T00:00:00.000Z' },
    clear: 'omit',
  },
  { name: 'description', before: FULL, desired: { ...FULL, description: 'new' }, clear: 'omit' },
  { name: 'kill chain phases', before: FULL, desired: { ...FULL, killChainPhases: [RECON] }, clear: 'omit' },
  {
    name: 'description removed (omit: sent as "")',
    before: FULL,
    desired: { ...FULL, description: '' },
    clear: 'omit',
  },
  {
    name: 'valid_until and description removed, null clears them (putNull clear)',
    before: FULL,
    desired: { ...withoutValidUntil(FULL), description: '' },
    clear: 'null',
  },
  {
    name: 'valid_until removed under a replacing PUT: cleared by leaving it out (row 3)',
    before: FULL,
    desired: withoutValidUntil(FULL),
    clear: 'omit',
    behavior: { putMode: 'replace' },
  },
  {
    name: 'valid_until removed, no null allowed, partial PUT: Sekoia keeps it (approximation valid-until-kept)',
    before: FULL,
    desired: withoutValidUntil(FULL),
    clear: 'omit',
    behavior: { putNull: 'reject', putMode: 'partial' },
    kept: UNTIL,
  },
];

describe('field mapping round trip: attributes → edit → list → attributes', () => {
  it.each(editRows.map((r) => [r.name, r] as const))('%s', async (_, row) => {
    const x = await start({ defaultValidity: false, ...row.behavior });
    const [created] = await x.client.createBatch(createDefaults(row.before), [
      createItem({ value: SHA256, validFrom: row.before.validFrom }),
    ]);
    const answer = await x.client.edit(created!.id, editFields(row.desired, row.clear));
    expect(keptValidUntil(row.desired, answer)).toBe(row.kept);
    const [indicator] = await listed(x);
    const back = observedIndicator(indicator!).attributes;
    expect(back).toEqual(row.kept ? { ...row.desired, validUntil: row.kept } : row.desired);
  });
});

describe('field mapping: the request bodies', () => {
  const a: IocAttributes = { ...BASE, killChainPhases: [CUSTOM] };
  it.each<[string, unknown, unknown]>([
    // valid_from is per item, never a default field (docs/sekoia-api.md, "POST /{id}/indicators").
    ['create, absent fields left out', createDefaults(a), { kill_chain_phases: [CUSTOM] }],
    [
      'create, every field',
      createDefaults({ ...a, validUntil: UNTIL, description: 'd' }),
      { valid_until: UNTIL, kill_chain_phases: [CUSTOM], description: 'd' },
    ],
    [
      'create item with its valid_from',
      createItem({ value: 'v', validFrom: FROM }),
      { value: 'v', valid_from: FROM },
    ],
    ['create item without one', createItem({ value: 'v' }), { value: 'v' }],
    [
      'edit, absent fields cleared with null (the probe saw null clear)',
      editFields(a, 'null'),
      { valid_from: FROM, valid_until: null, kill_chain_phases: [CUSTOM], description: null },
    ],
    // Without the probe's word (issue 14 row 2): no null in the body.
    [
      'edit, absent fields without null',
      editFields(a),
      { valid_from: FROM, kill_chain_phases: [CUSTOM], description: '' },
    ],
    [
      'edit, every field',
      editFields({ ...a, validUntil: UNTIL, description: 'd' }, 'null'),
      { valid_from: FROM, valid_until: UNTIL, kill_chain_phases: [CUSTOM], description: 'd' },
    ],
    [
      'known phases only',
      withKnownPhases({ kill_chain_phases: [CUSTOM, C2] }),
      { fields: { kill_chain_phases: [C2] }, dropped: [CUSTOM] },
    ],
  ])('%s', (_, got, want) => {
    expect(got).toEqual(want);
  });

  it('reads a listed indicator without valid_from as carrying no attributes, and null fields as absent', () => {
    expect(observedIndicator({ id: 'indicator--1', name: SHA256 }).attributes).toBeUndefined();
    expect(
      observedIndicator({
        id: 'indicator--1',
        name: SHA256,
        valid_from: FROM,
        valid_until: null,
        description: null,
        kill_chain_phases: [C2, { ...C2, extra: 1 }, RECON, 'not a phase'],
      }).attributes,
    ).toEqual({ validFrom: FROM, killChainPhases: [RECON, C2], description: '' });
  });
});
