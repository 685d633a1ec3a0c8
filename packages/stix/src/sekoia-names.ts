// Spellings Sekoia.io may use for what STIX holds, shared by the product, the Sekoia simulator and the probe
// (issue 14 rows 1 and 8; docs/sekoia-behaviours.md): one list, one expansion, never two copies.

/**
 * Phase names Sekoia's file-import documentation accepts (docs/sekoia-api.md, "Limits"; docs/sekoia-behaviours.md
 * row 8): the MITRE ATT&CK enterprise tactics and the Lockheed Martin Cyber Kill Chain phases, lower-case and
 * hyphenated as STIX writes them.
 */
export const KNOWN_KILL_CHAIN_PHASES: ReadonlySet<string> = new Set([
  'reconnaissance',
  'resource-development',
  'initial-access',
  'execution',
  'persistence',
  'privilege-escalation',
  'defense-evasion',
  'credential-access',
  'discovery',
  'lateral-movement',
  'collection',
  'command-and-control',
  'exfiltration',
  'impact',
  'weaponization',
  'delivery',
  'exploitation',
  'installation',
  'actions-on-objectives',
]);

/**
 * An RFC 5952 (canonical) IPv6 address written out in full: 8 groups of 4 lower-case hex digits (the `name` one
 * Sekoia variant may give an IPv6 indicator, docs/sekoia-behaviours.md row 1). Expects a canonical address.
 */
export function expandIpv6(canonical: string): string {
  const [head, tail] = canonical.includes('::') ? canonical.split('::') : [canonical, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => g.padStart(4, '0')).join(':');
}
