import type {
  Comparison,
  ComparisonExpression,
  Literal,
  ObjectPath,
  ObservationExpression,
  Pattern,
  SetLiteral,
  StixVersion,
} from './ast.ts';
import { canonicalize, type Observable, type ObservableType } from './canonical.ts';
import { StixPatternError } from './errors.ts';
import { KEYWORDS } from './lexer.ts';
import { parsePattern } from './parser.ts';

/**
 * IOC extraction (packages/stix/README.md; docs/stix-patterns.md).
 *
 * A value is exported only when seeing it alone implies the pattern matches: a positive `=`/`==` or
 * `IN`-of-strings comparison on an exact IOC path, reached from the root through OR, WITHIN, REPEATS 1,
 * observations, and AND inside a single all-`file` observation (hash-anchored: the hash identifies the
 * file, other file constraints are ignored). Under AND/FOLLOWEDBY between observations, AND inside a
 * mixed observation, REPEATS n != 1 and START/STOP, the value is only over-approximate: reported in
 * `skipped` (strict) or exported (lenient). Since OR is the only combinator that keeps values exact,
 * the status of a value depends only on its ancestors, so one top-down walk decides it.
 */

/** `strict`: only values the pattern guarantees; `lenient`: over-approximate values too (see above). */
export const EXTRACTION_MODES = ['strict', 'lenient'] as const;
export type ExtractionMode = (typeof EXTRACTION_MODES)[number];

export interface SkipNote {
  reason: string;
  /** The object path, e.g. `file:hashes.'SHA-256'`. */
  path?: string;
  /** The operator as written, with `NOT ` when negated. */
  operator?: string;
  value?: unknown;
  /** Offset of the comparison in the pattern. */
  position?: number;
}

export interface ExtractionResult {
  valid: boolean;
  error?: { message: string; position: number };
  observables: Observable[];
  skipped: SkipNote[];
}

export interface ExtractionOptions {
  mode?: ExtractionMode;
  stixVersion?: StixVersion;
}

// Maps, not object literals: object types and hash names come from the input (`constructor`, `__proto__`).
const VALUE_PATH_TYPES: ReadonlyMap<string, ObservableType> = new Map<string, ObservableType>([
  ['ipv4-addr', 'ipv4-addr'],
  ['ipv6-addr', 'ipv6-addr'],
  ['domain-name', 'domain-name'],
  ['url', 'url'],
  ['email-addr', 'email-addr'],
]);

/** Hash keys compared upper-cased without '-' (STIX vocabulary, as the OASIS validator does). */
const EXPORTED_HASHES: ReadonlyMap<string, ObservableType> = new Map<string, ObservableType>([
  ['MD5', 'file:hashes.MD5'],
  ['SHA1', 'file:hashes.SHA-1'],
  ['SHA256', 'file:hashes.SHA-256'],
  ['SHA512', 'file:hashes.SHA-512'],
]);
const KNOWN_UNEXPORTED_HASHES = new Set(['SHA3224', 'SHA3256', 'SHA3384', 'SHA3512', 'SSDEEP', 'TLSH']);

export function extractObservables(pattern: string, opts: ExtractionOptions = {}): ExtractionResult {
  let parsed: Pattern;
  try {
    parsed = parsePattern(pattern, opts.stixVersion === undefined ? {} : { stixVersion: opts.stixVersion });
  } catch (err) {
    const e = err instanceof StixPatternError ? err : new StixPatternError('internal parser error', 0);
    return {
      valid: false,
      error: { message: e.message, position: e.position },
      observables: [],
      skipped: [],
    };
  }
  try {
    return extractFromPattern(parsed, opts.mode === 'lenient' ? 'lenient' : 'strict');
  } catch {
    // Defensive: extraction is written not to throw; a parsed pattern never yields a partial result.
    return {
      valid: false,
      error: { message: 'internal extraction error', position: 0 },
      observables: [],
      skipped: [],
    };
  }
}

interface Accumulator {
  mode: ExtractionMode;
  observables: Observable[];
  skipped: SkipNote[];
  /** Canonical values exported so far. */
  seen: Set<string>;
  /** Over-approximate notes and their value (strict mode), created on first use. */
  overNotes: Map<SkipNote, string> | undefined;
}

type Target = { type: ObservableType } | { reason: string };

/** Where a path points: an exported IOC type, or why not. */
export function exportTarget(path: ObjectPath): Target {
  const steps = path.steps;
  const valueType = VALUE_PATH_TYPES.get(path.objectType);
  if (valueType !== undefined) {
    const s0 = steps[0]!;
    if (steps.length === 1 && s0.kind === 'key' && s0.key === 'value') return { type: valueType };
    return { reason: 'not an IOC property (only the value property is exported)' };
  }
  if (path.objectType === 'file') {
    const s0 = steps[0]!;
    const s1 = steps[1];
    if (s0.kind === 'key' && s0.key === 'hashes') {
      if (steps.length === 2 && s1 !== undefined && s1.kind === 'key') {
        const alg = s1.key.toUpperCase().replaceAll('-', '');
        const type = EXPORTED_HASHES.get(alg);
        if (type !== undefined) return { type };
        if (KNOWN_UNEXPORTED_HASHES.has(alg)) {
          return {
            reason: `hash algorithm ${s1.key} is not exported (Sekoia documents MD5, SHA-1, SHA-256, SHA-512)`,
          };
        }
        return { reason: `unknown hash algorithm ${s1.key}` };
      }
      return { reason: 'file hashes need one named algorithm, e.g. hashes.MD5' };
    }
  }
  return { reason: 'not an IOC property' };
}

function extractFromPattern(pattern: Pattern, mode: ExtractionMode): ExtractionResult {
  // Per observation: are all its comparisons on `file`? Then AND inside it is hash-anchored.
  const allFile: boolean[] = [];
  for (let i = 0; i < pattern.observations.length; i++) allFile.push(true);
  for (const c of pattern.comparisons) if (c.path.objectType !== 'file') allFile[c.observation] = false;

  const out: Accumulator = { mode, observables: [], skipped: [], seen: new Set(), overNotes: undefined };

  // Iterative pre-order walk (right child pushed first so comparisons come out in source order).
  // `demoted[i]` is the reason the values under nodes[i] are only over-approximate, or ''.
  const nodes: (ObservationExpression | ComparisonExpression)[] = [pattern.root];
  const demoted: string[] = [''];
  let observation = 0;
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const why = demoted.pop()!;
    switch (node.kind) {
      case 'observation-operation': {
        const w =
          why ||
          (node.operator === 'OR'
            ? ''
            : `${node.operator} between observations: no single value alone implies a match`);
        nodes.push(node.right, node.left);
        demoted.push(w, w);
        break;
      }
      case 'qualified': {
        const q = node.qualifier;
        let w = why;
        if (!w && q.type === 'REPEATS' && q.times !== 1) {
          w = `REPEATS ${q.raw} TIMES: one sighting does not match`;
        }
        if (!w && q.type === 'START_STOP') w = 'START/STOP: the observation must fall in a time window';
        nodes.push(node.operand);
        demoted.push(w);
        break;
      }
      case 'observation':
        observation = node.index;
        nodes.push(node.expression);
        demoted.push(why);
        break;
      case 'comparison-operation': {
        const w =
          why ||
          (node.operator === 'AND' && !allFile[observation]
            ? 'AND inside an observation: no single value alone implies a match'
            : '');
        nodes.push(node.right, node.left);
        demoted.push(w, w);
        break;
      }
      case 'comparison':
        visitComparison(node, why, out);
        break;
    }
  }
  // Over-approximate notes are dropped when the same value is exported through another branch.
  const over = out.overNotes;
  const skipped =
    over === undefined ? out.skipped : out.skipped.filter((n) => !out.seen.has(over.get(n) ?? '\n'));
  return { valid: true, observables: out.observables, skipped };
}

function addNote(out: Accumulator, c: Comparison, reason: string, value: unknown): SkipNote {
  const n: SkipNote = {
    reason,
    path: formatObjectPath(c.path),
    operator: operatorText(c),
    position: c.start,
  };
  if (value !== undefined) n.value = value;
  out.skipped.push(n);
  return n;
}

/** Why a positive comparison on an IOC path names no exportable string values; '' when it does. */
function valueProblem(c: Comparison): string {
  if (c.negated || c.operator === '!=') return 'negated comparison: names values that must not match';
  if (c.operator === '=') {
    const v = c.value as Literal;
    return v.type === 'string' ? '' : `${v.type} value: only strings are IOC values`;
  }
  if (c.operator === 'IN') {
    const set = c.value as SetLiteral;
    if (set.elements.length === 0) return 'empty IN set';
    for (const e of set.elements) if (e.type !== 'string') return 'IN set with non-string elements';
    return '';
  }
  return `operator ${c.operator} does not name IOC values`;
}

function visitComparison(c: Comparison, demotedBy: string, out: Accumulator): void {
  const target = exportTarget(c.path);
  const problem = 'reason' in target ? target.reason : valueProblem(c);
  if ('reason' in target || problem !== '') {
    addNote(out, c, problem, literalJson(c.value));
    return;
  }
  const v = c.value as Literal | SetLiteral;
  const elements = v.type === 'set' ? v.elements : [v];
  for (const e of elements) {
    const raw = e.value as string;
    const r = canonicalize(target.type, raw);
    if (!r.ok) {
      addNote(out, c, `invalid ${target.type} value: ${r.reason}`, raw);
      continue;
    }
    // The canonical value alone identifies the observable (its type is detected from it).
    if (demotedBy && out.mode === 'strict') {
      const n = addNote(out, c, `over-approximate, exported only in lenient mode: ${demotedBy}`, r.value);
      if (out.overNotes === undefined) out.overNotes = new Map();
      out.overNotes.set(n, r.value);
      continue;
    }
    if (out.seen.has(r.value)) continue;
    out.seen.add(r.value);
    out.observables.push({ type: target.type, value: r.value });
  }
}

function operatorText(c: Comparison): string {
  return c.negated ? `NOT ${c.operatorRaw}` : c.operatorRaw;
}

/** JSON-friendly value of a literal: decoded strings, numbers, booleans, raw text for b''/h''/t''. */
export function literalJson(v: Literal | SetLiteral | null): unknown {
  if (v === null) return undefined;
  if (v.type === 'set') return v.elements.map((e) => literalJson(e));
  if (v.type === 'binary' || v.type === 'hex' || v.type === 'timestamp') return v.raw;
  return v.value;
}

function isPlainKey(key: string): boolean {
  if (key.length === 0 || KEYWORDS.has(key) || key === 'true' || key === 'false') return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!(letter || (i > 0 && c >= 48 && c <= 57))) return false;
  }
  return true;
}

function quote(s: string): string {
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** Canonical text of an object path: `file:hashes.'SHA-256'`, `email-message:to_refs[-1].value`. */
export function formatObjectPath(path: ObjectPath): string {
  let out = `${path.objectType}:`;
  path.steps.forEach((s, i) => {
    if (s.kind === 'key') out += (i > 0 ? '.' : '') + (isPlainKey(s.key) ? s.key : quote(s.key));
    else if (s.kind === 'index') out += `[${s.index}]`;
    else out += '[*]';
  });
  return out;
}
