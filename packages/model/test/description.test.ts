import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DESCRIPTION_TEMPLATE,
  type DescriptionVars,
  MAX_DESCRIPTION_CODE_POINTS,
  renderDescription,
  templatePlaceholders,
  truncateCodePoints,
  validateDescriptionTemplate,
} from '../src/description.ts';

const vars: DescriptionVars = {
  opencti_url: 'https://octi.example',
  id: '5f3c2a10',
  stix_id: 'indicator--0a1b',
  name: '198.51.100.7',
  description: 'C2 {id}',
  score: '80',
  labels: 'c2, apt',
  pattern_type: 'stix',
  main_observable_type: 'IPv4-Addr',
};

describe('renderDescription', () => {
  it.each([
    [DEFAULT_DESCRIPTION_TEMPLATE, 'https://octi.example/dashboard/observations/indicators/5f3c2a10'],
    ['{OPENCTI_URL}/x/{Id}', 'https://octi.example/x/5f3c2a10'],
    [
      '{name} ({score}) [{labels}] {pattern_type}/{main_observable_type} {stix_id}',
      '198.51.100.7 (80) [c2, apt] stix/IPv4-Addr indicator--0a1b',
    ],
    // A value is not expanded again.
    ['{description}', 'C2 {id}'],
    // Unknown placeholders and stray braces stay as written.
    ['{nope} {} {a b} {', '{nope} {} {a b} {'],
    ['constant', 'constant'],
  ])('%s → %s', (template, want) => {
    expect(renderDescription(template, vars)).toBe(want);
  });

  it('renders each template as its own, whichever was rendered before (templates are split once)', () => {
    for (let i = 0; i < 3; i++) {
      expect(renderDescription('{id}-{name}', vars)).toBe('5f3c2a10-198.51.100.7');
      expect(renderDescription('{name}|{nope}|{ID}', vars)).toBe('198.51.100.7|{nope}|5f3c2a10');
    }
  });

  it('names the known placeholders a template uses', () => {
    expect([...templatePlaceholders(DEFAULT_DESCRIPTION_TEMPLATE)].sort()).toEqual(['id', 'opencti_url']);
    expect([...templatePlaceholders('{Name} {nope} {name} {score}')].sort()).toEqual(['name', 'score']);
    expect(templatePlaceholders('constant').size).toBe(0);
  });

  it('renders missing values as empty', () => {
    expect(renderDescription('[{name}|{score}]', {})).toBe('[|]');
  });

  const astral = '😀'; // one code point, two UTF-16 units
  it.each([
    ['ASCII', 'a'.repeat(600), 'a'.repeat(500)],
    ['astral: 500 code points, not 250', astral.repeat(600), astral.repeat(500)],
    [
      'astral at the cut is never split',
      `${'a'.repeat(499)}${astral}${astral}`,
      `${'a'.repeat(499)}${astral}`,
    ],
    ['exactly 500 astral code points stay whole', astral.repeat(500), astral.repeat(500)],
    ['combining marks count one each', 'e\u0301'.repeat(300), 'e\u0301'.repeat(250)],
  ])('truncates to 500 code points: %s', (_name, description, want) => {
    const out = renderDescription('{description}', { description });
    expect(out).toBe(want);
    expect([...out].length).toBeLessThanOrEqual(MAX_DESCRIPTION_CODE_POINTS);
  });
});

describe('truncateCodePoints', () => {
  it.each([
    ['', 3, ''],
    ['abc', 3, 'abc'],
    ['abcd', 3, 'abc'],
    ['😀😀😀😀', 3, '😀😀😀'],
    ['a😀b', 2, 'a😀'],
  ])('%s to %i → %s', (s, n, want) => {
    expect(truncateCodePoints(s, n)).toBe(want);
  });
});

describe('validateDescriptionTemplate', () => {
  it.each([
    [DEFAULT_DESCRIPTION_TEMPLATE, undefined],
    ['{OPENCTI_URL}/dashboard/observations/indicators/{ID}', undefined],
    ['OpenCTI', undefined],
    ['{name} {} {a b}', undefined],
    ['', 'must not be empty'],
    ['   ', 'must not be empty'],
    ['{nope}', 'unknown placeholder {nope}'],
    ['{nope} {nope} {x}', 'unknown placeholders {nope}, {x}'],
  ])('%j → %s', (template, want) => {
    const err = validateDescriptionTemplate(template);
    if (want === undefined) expect(err).toBeUndefined();
    else expect(err).toContain(want);
  });

  it('lists the known placeholders in the error', () => {
    expect(validateDescriptionTemplate('{nope}')).toContain('{main_observable_type}');
  });
});
