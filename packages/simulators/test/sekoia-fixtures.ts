/** Example payloads of docs/sekoia-api.md (constructed, not captured). */

/** §2.2 POST …/indicators/text */
export const TEXT_IMPORT_EXAMPLE = {
  indicators: '198.51.100.7\n203.0.113.9',
  format: 'ipv4-addr.value',
  valid_until: '2026-12-01T00:00:00Z',
  description: 'https://octi.example/i/42',
  kill_chain_phases: [
    { kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: 'command-and-control' },
  ],
};

/** §2.3 POST …/indicators */
export const BATCH_EXAMPLE = {
  default_fields: { valid_until: '2026-12-01T00:00:00Z', description: 'octi:42' },
  indicators: [{ value: 'evil.example' }, { value: '203.0.113.9' }],
};

/** §2.3 type detection example (DOC-CTI). */
export const DOC_CTI_IPV4 = { value: '94.24.86.201', pattern: "[ipv4-addr:value = '94.24.86.201']" };

/** §2.4 search example: `term` is a substring of the pattern. */
export const SEARCH_EXAMPLE = { term: '198.51.100.7', query: 'term=198.51.100.7&limit=100&offset=0' };

/** §2 / AL-ADD fixture: the body of a 404 for a missing collection. */
export const COLLECTION_NOT_FOUND = { message: 'IOC Collection not found', code: 'INTHREAT2500' };

/** One valid value per observable type, with the pattern the simulator builds for it. */
export const VALUES_BY_TYPE: Array<{ value: string; pattern: string; observable: string }> = [
  { value: '203.0.113.9', pattern: "[ipv4-addr:value = '203.0.113.9']", observable: 'ipv4-addr' },
  { value: '2001:db8::1', pattern: "[ipv6-addr:value = '2001:db8::1']", observable: 'ipv6-addr' },
  { value: 'evil.example', pattern: "[domain-name:value = 'evil.example']", observable: 'domain-name' },
  {
    value: 'http://evil.example/a?b=1&c=2',
    pattern: "[url:value = 'http://evil.example/a?b=1&c=2']",
    observable: 'url',
  },
  { value: 'bad@evil.example', pattern: "[email-addr:value = 'bad@evil.example']", observable: 'email-addr' },
  {
    value: 'd41d8cd98f00b204e9800998ecf8427e',
    pattern: "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
    observable: 'file',
  },
  {
    value: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    pattern: "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
    observable: 'file',
  },
  {
    value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    pattern: "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
    observable: 'file',
  },
  {
    value:
      'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
    pattern:
      "[file:hashes.'SHA-512' = 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e']",
    observable: 'file',
  },
];

export const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
export const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
