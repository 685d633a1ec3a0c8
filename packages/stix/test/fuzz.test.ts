import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StixPatternError } from '../src/errors.ts';
import { extractObservables, parsePattern } from '../src/index.ts';
import { sExpression, vectors } from './vectors.ts';

/**
 * Property tests: 30,000 grammar-generated valid patterns (each must parse to the structure it was
 * generated with), 50,000 mutated vectors and 20,000 mutated generated patterns (only StixPatternError may
 * escape parsePattern, with a position inside the input; extractObservables never throws and agrees with
 * the parser). Fixed seeds keep runs reproducible.
 */

interface Gen {
  text: string;
  /** S-expression with `§` for each comparison, numbered afterwards in source order. */
  sexp: string;
  /** Precedence of the top operator (higher binds tighter); 9 for an atom. */
  prec: number;
}

const SEPARATORS = [' ', ' ', ' ', '  ', '\t', '\n', ' /* c */ ', ' // c\n', '\u00a0', '\u3000', '\r\n'];
const sep = fc.constantFrom(...SEPARATORS);

// Fixed word lists (cheaper than regex-driven generation); keyword look-alikes probe keyword vs identifier.
const identifier = fc.constantFrom(
  'a',
  'b',
  'value',
  'hashes',
  'MD5',
  'x_y',
  '_z',
  'A1',
  'ANDROID',
  'ORx',
  'TRUE',
  'NOTE',
  'INx',
  't',
  'h',
  'b1',
  'constructor',
  '__proto__',
);
const objectType = fc.oneof(
  identifier,
  fc.constantFrom('ipv4-addr', 'file', 'x-custom-', 'network-traffic', 'a-1', 'AND-x'),
);
const quoted = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
const stringLiteral = fc
  .oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.constantFrom("it's", 'C:\\Windows', "\\'", '', 'évil.example', '198.51.100.1'),
  )
  .map(quoted);
const int = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.nat({ max: 99 }).map((n) => `+${n}`),
);
const float = fc
  .tuple(fc.constantFrom('', '-', '+'), fc.constantFrom('', '0', '12', '007'), fc.nat({ max: 9999 }))
  .map(([s, i, f]) => `${s}${i}.${f}`);
const hexLit = fc
  .array(fc.constantFrom(...'0123456789abcdefABCDEF'.split('')), { maxLength: 6 })
  .map((a) => `h'${a.join('')}${a.length % 2 ? '0' : ''}'`);
const binLit = fc
  .tuple(fc.constantFrom('', 'dGhp', 'a+/9Zz09'), fc.constantFrom('AAAA', 'AAA=', 'AA=='))
  .map(([a, b]) => `b'${a}${b}'`);
const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'));
const timestamp = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    two(1, 12),
    two(1, 31),
    two(0, 23),
    two(0, 59),
    two(0, 60),
    fc.constantFrom('', '.1', '.123456'),
  )
  .map(([y, mo, d, h, mi, s, f]) => `t'${String(y).padStart(4, '0')}-${mo}-${d}T${h}:${mi}:${s}${f}Z'`);
const orderable = fc.oneof(stringLiteral, int, float, hexLit, binLit, timestamp);
const primitive = fc.oneof(orderable, fc.constantFrom('true', 'false'));

const pathStep = fc.oneof(
  identifier.map((k) => `.${k}`),
  stringLiteral.map((k) => `.${k}`),
  fc.integer({ min: -5, max: 5 }).map((n) => `[${n}]`),
  fc.constant('[*]'),
);
const objectPath = fc
  .tuple(objectType, fc.oneof(identifier, stringLiteral), fc.array(pathStep, { maxLength: 3 }))
  .map(([t, first, steps]) => `${t}:${first}${steps.join('')}`);
const iocComparison = fc.oneof(
  fc.constantFrom("ipv4-addr:value = '198.51.100.1'", "ipv4-addr:value IN ('198.51.100.0/24', '1.2.3.4/32')"),
  fc.constantFrom("domain-name:value = 'Evil.Example'", "url:value == 'http://evil.example/it\\'s'"),
  fc.constantFrom(
    "file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'",
    "file:hashes.'SHA-256' != 'x'",
    'file:size > 10',
  ),
);

const comparison: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: iocComparison },
  {
    weight: 5,
    arbitrary: fc
      .tuple(objectPath, fc.boolean(), sep, fc.constantFrom('=', '==', '!=', '<>'), sep, primitive)
      .map(([p, not, s1, op, s2, v]) => `${p}${s1}${not ? `NOT${s1}` : ''}${op}${s2}${v}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(objectPath, fc.boolean(), sep, fc.constantFrom('<', '<=', '>', '>='), orderable)
      .map(([p, not, s, op, v]) => `${p}${s}${not ? 'NOT ' : ''}${op}${s}${v}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(objectPath, fc.boolean(), fc.array(primitive, { maxLength: 4 }), sep)
      .map(([p, not, vs, s]) => `${p} ${not ? 'NOT ' : ''}IN${s}(${vs.join(`,${s}`)})`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        objectPath,
        fc.boolean(),
        fc.constantFrom('LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET'),
        stringLiteral,
      )
      .map(([p, not, op, v]) => `${p} ${not ? 'NOT ' : ''}${op} ${v}`),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.boolean(), objectPath).map(([not, p]) => `${not ? 'NOT ' : ''}EXISTS ${p}`),
  },
);

const PREC: Record<string, number> = { FOLLOWEDBY: 1, OR: 2, AND: 3 };
const CPREC: Record<string, number> = { OR: 1, AND: 2 };

function binary(op: string, table: Record<string, number>, l: Gen, r: Gen, s: string, extra: boolean): Gen {
  const p = table[op]!;
  const lt = l.prec < p || extra ? `(${s}${l.text}${s})` : l.text;
  const rt = r.prec <= p ? `(${s}${r.text}${s})` : r.text;
  return { text: `${lt}${s}${op}${s}${rt}`, sexp: `(${op} ${l.sexp} ${r.sexp})`, prec: p };
}

const { comparisonExpr } = fc.letrec<{ comparisonExpr: Gen }>((tie) => ({
  comparisonExpr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison.map((text) => ({ text, sexp: '§', prec: 9 })),
    fc
      .tuple(fc.constantFrom('AND', 'OR'), tie('comparisonExpr'), tie('comparisonExpr'), sep, fc.boolean())
      .map(([op, l, r, s, extra]) => binary(op, CPREC, l, r, s, extra)),
  ),
}));

const qualifier = fc.oneof(
  fc
    .oneof(
      int.filter((n) => !n.startsWith('-')),
      float.filter((f) => !f.startsWith('-')),
    )
    .map((n) => ({ text: `WITHIN ${n} SECONDS`, tag: `WITHIN ${n}` })),
  fc.nat({ max: 20 }).map((n) => ({ text: `REPEATS ${n} TIMES`, tag: `REPEATS ${n}` })),
  fc.tuple(timestamp, timestamp).map(([a, b]) => ({
    text: `START ${a} STOP ${b}`,
    tag: `START_STOP ${a.slice(2, -1)} ${b.slice(2, -1)}`,
  })),
);

const { observationExpr } = fc.letrec<{ observationExpr: Gen }>((tie) => ({
  observationExpr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(comparisonExpr, sep)
      .map(([c, s]) => ({ text: `[${s}${c.text}${s}]`, sexp: `[${c.sexp}]`, prec: 9 })),
    fc
      .tuple(
        fc.constantFrom('AND', 'OR', 'FOLLOWEDBY'),
        tie('observationExpr'),
        tie('observationExpr'),
        sep,
        fc.boolean(),
      )
      .map(([op, l, r, s, extra]) => binary(op, PREC, l, r, s, extra)),
    fc.tuple(tie('observationExpr'), qualifier, sep).map(([o, q, s]) => {
      // A qualifier binds to the observation right before it: a binary operand needs parentheses.
      const text = o.prec < 9 ? `(${o.text})${s}${q.text}` : `${o.text}${s}${q.text}`;
      return { text, sexp: `(${q.tag} ${o.sexp})`, prec: 9 };
    }),
  ),
}));

function numbered(sexp: string): string {
  let i = 0;
  return sexp.replaceAll('§', () => `c${i++}`);
}

const INTERESTING = [
  "'",
  '\\',
  '[',
  ']',
  '(',
  ')',
  ':',
  '.',
  ',',
  '*',
  '=',
  '!=',
  '<',
  '>',
  '-',
  '+',
  '0',
  '1',
  '.5',
  "h'",
  "b'",
  "t'",
  ' AND ',
  ' OR ',
  ' NOT ',
  ' IN ',
  ' EXISTS ',
  ' FOLLOWEDBY ',
  ' WITHIN 5 SECONDS',
  ' REPEATS 2 TIMES',
  '/*',
  '*/',
  '//',
  '\n',
  '"',
  'é',
  '\u0000',
  '\u2028',
  '😀',
  '/',
  '==',
  'true',
  'TRUE',
];
const edit = fc.record({
  kind: fc.constantFrom('insert', 'delete', 'replace'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 4 }),
  text: fc.oneof(
    fc.constantFrom(...INTERESTING),
    fc.string({ maxLength: 3 }),
    fc.string({ unit: 'binary', maxLength: 2 }),
  ),
});

function mutate(base: string, edits: { kind: string; at: number; len: number; text: string }[]): string {
  let s = base;
  for (const e of edits) {
    const at = e.at % (s.length + 1);
    if (e.kind === 'insert') s = s.slice(0, at) + e.text + s.slice(at);
    else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
    else s = s.slice(0, at) + e.text + s.slice(at + e.len);
  }
  return s;
}

/** Parse and extract; fails the property if anything but StixPatternError escapes or they disagree. */
function checkClosed(pattern: string, stixVersion: '2.0' | '2.1' = '2.1'): void {
  let parsed = true;
  try {
    parsePattern(pattern, { stixVersion });
  } catch (err) {
    if (!(err instanceof StixPatternError))
      throw new Error(`non-StixPatternError escaped for ${JSON.stringify(pattern)}: ${err}`);
    if (!(err.position >= 0 && err.position <= pattern.length))
      throw new Error(`position out of range: ${err.position}`);
    parsed = false;
  }
  for (const mode of ['strict', 'lenient'] as const) {
    const r = extractObservables(pattern, { mode, stixVersion });
    if (r.valid !== parsed)
      throw new Error(`extract valid=${r.valid} but parse=${parsed} for ${JSON.stringify(pattern)}`);
    if (!r.valid && r.observables.length > 0) throw new Error('invalid pattern exported values');
  }
}

describe('fuzz', () => {
  it('30,000 grammar-generated patterns parse to the generated structure', () => {
    fc.assert(
      fc.property(observationExpr, fc.constantFrom('', ' ', '\n', '/* lead */'), (g, lead) => {
        const text = `${lead}${g.text}${lead}`;
        const p = parsePattern(text);
        expect(sExpression(p.root)).toBe(numbered(g.sexp));
        expect(extractObservables(text).valid).toBe(true);
      }),
      { numRuns: 30_000, seed: 20_251_128 },
    );
  });

  it('50,000 mutated vectors: only StixPatternError escapes, extraction never throws', () => {
    const bases = fc.constantFrom(...vectors.map((v) => [v.pattern, v.stix_version] as const));
    fc.assert(
      fc.property(bases, fc.array(edit, { minLength: 1, maxLength: 4 }), ([base, version], edits) => {
        checkClosed(mutate(base, edits), version);
      }),
      { numRuns: 50_000, seed: 42 },
    );
  });

  it('20,000 mutated generated patterns: only StixPatternError escapes, extraction never throws', () => {
    fc.assert(
      fc.property(observationExpr, fc.array(edit, { minLength: 1, maxLength: 3 }), (g, edits) => {
        checkClosed(mutate(g.text, edits));
      }),
      { numRuns: 20_000, seed: 7 },
    );
  });

  it('arbitrary strings never escape as another exception', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        checkClosed(s);
        checkClosed(`[${s}]`);
      }),
      { numRuns: 5_000, seed: 3 },
    );
  });
});
