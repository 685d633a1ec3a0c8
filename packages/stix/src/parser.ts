import type {
  Comparison,
  ComparisonExpression,
  ComparisonOperator,
  Literal,
  ObjectPath,
  Observation,
  ObservationExpression,
  PathStep,
  Pattern,
  Qualifier,
  SetLiteral,
  StixVersion,
} from './ast.ts';
import { StixPatternError } from './errors.ts';
import { Lexer, Tok } from './lexer.ts';

/**
 * Parser for the full STIX 2.1 pattern grammar (and 2.0: no EXISTS).
 *
 * Binary operators and parentheses are parsed with an explicit stack (operator precedence), not by
 * recursion, so nesting depth is bounded by memory only: a 1 MB pattern of parentheses or a 50,000-long
 * OR chain parses without a stack overflow. A single comparison (path, operator, literal or set) has no
 * nesting and is parsed directly.
 *
 * Fails closed: any syntax error throws StixPatternError; no other exception escapes and no partial tree
 * is ever returned.
 */

const LEVEL_OBSERVATION = 0;
const LEVEL_COMPARISON = 1;

type Node = ObservationExpression | ComparisonExpression;

/**
 * Binary operator codes on the operator stack. Precedence is the code within a level (higher binds
 * tighter). Observation level: AND over OR over FOLLOWEDBY; inside `[...]`: AND over OR.
 */
const OP_FOLLOWEDBY = 1;
const OP_OR = 2;
const OP_AND = 3;
const OP_C_OR = 11;
const OP_C_AND = 12;
const OP_NAMES: Record<number, 'AND' | 'OR' | 'FOLLOWEDBY'> = {
  [OP_FOLLOWEDBY]: 'FOLLOWEDBY',
  [OP_OR]: 'OR',
  [OP_AND]: 'AND',
  [OP_C_OR]: 'OR',
  [OP_C_AND]: 'AND',
};

function opCode(level: number, word: string): number {
  if (level === LEVEL_OBSERVATION) {
    return word === 'AND' ? OP_AND : word === 'OR' ? OP_OR : word === 'FOLLOWEDBY' ? OP_FOLLOWEDBY : 0;
  }
  return word === 'AND' ? OP_C_AND : word === 'OR' ? OP_C_OR : 0;
}

const ORDER_OPS = new Set(['<', '<=', '>', '>=']);
const STRING_OPS = new Set(['LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET']);

export interface ParseOptions {
  stixVersion?: StixVersion;
}

export function parsePattern(text: string, opts: ParseOptions = {}): Pattern {
  if (typeof text !== 'string') throw new StixPatternError('pattern must be a string', 0);
  const stixVersion = opts.stixVersion ?? '2.1';
  if (stixVersion !== '2.1' && stixVersion !== '2.0') {
    throw new StixPatternError(`unsupported STIX version ${String(stixVersion)}`, 0);
  }
  try {
    return new Parser(text, stixVersion).parse();
  } catch (err) {
    if (err instanceof StixPatternError) throw err;
    // Defensive: the parser is written not to throw anything else; never let another type escape.
    const reason = err instanceof RangeError ? 'pattern too large' : 'internal parser error';
    throw new StixPatternError(reason, 0);
  }
}

class Parser {
  private readonly lx: Lexer;
  private readonly comparisons: Comparison[] = [];
  private readonly observations: Observation[] = [];

  constructor(
    private readonly src: string,
    private readonly version: StixVersion,
  ) {
    this.lx = new Lexer(src);
  }

  parse(): Pattern {
    const lx = this.lx;
    // Flat integer stacks instead of one object per nesting level: `(((...` costs four integers per level.
    // Frame i: its level, its closing token, where it opened, and where its operators start on `ops`.
    // Scratch stacks shared by all parses: parsing is synchronous and never re-entered.
    const frames = FRAMES.reset();
    frames.push4(LEVEL_OBSERVATION, Tok.EOF, 0, 0);
    const operands: Node[] = [];
    const ops = OPS.reset();
    let expectOperand = true;
    for (;;) {
      const top = frames.length - 4;
      const level = frames.at(top);
      const k = this.kind();
      if (expectOperand) {
        if (k === Tok.LPAREN || (k === Tok.LBRACK && level === LEVEL_OBSERVATION)) {
          const bracket = k === Tok.LBRACK;
          frames.push4(
            bracket ? LEVEL_COMPARISON : level,
            bracket ? Tok.RBRACK : Tok.RPAREN,
            lx.start,
            ops.length,
          );
          lx.next();
          continue;
        }
        if (level === LEVEL_OBSERVATION) this.unexpected("'[' or '('");
        operands.push(this.parseComparison());
        expectOperand = false;
        continue;
      }

      if (k === Tok.KEYWORD) {
        const word = lx.text;
        if (level === LEVEL_OBSERVATION && (word === 'WITHIN' || word === 'REPEATS' || word === 'START')) {
          // Qualifiers bind to the observation expression just before them.
          const operand = operands[operands.length - 1] as ObservationExpression;
          const qualifier = this.parseQualifier();
          operands[operands.length - 1] = {
            kind: 'qualified',
            qualifier,
            operand,
            start: operand.start,
            end: qualifier.end,
          };
          continue;
        }
        const code = opCode(level, word);
        if (code !== 0) {
          const base = frames.at(top + 3);
          while (ops.length > base && ops.at(ops.length - 1) >= code) reduce(operands, ops.pop());
          ops.push(code);
          lx.next();
          expectOperand = true;
          continue;
        }
      }

      const close = frames.at(top + 1);
      if (k === close) {
        const base = frames.at(top + 3);
        while (ops.length > base) reduce(operands, ops.pop());
        if (close === Tok.EOF) {
          return {
            kind: 'pattern',
            stixVersion: this.version,
            root: operands[0] as ObservationExpression,
            comparisons: this.comparisons,
            observations: this.observations,
            start: 0,
            end: this.src.length,
          };
        }
        if (close === Tok.RBRACK) {
          const observation: Observation = {
            kind: 'observation',
            index: this.observations.length,
            expression: operands[operands.length - 1] as ComparisonExpression,
            start: frames.at(top + 2),
            end: lx.end,
          };
          this.observations.push(observation);
          operands[operands.length - 1] = observation;
        }
        frames.length -= 4;
        lx.next();
        continue;
      }
      this.unexpected(expectedAfterOperand(level, close));
    }
  }

  // Read through methods: TypeScript would otherwise keep a narrowed token kind across lx.next().
  private kind(): number {
    return this.lx.kind;
  }

  private text(): string {
    return this.lx.text;
  }

  private unexpected(expected: string): never {
    const lx = this.lx;
    const found = this.kind() === Tok.EOF ? 'end of pattern' : `'${truncate(lx.raw())}'`;
    throw new StixPatternError(`expected ${expected}, found ${found}`, lx.start);
  }

  private expectKeyword(word: string): void {
    if (this.kind() !== Tok.KEYWORD || this.text() !== word) this.unexpected(word);
    this.lx.next();
  }

  private parseQualifier(): Qualifier {
    const lx = this.lx;
    const start = lx.start;
    const word = lx.text;
    lx.next();
    if (word === 'WITHIN') {
      if ((this.kind() !== Tok.INT && this.kind() !== Tok.FLOAT) || this.text().charCodeAt(0) === 45) {
        this.unexpected('a non-negative number of seconds');
      }
      const raw = lx.text;
      lx.next();
      const end = lx.end;
      this.expectKeyword('SECONDS');
      return { type: 'WITHIN', seconds: Number(raw), raw, start, end };
    }
    if (word === 'REPEATS') {
      if (this.kind() !== Tok.INT || this.text().charCodeAt(0) === 45)
        this.unexpected('a non-negative integer');
      const raw = lx.text;
      lx.next();
      const end = lx.end;
      this.expectKeyword('TIMES');
      return { type: 'REPEATS', times: Number(raw), raw, start, end };
    }
    // START t'..' STOP t'..'
    if (this.kind() !== Tok.TIMESTAMP) this.unexpected("a timestamp t'...'");
    const startTime = lx.text;
    lx.next();
    this.expectKeyword('STOP');
    if (this.kind() !== Tok.TIMESTAMP) this.unexpected("a timestamp t'...'");
    const stopTime = lx.text;
    const end = lx.end;
    lx.next();
    return { type: 'START_STOP', startTime, stopTime, start, end };
  }

  private parseComparison(): Comparison {
    const lx = this.lx;
    const start = lx.start;
    let negated = false;
    if (this.kind() === Tok.KEYWORD && (this.text() === 'EXISTS' || this.text() === 'NOT')) {
      if (this.version === '2.0') lx.fail('EXISTS is not part of STIX 2.0 patterns');
      if (this.text() === 'NOT') {
        negated = true;
        lx.next();
        if (this.kind() !== Tok.KEYWORD || this.text() !== 'EXISTS') {
          this.unexpected("EXISTS (NOT stands after the object path: 'type:path NOT = value')");
        }
      }
      lx.next();
      const path = this.parsePath();
      return this.comparison(start, path.end, path, 'EXISTS', 'EXISTS', negated, null);
    }
    const path = this.parsePath();
    if (this.kind() === Tok.KEYWORD && this.text() === 'NOT') {
      negated = true;
      lx.next();
    }
    let operator: ComparisonOperator;
    const operatorRaw = lx.text;
    if (this.kind() === Tok.OP) {
      operator =
        operatorRaw === '==' ? '=' : operatorRaw === '<>' ? '!=' : (operatorRaw as ComparisonOperator);
    } else if (this.kind() === Tok.KEYWORD && (operatorRaw === 'IN' || STRING_OPS.has(operatorRaw))) {
      operator = operatorRaw as ComparisonOperator;
    } else {
      this.unexpected(negated ? 'a comparison operator after NOT' : 'a comparison operator');
    }
    lx.next();
    let value: Literal | SetLiteral;
    if (operator === 'IN') {
      value = this.parseSet();
    } else if (STRING_OPS.has(operator)) {
      if (this.kind() !== Tok.STRING) this.unexpected(`a string literal after ${operator}`);
      value = this.parseLiteral();
    } else {
      if (ORDER_OPS.has(operator) && this.kind() === Tok.BOOL)
        this.unexpected(`an orderable literal after ${operator}`);
      value = this.parseLiteral();
    }
    return this.comparison(start, value.end, path, operator, operatorRaw, negated, value);
  }

  private comparison(
    start: number,
    end: number,
    path: ObjectPath,
    operator: ComparisonOperator,
    operatorRaw: string,
    negated: boolean,
    value: Literal | SetLiteral | null,
  ): Comparison {
    const c: Comparison = {
      kind: 'comparison',
      index: this.comparisons.length,
      // The enclosing observation is pushed when its ']' is reached; it gets the next index.
      observation: this.observations.length,
      path,
      operator,
      operatorRaw,
      negated,
      value,
      start,
      end,
    };
    this.comparisons.push(c);
    return c;
  }

  private parsePath(): ObjectPath {
    const lx = this.lx;
    const start = lx.start;
    if (this.kind() !== Tok.IDENT) this.unexpected('an object type');
    const objectType = lx.text;
    lx.next();
    if (this.kind() !== Tok.COLON) this.unexpected("':' after the object type");
    lx.next();
    const steps: PathStep[] = [this.parseKey()];
    for (;;) {
      if (this.kind() === Tok.DOT) {
        lx.next();
        steps.push(this.parseKey());
      } else if (this.kind() === Tok.LBRACK) {
        const stepStart = lx.start;
        lx.next();
        let step: PathStep;
        if (this.kind() === Tok.STAR) {
          step = { kind: 'any-index', start: stepStart, end: 0 };
        } else if (this.kind() === Tok.INT) {
          step = { kind: 'index', index: Number(this.text()), start: stepStart, end: 0 };
        } else {
          this.unexpected("a list index (an integer or '*')");
        }
        lx.next();
        if (this.kind() !== Tok.RBRACK) this.unexpected("']' after the list index");
        step.end = lx.end;
        lx.next();
        steps.push(step);
      } else {
        break;
      }
    }
    return { objectType, steps, start, end: steps[steps.length - 1]!.end };
  }

  private parseKey(): PathStep {
    const lx = this.lx;
    const start = lx.start;
    const end = lx.end;
    if (this.kind() === Tok.STRING) {
      const key = lx.text;
      lx.next();
      return { kind: 'key', key, quoted: true, start, end };
    }
    if (this.kind() === Tok.IDENT) {
      if (lx.hyphen) lx.fail(`a property name with '-' must be quoted: '${truncate(this.text())}'`);
      const key = lx.text;
      lx.next();
      return { kind: 'key', key, quoted: false, start, end };
    }
    this.unexpected('a property name (identifier or quoted string)');
  }

  private parseSet(): SetLiteral {
    const lx = this.lx;
    const start = lx.start;
    if (this.kind() !== Tok.LPAREN) this.unexpected("'(' to open the IN set");
    lx.next();
    const elements: Literal[] = [];
    if (this.kind() !== Tok.RPAREN) {
      for (;;) {
        elements.push(this.parseLiteral());
        if (this.kind() === Tok.COMMA) {
          lx.next();
          continue;
        }
        if (this.kind() !== Tok.RPAREN) this.unexpected("',' or ')' in the IN set");
        break;
      }
    }
    const end = lx.end;
    lx.next();
    return { type: 'set', elements, start, end };
  }

  private parseLiteral(): Literal {
    const lx = this.lx;
    const start = lx.start;
    const end = lx.end;
    let lit: Literal;
    switch (this.kind()) {
      case Tok.STRING:
        lit = { type: 'string', value: this.text(), raw: lx.raw(), start, end };
        break;
      case Tok.INT:
        lit = { type: 'int', value: Number(this.text()), raw: this.text(), start, end };
        break;
      case Tok.FLOAT:
        lit = { type: 'float', value: Number(this.text()), raw: this.text(), start, end };
        break;
      case Tok.BOOL:
        lit = { type: 'bool', value: this.text() === 'true', raw: this.text(), start, end };
        break;
      case Tok.BINARY:
        lit = { type: 'binary', value: this.text(), raw: lx.raw(), start, end };
        break;
      case Tok.HEX:
        lit = { type: 'hex', value: this.text(), raw: lx.raw(), start, end };
        break;
      case Tok.TIMESTAMP:
        lit = { type: 'timestamp', value: this.text(), raw: lx.raw(), start, end };
        break;
      default:
        this.unexpected('a literal value');
    }
    lx.next();
    return lit;
  }
}

/** Growable stack of 32-bit integers (typed storage: no boxing, cheap growth). */
class IntStack {
  private data = new Int32Array(64);
  length = 0;

  private grow(): void {
    const next = new Int32Array(this.data.length * 2);
    next.set(this.data);
    this.data = next;
  }

  push(v: number): void {
    if (this.length === this.data.length) this.grow();
    this.data[this.length++] = v;
  }

  push4(a: number, b: number, c: number, d: number): void {
    if (this.length + 4 > this.data.length) this.grow();
    const data = this.data;
    const n = this.length;
    data[n] = a;
    data[n + 1] = b;
    data[n + 2] = c;
    data[n + 3] = d;
    this.length = n + 4;
  }

  pop(): number {
    return this.data[--this.length]!;
  }

  /** Empty it, dropping a large buffer left by a huge pattern. */
  reset(): this {
    this.length = 0;
    if (this.data.length > 4096) this.data = new Int32Array(64);
    return this;
  }

  at(i: number): number {
    return this.data[i]!;
  }
}

const FRAMES = new IntStack();
const OPS = new IntStack();

function reduce(operands: Node[], code: number): void {
  const right = operands.pop()!;
  const left = operands.pop()!;
  const operator = OP_NAMES[code]!;
  if (code < OP_C_OR) {
    operands.push({
      kind: 'observation-operation',
      operator,
      left: left as ObservationExpression,
      right: right as ObservationExpression,
      start: left.start,
      end: right.end,
    });
  } else {
    operands.push({
      kind: 'comparison-operation',
      operator: operator as 'AND' | 'OR',
      left: left as ComparisonExpression,
      right: right as ComparisonExpression,
      start: left.start,
      end: right.end,
    });
  }
}

function expectedAfterOperand(level: number, closeToken: number): string {
  const close = closeToken === Tok.EOF ? 'end of pattern' : closeToken === Tok.RBRACK ? "']'" : "')'";
  return level === LEVEL_OBSERVATION
    ? `AND, OR, FOLLOWEDBY, WITHIN, REPEATS, START or ${close}`
    : `AND, OR or ${close}`;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
