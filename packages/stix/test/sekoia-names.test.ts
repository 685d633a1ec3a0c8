import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalValue, expandIpv6, KNOWN_KILL_CHAIN_PHASES } from '../src/index.ts';

describe('expandIpv6', () => {
  it.each([
    ['::', '0000:0000:0000:0000:0000:0000:0000:0000'],
    ['::1', '0000:0000:0000:0000:0000:0000:0000:0001'],
    ['2001:db8::', '2001:0db8:0000:0000:0000:0000:0000:0000'],
    ['2001:db8:a1b:2c3d::1', '2001:0db8:0a1b:2c3d:0000:0000:0000:0001'],
    ['1:2:3:4:5:6:7:8', '0001:0002:0003:0004:0005:0006:0007:0008'],
  ])('%s', (c, full) => {
    expect(expandIpv6(c)).toBe(full);
  });

  it('the expanded form is the same address (canonical again gives the input back)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const c = canonicalValue(ip);
        fc.pre(c !== undefined && !c.includes('.'));
        const full = expandIpv6(c!);
        expect(full).toMatch(/^([0-9a-f]{4}:){7}[0-9a-f]{4}$/);
        expect(canonicalValue(full)).toBe(c);
      }),
    );
  });
});

describe('KNOWN_KILL_CHAIN_PHASES', () => {
  it('holds the MITRE ATT&CK tactics and the Lockheed Martin phases in STIX spelling', () => {
    expect(KNOWN_KILL_CHAIN_PHASES.size).toBe(19);
    for (const p of ['command-and-control', 'initial-access', 'weaponization', 'actions-on-objectives'])
      expect(KNOWN_KILL_CHAIN_PHASES.has(p)).toBe(true);
    expect(KNOWN_KILL_CHAIN_PHASES.has('staging')).toBe(false);
  });
});
