import { describe, expect, it } from 'vitest';
import { StixPatternError } from '../src/errors.ts';
import { type Comparison, extractObservables, type Literal, parsePattern } from '../src/index.ts';
import { sExpression } from './vectors.ts';

function parseError(pattern: string, stixVersion: '2.0' | '2.1' = '2.1'): StixPatternError | undefined {
  try {
    parsePattern(pattern, { stixVersion });
    return undefined;
  } catch (err) {
    if (err instanceof StixPatternError) return err;
    throw err;
  }
}

function onlyComparison(pattern: string): Comparison {
  const p = parsePattern(pattern);
  expect(p.comparisons).toHaveLength(1);
  return p.comparisons[0]!;
}

function onlyValue(pattern: string): Literal {
  return onlyComparison(pattern).value as Literal;
}

describe('lexing: valid input', () => {
  const cases: [string, string][] = [
    ['spaces around every token', "[ ipv4-addr : value = '198.51.100.1' ]"],
    ['Unicode spaces', '[\u00a0a:b\u3000=\u20001\u2028]\u205f'],
    ['tabs and newlines', '[a:b\t=\n1]\r\n'],
    ['block comment', '[a:b /* c */ = 1]'],
    ['block comment with stars', '[a:b /** c **/ = 1]'],
    ['line comment', '[a:b = 1 // comment\n]'],
    ['line comment at the end', '[a:b = 1] // comment'],
    ['zero', '[a:b = 0]'],
    ['negative zero', '[a:b = -0]'],
    ['plus sign', '[a:b = +5]'],
    ['float without integer part', '[a:b = .5]'],
    ['negative float', '[a:b = -.5]'],
    ['float with leading zeros', '[a:b = 007.5]'],
    ['keyword right after a number', '[a:b = 1] WITHIN 5SECONDS'],
    ['keyword right after a string', "[a:b = 'x'OR a:c = 'y']"],
    ['empty hex', "[a:b = h'']"],
    ['hex mixed case', "[a:b = h'0aFF']"],
    ['base64 full group', "[a:b = b'AAAA']"],
    ['base64 one pad', "[a:b = b'AAAAAAA=']"],
    ['base64 two pads', "[a:b = b'AA==']"],
    ['timestamp with second 60 and Feb 30', "[a:b = t'2016-02-30T23:59:60Z']"],
    ['timestamp with fraction', "[a:b = t'2016-01-01T00:00:00.123456789Z']"],
    ['identifier with hyphen as object type', '[x_y-z-:a = 1]'],
    ['underscore identifiers', '[_a:_b = 1]'],
    ['TRUE is an identifier (as a property name)', '[a:TRUE = 1]'],
    ['keyword prefix is an identifier', '[ANDROID:ORx = 1]'],
    ['string with non-ASCII and a newline', "[a:b = 'é\n😀']"],
    ['escaped quote and backslash', "[a:b = 'it\\'s \\\\ ok']"],
  ];
  it.each(cases)('%s', (_name, pattern) => {
    expect(parseError(pattern)).toBeUndefined();
  });
});

describe('lexing: invalid input', () => {
  const cases: [string, string, number][] = [
    ['TRUE is not a boolean', '[a:b = TRUE]', 7],
    ['lower-case keyword', '[a:b = 1] and [c:d = 2]', 10],
    ['mixed-case keyword', '[a:b = 1] Or [c:d = 2]', 10],
    ['double quotes', '[a:b = "x"]', 7],
    ['unterminated string', "[a:b = 'x]", 7],
    ['invalid escape', "[a:b = 'C:\\Windows']", 10],
    ['escaped quote leaves the string open', "[a:b = 'x\\']", 7],
    ['leading zero', '[a:b = 01]', 7],
    ['float without digits after the dot', '[a:b = 5.]', 8],
    ['exponent', '[a:b = 1e5]', 8],
    ['hexadecimal number', '[a:b = 0x10]', 8],
    ['odd hex digits', "[a:b = h'f']", 7],
    ['non-hex digit', "[a:b = h'gg']", 9],
    ['empty base64', "[a:b = b'']", 7],
    ['short base64 group', "[a:b = b'A']", 7],
    ['padding in the middle', "[a:b = b'A=AA']", 11],
    ['padding before the last group', "[a:b = b'AA==AAAA']", 13],
    ['three pads', "[a:b = b'A===']", 12],
    ['hour 24', "[a:b = t'2016-01-01T24:00:00Z']", 7],
    ['month 13', "[a:b = t'2016-13-01T00:00:00Z']", 7],
    ['day 00', "[a:b = t'2016-01-00T00:00:00Z']", 7],
    ['second 61', "[a:b = t'2016-01-01T00:00:61Z']", 7],
    ['missing Z', "[a:b = t'2016-01-01T00:00:00']", 7],
    ['lower-case z', "[a:b = t'2016-01-01T00:00:00z']", 7],
    ['empty fraction', "[a:b = t'2016-01-01T00:00:00.Z']", 7],
    ['time zone offset', "[a:b = t'2016-01-01T00:00:00+01:00']", 7],
    ['unterminated comment', '[a:b = 1] /* x', 10],
    ['lone slash', '[a:b = 1] /', 10],
    ['caret', '[a:b = 1] ^', 10],
    ['lone plus', '[a:b = +]', 7],
    ['lone minus', '[a:b = -]', 7],
    ['bang without =', '[a:b ! 1]', 5],
    ['control character', '[a:b = 1]\u0000', 9],
    ['non-ASCII outside a string', '[a:b = 1] é', 10],
    ['identifier followed by a string', "[a:b = x'1']", 8],
  ];
  it.each(cases)('%s', (_name, pattern, position) => {
    const e = parseError(pattern);
    expect(e).toBeInstanceOf(StixPatternError);
    expect(e?.position).toBe(position);
  });
});

describe('grammar: valid input', () => {
  const cases: [string, string][] = [
    [
      'all equality and order operators',
      '[a:b = 1 AND a:b == 1 AND a:b != 1 AND a:b <> 1 AND a:b < 1 AND a:b <= 1 AND a:b > 1 AND a:b >= 1]',
    ],
    [
      'NOT before every operator',
      "[a:b NOT = 1 OR a:b NOT < 1 OR a:b NOT IN (1) OR a:b NOT LIKE 'x' OR a:b NOT MATCHES 'x' OR a:b NOT ISSUBSET 'x' OR a:b NOT ISSUPERSET 'x']",
    ],
    [
      'string operators',
      "[a:b LIKE 'x%' AND a:b MATCHES '^x$' AND a:b ISSUBSET '10.0.0.0/8' AND a:b ISSUPERSET '10.0.0.1']",
    ],
    [
      'order operators on every orderable literal',
      "[a:b < 'x' AND a:b < 1.5 AND a:b < h'00' AND a:b < b'AAAA' AND a:b < t'2016-01-01T00:00:00Z']",
    ],
    ['equality on booleans', '[a:b = true AND a:b != false]'],
    ['empty IN set', '[a:b IN ()]'],
    [
      'IN set of every literal type',
      "[a:b IN ('x', 1, -1.5, true, h'00', b'AAAA', t'2016-01-01T00:00:00Z')]",
    ],
    ['EXISTS', '[EXISTS a:b]'],
    ['NOT EXISTS', '[NOT EXISTS a:b.c[0]]'],
    ['object path steps', "[a:'b c'[0].'d'[*].e[-1].f[+2] = 1]"],
    ['quoted first key', "[a:'b' = 1]"],
    ['parentheses inside an observation', '[(((a:b = 1)))]'],
    ['parentheses around observations', '((([a:b = 1])))'],
    [
      'WITHIN float and plus',
      '[a:b = 1] WITHIN 5.5 SECONDS AND [a:b = 1] WITHIN +5 SECONDS AND [a:b = 1] WITHIN .5 SECONDS',
    ],
    ['REPEATS 0 and plus', '[a:b = 1] REPEATS 0 TIMES OR [a:b = 1] REPEATS +2 TIMES'],
    [
      'qualifier chain',
      "[a:b = 1] REPEATS 2 TIMES WITHIN 5 SECONDS START t'2016-01-01T00:00:00Z' STOP t'2016-01-02T00:00:00Z'",
    ],
    ['FOLLOWEDBY', '[a:b = 1] FOLLOWEDBY [a:b = 2]'],
    ['space between colon and path', '[a: b = 1]'],
  ];
  it.each(cases)('%s', (_name, pattern) => {
    expect(parseError(pattern)).toBeUndefined();
  });
});

describe('grammar: invalid input', () => {
  const cases: [string, string][] = [
    ['empty pattern', ''],
    ['only whitespace and comments', ' /* x */ '],
    ['missing brackets', 'a:b = 1'],
    ['empty observation', '[]'],
    ['empty parentheses', '()'],
    ['unclosed observation', '[a:b = 1'],
    ['extra bracket', '[a:b = 1]]'],
    ['unclosed parenthesis', '([a:b = 1]'],
    ['extra parenthesis', '[a:b = 1])'],
    ['unbalanced inside', '[(a:b = 1]'],
    ['unbalanced inside 2', '[a:b = 1)]'],
    ['nested brackets', '[[a:b = 1]]'],
    ['hyphen in a property name', "[file:hashes.SHA-256 = 'x']"],
    ['hyphen in the first key', '[a:b-c = 1]'],
    ['float index', '[a:b[1.5] = 1]'],
    ['empty index', '[a:b[] = 1]'],
    ['string index', "[a:b['x'] = 1]"],
    ['missing colon', '[a.b = 1]'],
    ['missing property', '[a: = 1]'],
    ['keyword as object type', '[AND:b = 1]'],
    ['keyword as property', '[a:OR = 1]'],
    ['boolean as property', '[a:true = 1]'],
    ['order on a boolean', '[a:b < true]'],
    ['LIKE with a number', '[a:b LIKE 1]'],
    ['MATCHES with hex', "[a:b MATCHES h'00']"],
    ['ISSUBSET with a set', "[a:b ISSUBSET ('x')]"],
    ['IN without parentheses', "[a:b IN 'x']"],
    ['IN trailing comma', "[a:b IN ('x',)]"],
    ['IN nested set', "[a:b IN (('x'))]"],
    ['= with a set', "[a:b = ('x')]"],
    ['NOT before the path', '[NOT a:b = 1]'],
    ['NOT after the operator', '[a:b = NOT 1]'],
    ['double NOT', '[a:b NOT NOT = 1]'],
    ['EXISTS with a value', '[EXISTS a:b = 1]'],
    ['EXISTS after the path', '[a:b EXISTS]'],
    ['missing value', '[a:b =]'],
    ['missing operator', "[a:b 'x']"],
    ['two values', '[a:b = 1 2]'],
    ['WITHIN negative', '[a:b = 1] WITHIN -5 SECONDS'],
    ['WITHIN without SECONDS', '[a:b = 1] WITHIN 5'],
    ['WITHIN other unit', '[a:b = 1] WITHIN 5 MINUTES'],
    ['REPEATS float', '[a:b = 1] REPEATS 1.5 TIMES'],
    ['REPEATS negative', '[a:b = 1] REPEATS -1 TIMES'],
    ['REPEATS without TIMES', '[a:b = 1] REPEATS 2'],
    ['START without STOP', "[a:b = 1] START t'2016-01-01T00:00:00Z'"],
    ['START with plain strings', "[a:b = 1] START '2016-01-01T00:00:00Z' STOP '2016-01-02T00:00:00Z'"],
    ['qualifier before the observation', 'WITHIN 5 SECONDS [a:b = 1]'],
    ['qualifier inside an observation', '[a:b = 1 WITHIN 5 SECONDS]'],
    ['trailing AND', '[a:b = 1] AND'],
    ['leading AND', 'AND [a:b = 1]'],
    ['two observations without an operator', '[a:b = 1] [c:d = 2]'],
    ['FOLLOWEDBY inside an observation', '[a:b = 1 FOLLOWEDBY a:b = 2]'],
    ['LAST is reserved', '[a:b = 1] LAST 5 SECONDS'],
    ['comparison outside brackets', '[a:b = 1] OR a:c = 2'],
  ];
  it.each(cases)('%s', (_name, pattern) => {
    expect(parseError(pattern)).toBeInstanceOf(StixPatternError);
  });

  it('rejects EXISTS in STIX 2.0 only', () => {
    expect(parseError('[EXISTS a:b]', '2.1')).toBeUndefined();
    expect(parseError('[EXISTS a:b]', '2.0')).toBeInstanceOf(StixPatternError);
    expect(parseError('[NOT EXISTS a:b]', '2.0')).toBeInstanceOf(StixPatternError);
    expect(parseError('[a:b = 1]', '2.0')).toBeUndefined();
  });

  it('rejects non-string input and unknown versions with StixPatternError', () => {
    expect(() => parsePattern(42 as unknown as string)).toThrow(StixPatternError);
    expect(() => parsePattern('[a:b = 1]', { stixVersion: '3.0' as '2.1' })).toThrow(StixPatternError);
  });
});

describe('tree', () => {
  const structures: [string, string][] = [
    ['[a:b = 1 OR a:b = 2 AND a:b = 3]', '[(OR c0 (AND c1 c2))]'],
    ['[a:b = 1 AND a:b = 2 OR a:b = 3]', '[(OR (AND c0 c1) c2)]'],
    ['[a:b = 1 OR a:b = 2 OR a:b = 3]', '[(OR (OR c0 c1) c2)]'],
    ['[(a:b = 1 OR a:b = 2) AND a:b = 3]', '[(AND (OR c0 c1) c2)]'],
    ['[a:b=1] FOLLOWEDBY [a:b=2] OR [a:b=3] AND [a:b=4]', '(FOLLOWEDBY [c0] (OR [c1] (AND [c2] [c3])))'],
    ['[a:b=1] AND [a:b=2] OR [a:b=3] FOLLOWEDBY [a:b=4]', '(FOLLOWEDBY (OR (AND [c0] [c1]) [c2]) [c3])'],
    ['[a:b=1] FOLLOWEDBY [a:b=2] FOLLOWEDBY [a:b=3]', '(FOLLOWEDBY (FOLLOWEDBY [c0] [c1]) [c2])'],
    ['[a:b=1] AND [a:b=2] WITHIN 5 SECONDS', '(AND [c0] (WITHIN 5 [c1]))'],
    ['([a:b=1] AND [a:b=2]) WITHIN 5 SECONDS', '(WITHIN 5 (AND [c0] [c1]))'],
    ['[a:b=1] REPEATS 2 TIMES WITHIN 5 SECONDS', '(WITHIN 5 (REPEATS 2 [c0]))'],
    [
      "[a:b=1] START t'2016-01-01T00:00:00Z' STOP t'2016-01-02T00:00:00Z' OR [a:b=2]",
      '(OR (START_STOP 2016-01-01T00:00:00Z 2016-01-02T00:00:00Z [c0]) [c1])',
    ],
  ];
  it.each(structures)('%s → %s', (pattern, structure) => {
    expect(sExpression(parsePattern(pattern).root)).toBe(structure);
  });

  const literals: [string, Omit<Literal, 'start' | 'end'>][] = [
    ["[a:b = 'it\\'s']", { type: 'string', value: "it's", raw: "'it\\'s'" }],
    ["[a:b = 'C:\\\\Windows']", { type: 'string', value: 'C:\\Windows', raw: "'C:\\\\Windows'" }],
    ["[a:b = 'weird_name\\'']", { type: 'string', value: "weird_name'", raw: "'weird_name\\''" }],
    ["[a:b = '\\\\\\'']", { type: 'string', value: "\\'", raw: "'\\\\\\''" }],
    ["[a:b = '']", { type: 'string', value: '', raw: "''" }],
    ['[a:b = -12]', { type: 'int', value: -12, raw: '-12' }],
    ['[a:b = +.5]', { type: 'float', value: 0.5, raw: '+.5' }],
    ['[a:b = false]', { type: 'bool', value: false, raw: 'false' }],
    ["[a:b = h'0aFF']", { type: 'hex', value: '0aFF', raw: "h'0aFF'" }],
    ["[a:b = b'AA==']", { type: 'binary', value: 'AA==', raw: "b'AA=='" }],
    [
      "[a:b = t'2016-01-01T00:00:00.5Z']",
      { type: 'timestamp', value: '2016-01-01T00:00:00.5Z', raw: "t'2016-01-01T00:00:00.5Z'" },
    ],
  ];
  it.each(literals)('literal %s', (pattern, expected) => {
    expect(onlyValue(pattern)).toMatchObject(expected);
  });

  it('keeps operators, negation and path steps', () => {
    const c = onlyComparison("[email-message:to_refs[-1].'x y'[*] NOT <> 'a']");
    expect(c).toMatchObject({ operator: '!=', operatorRaw: '<>', negated: true });
    expect(c.path.objectType).toBe('email-message');
    expect(c.path.steps.map((s) => ({ ...s, start: undefined, end: undefined }))).toEqual([
      { kind: 'key', key: 'to_refs', quoted: false, start: undefined, end: undefined },
      { kind: 'index', index: -1, start: undefined, end: undefined },
      { kind: 'key', key: 'x y', quoted: true, start: undefined, end: undefined },
      { kind: 'any-index', start: undefined, end: undefined },
    ]);
  });

  it('records source spans', () => {
    const pattern = "[a:b = 'x'] AND ( [c:d IN ('y')] ) WITHIN 5 SECONDS";
    const p = parsePattern(pattern);
    const [c0, c1] = p.comparisons;
    expect(pattern.slice(c0!.start, c0!.end)).toBe("a:b = 'x'");
    expect(pattern.slice(c1!.start, c1!.end)).toBe("c:d IN ('y')");
    expect(p.observations.map((o) => pattern.slice(o.start, o.end))).toEqual([
      "[a:b = 'x']",
      "[c:d IN ('y')]",
    ]);
    expect(pattern.slice(p.root.start, p.root.end)).toBe(pattern);
    expect(p.comparisons.map((c) => c.observation)).toEqual([0, 1]);
  });
});

describe('size and depth', () => {
  const n = 100_000;
  const cases: [string, () => string][] = [
    ['deep parentheses around observations', () => `${'('.repeat(n)}[a:b = 1]${')'.repeat(n)}`],
    ['deep parentheses inside an observation', () => `[${'('.repeat(n)}a:b = 1${')'.repeat(n)}]`],
    ['right-nested AND', () => `[${'a:b = 1 AND ('.repeat(n)}a:b = 1${')'.repeat(n)}]`],
    [
      'long OR chain of observations',
      () => Array.from({ length: n }, (_, i) => `[domain-name:value = 'd${i}.example']`).join(' OR '),
    ],
    [
      'huge IN set',
      () => `[domain-name:value IN (${Array.from({ length: n }, (_, i) => `'d${i}.example'`).join(',')})]`,
    ],
  ];
  it.each(cases)('%s parses and extracts without overflowing the stack', (_name, make) => {
    const pattern = make();
    expect(() => parsePattern(pattern)).not.toThrow();
    const r = extractObservables(pattern);
    expect(r.valid).toBe(true);
  });

  it('reports an unbalanced deep pattern as a syntax error', () => {
    const pattern = `${'('.repeat(n)}[a:b = 1]${')'.repeat(n - 1)}`;
    expect(parseError(pattern)?.position).toBe(pattern.length);
  });

  it('decodes a 1 MB string literal', () => {
    const body = 'a\\\\'.repeat(250_000);
    const c = onlyComparison(`[a:b = '${body}']`);
    expect((c.value as Literal).value).toBe('a\\'.repeat(250_000));
  });
});
