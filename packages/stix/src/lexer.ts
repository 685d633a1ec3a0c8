import { StixPatternError } from './errors.ts';

/**
 * Hand-written lexer for STIX patterns (OASIS STIXPattern.g4 rules, longest match, keyword beats
 * identifier at equal length). No regular expressions run on the input: every token is scanned in one
 * forward pass, so lexing is linear in the input length.
 *
 * Tokens the grammar defines but the parser never accepts (`+`/`-` alone, `/`, `^`, invalid characters,
 * an identifier directly followed by a string) are reported here as errors: the verdict is the same as the
 * grammar's, and the message is clearer.
 */

export const Tok = {
  EOF: 0,
  IDENT: 1,
  KEYWORD: 2,
  STRING: 3,
  INT: 4,
  FLOAT: 5,
  BOOL: 6,
  HEX: 7,
  BINARY: 8,
  TIMESTAMP: 9,
  LBRACK: 10,
  RBRACK: 11,
  LPAREN: 12,
  RPAREN: 13,
  COLON: 14,
  DOT: 15,
  COMMA: 16,
  STAR: 17,
  OP: 18,
} as const;
export type TokKind = (typeof Tok)[keyof typeof Tok];

export const KEYWORDS: ReadonlySet<string> = new Set([
  'AND',
  'OR',
  'NOT',
  'FOLLOWEDBY',
  'LIKE',
  'MATCHES',
  'ISSUPERSET',
  'ISSUBSET',
  'EXISTS',
  'LAST',
  'IN',
  'START',
  'STOP',
  'SECONDS',
  'WITHIN',
  'REPEATS',
  'TIMES',
]);

const C_TAB = 9;
const C_SPACE = 32;
const C_BANG = 33;
const C_QUOTE = 39;
const C_LPAREN = 40;
const C_RPAREN = 41;
const C_STAR = 42;
const C_PLUS = 43;
const C_COMMA = 44;
const C_MINUS = 45;
const C_DOT = 46;
const C_SLASH = 47;
const C_0 = 48;
const C_9 = 57;
const C_COLON = 58;
const C_LT = 60;
const C_EQ = 61;
const C_GT = 62;
const C_LBRACK = 91;
const C_BACKSLASH = 92;
const C_RBRACK = 93;
const C_UNDERSCORE = 95;

/** The grammar's WS rule: ASCII and Unicode spaces. */
export function isStixSpace(c: number): boolean {
  if (c <= C_SPACE) return c === C_SPACE || (c >= C_TAB && c <= 13);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isIdentPart(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === C_UNDERSCORE;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isBase64Char(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === C_PLUS || c === C_SLASH;
}

/** Printable description of the character at `pos` for error messages. */
function describeChar(src: string, pos: number): string {
  const cp = src.codePointAt(pos) ?? 0;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0))
    return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${String.fromCodePoint(cp)}'`;
}

/**
 * Drops the backslash of each (already validated) escape in src[from, to). Copies code units into one
 * buffer rather than building a string per escape: a 1 MB literal full of escapes stays linear and cheap.
 */
function decodeEscapes(src: string, from: number, to: number): string {
  const buf = new Uint16Array(to - from);
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = src.charCodeAt(i);
    if (c === C_BACKSLASH) {
      i++;
      buf[n++] = src.charCodeAt(i);
    } else {
      buf[n++] = c;
    }
  }
  let out = '';
  for (let k = 0; k < n; k += 8192) {
    out += String.fromCharCode.apply(null, buf.subarray(k, Math.min(n, k + 8192)) as unknown as number[]);
  }
  return out;
}

export class Lexer {
  readonly src: string;
  private pos = 0;

  // The current token (mutated in place by next(): no allocation per token).
  kind: TokKind = Tok.EOF;
  start = 0;
  end = 0;
  /** Identifier/keyword/operator text, or the literal's value text (string decoded; hex/binary/timestamp content). */
  text = '';
  /** For IDENT: contains a hyphen (only allowed as an object type). */
  hyphen = false;

  constructor(src: string) {
    this.src = src;
    this.next();
  }

  /** Raw source text of the current token. */
  raw(): string {
    return this.src.slice(this.start, this.end);
  }

  fail(message: string, position: number = this.start): never {
    throw new StixPatternError(message, position);
  }

  next(): void {
    const src = this.src;
    const len = src.length;
    let p = this.pos;
    // Skip whitespace and comments.
    for (;;) {
      if (p >= len) {
        this.kind = Tok.EOF;
        this.start = len;
        this.end = len;
        this.text = '';
        this.pos = len;
        return;
      }
      const c = src.charCodeAt(p);
      if (isStixSpace(c)) {
        p++;
        continue;
      }
      if (c === C_SLASH) {
        const d = src.charCodeAt(p + 1);
        if (d === C_STAR) {
          const close = src.indexOf('*/', p + 2);
          if (close < 0) this.fail('unterminated comment', p);
          p = close + 2;
          continue;
        }
        if (d === C_SLASH) {
          p += 2;
          while (p < len) {
            const e = src.charCodeAt(p);
            if (e === 10 || e === 13) break;
            p++;
          }
          continue;
        }
      }
      break;
    }
    this.start = p;
    const c = src.charCodeAt(p);
    switch (c) {
      case C_LBRACK:
        this.single(Tok.LBRACK, p);
        return;
      case C_RBRACK:
        this.single(Tok.RBRACK, p);
        return;
      case C_LPAREN:
        this.single(Tok.LPAREN, p);
        return;
      case C_RPAREN:
        this.single(Tok.RPAREN, p);
        return;
      case C_COLON:
        this.single(Tok.COLON, p);
        return;
      case C_COMMA:
        this.single(Tok.COMMA, p);
        return;
      case C_STAR:
        this.single(Tok.STAR, p);
        return;
      case C_QUOTE:
        this.scanString(p);
        return;
      case C_EQ:
        this.op(src.charCodeAt(p + 1) === C_EQ ? '==' : '=', p);
        return;
      case C_BANG:
        if (src.charCodeAt(p + 1) === C_EQ) {
          this.op('!=', p);
          return;
        }
        this.fail("unexpected character '!' (did you mean '!='?)", p);
        break;
      case C_LT: {
        const d = src.charCodeAt(p + 1);
        this.op(d === C_EQ ? '<=' : d === C_GT ? '<>' : '<', p);
        return;
      }
      case C_GT:
        this.op(src.charCodeAt(p + 1) === C_EQ ? '>=' : '>', p);
        return;
      case C_DOT:
        if (isDigit(src.charCodeAt(p + 1))) {
          this.scanNumber(p);
          return;
        }
        this.single(Tok.DOT, p);
        return;
    }
    if (isDigit(c) || c === C_PLUS || c === C_MINUS) {
      this.scanNumber(p);
      return;
    }
    if (isLetter(c) || c === C_UNDERSCORE) {
      this.scanWord(p);
      return;
    }
    if (c === 34) this.fail('double quotes do not delimit strings in STIX patterns: use single quotes', p);
    this.fail(`unexpected character ${describeChar(src, p)}`, p);
  }

  private single(kind: TokKind, p: number): void {
    this.kind = kind;
    this.end = p + 1;
    this.pos = p + 1;
    this.text = '';
  }

  private op(text: string, p: number): void {
    this.kind = Tok.OP;
    this.text = text;
    this.end = p + text.length;
    this.pos = this.end;
  }

  /** `'...'` with the only two escapes `\'` and `\\`, decoded in one left-to-right pass. */
  private scanString(p: number): void {
    const src = this.src;
    const len = src.length;
    let i = p + 1;
    let escapes = 0;
    for (;;) {
      if (i >= len) this.fail('unterminated string literal', p);
      const c = src.charCodeAt(i);
      if (c === C_QUOTE) break;
      if (c === C_BACKSLASH) {
        const d = src.charCodeAt(i + 1);
        if (d !== C_QUOTE && d !== C_BACKSLASH) {
          this.fail("invalid escape in string literal: only \\' and \\\\ are allowed", i);
        }
        escapes++;
        i += 2;
        continue;
      }
      i++;
    }
    this.text = escapes === 0 ? src.slice(p + 1, i) : decodeEscapes(src, p + 1, i);
    this.kind = Tok.STRING;
    this.end = i + 1;
    this.pos = i + 1;
  }

  /**
   * IntPos `+? (0 | [1-9][0-9]*)`, IntNeg `- (0 | [1-9][0-9]*)`, Float `[+-]? [0-9]* . [0-9]+`.
   * A leading-zero integer such as `01` would lex as two integers, which no rule accepts: reported here.
   */
  private scanNumber(p: number): void {
    const src = this.src;
    let i = p;
    const c = src.charCodeAt(i);
    if (c === C_PLUS || c === C_MINUS) {
      i++;
      const d = src.charCodeAt(i);
      if (!isDigit(d) && !(d === C_DOT && isDigit(src.charCodeAt(i + 1)))) {
        this.fail(`unexpected character '${String.fromCharCode(c)}'`, p);
      }
    }
    const digitsStart = i;
    while (isDigit(src.charCodeAt(i))) i++;
    const digitsEnd = i;
    if (src.charCodeAt(i) === C_DOT && isDigit(src.charCodeAt(i + 1))) {
      i += 1;
      while (isDigit(src.charCodeAt(i))) i++;
      this.kind = Tok.FLOAT;
    } else {
      if (digitsEnd - digitsStart > 1 && src.charCodeAt(digitsStart) === C_0) {
        this.fail('integer literal with a leading zero', p);
      }
      this.kind = Tok.INT;
    }
    this.text = src.slice(p, i);
    this.end = i;
    this.pos = i;
  }

  /** Identifier, keyword, boolean, or the `h'..'`, `b'..'`, `t'..'` literals. */
  private scanWord(p: number): void {
    const src = this.src;
    let i = p + 1;
    let hyphen = false;
    for (;;) {
      const c = src.charCodeAt(i);
      if (isIdentPart(c)) i++;
      else if (c === C_MINUS) {
        hyphen = true;
        i++;
      } else break;
    }
    // A one-letter word right before a quote: the prefixed literal is the longer match. If it does not
    // match, the grammar would see identifier + string, which no rule accepts, so it is an error either way.
    if (i === p + 1 && src.charCodeAt(i) === C_QUOTE) {
      const letter = src.charCodeAt(p);
      if (letter === 104 /* h */) {
        this.scanHex(p);
        return;
      }
      if (letter === 98 /* b */) {
        this.scanBinary(p);
        return;
      }
      if (letter === 116 /* t */) {
        this.scanTimestamp(p);
        return;
      }
    }
    const text = src.slice(p, i);
    this.text = text;
    this.hyphen = hyphen;
    this.end = i;
    this.pos = i;
    if (hyphen) this.kind = Tok.IDENT;
    else if (text === 'true' || text === 'false') this.kind = Tok.BOOL;
    else if (KEYWORDS.has(text)) this.kind = Tok.KEYWORD;
    else this.kind = Tok.IDENT;
    if (src.charCodeAt(i) === C_QUOTE && this.kind === Tok.IDENT) {
      this.fail(`unexpected string literal after '${text}'`, i);
    }
  }

  private literalEnd(p: number, contentEnd: number, kind: TokKind): void {
    this.kind = kind;
    this.text = this.src.slice(p + 2, contentEnd);
    this.end = contentEnd + 1;
    this.pos = contentEnd + 1;
  }

  private scanHex(p: number): void {
    const src = this.src;
    let i = p + 2;
    while (isHexDigit(src.charCodeAt(i))) i++;
    if (src.charCodeAt(i) !== C_QUOTE)
      this.fail("invalid hex literal: expected hex digits and a closing '", i);
    if ((i - p - 2) % 2 !== 0) this.fail('invalid hex literal: odd number of hex digits', p);
    this.literalEnd(p, i, Tok.HEX);
  }

  private scanBinary(p: number): void {
    const src = this.src;
    let i = p + 2;
    while (isBase64Char(src.charCodeAt(i))) i++;
    let pad = 0;
    while (pad < 2 && src.charCodeAt(i) === C_EQ) {
      i++;
      pad++;
    }
    if (src.charCodeAt(i) !== C_QUOTE)
      this.fail("invalid binary literal: expected base64 and a closing '", i);
    const n = i - p - 2;
    if (n === 0 || n % 4 !== 0)
      this.fail('invalid binary literal: base64 must come in full 4-character groups', p);
    this.literalEnd(p, i, Tok.BINARY);
  }

  /** `t'YYYY-MM-DDTHH:MM:SS[.frac]Z'` with the grammar's field ranges (no calendar check). */
  private scanTimestamp(p: number): void {
    const src = this.src;
    let i = p + 2;
    const d = (k: number) => isDigit(src.charCodeAt(i + k));
    const ch = (k: number) => src.charCodeAt(i + k);
    const bad = (): never =>
      this.fail("invalid timestamp literal: expected t'YYYY-MM-DDTHH:MM:SS[.fraction]Z'", p);
    if (!(d(0) && d(1) && d(2) && d(3) && ch(4) === C_MINUS)) bad();
    // month 01-12
    const m0 = ch(5);
    const m1 = ch(6);
    if (!((m0 === C_0 && m1 >= 49 && m1 <= C_9) || (m0 === 49 && m1 >= C_0 && m1 <= 50))) bad();
    if (ch(7) !== C_MINUS) bad();
    // day 01-31
    const d0 = ch(8);
    const d1 = ch(9);
    if (
      !(
        (d0 === C_0 && d1 >= 49 && d1 <= C_9) ||
        ((d0 === 49 || d0 === 50) && isDigit(d1)) ||
        (d0 === 51 && (d1 === C_0 || d1 === 49))
      )
    ) {
      bad();
    }
    if (ch(10) !== 84 /* T */) bad();
    // hour 00-23
    const h0 = ch(11);
    const h1 = ch(12);
    if (!(((h0 === C_0 || h0 === 49) && isDigit(h1)) || (h0 === 50 && h1 >= C_0 && h1 <= 51))) bad();
    if (ch(13) !== C_COLON) bad();
    // minute 00-59
    if (!(ch(14) >= C_0 && ch(14) <= 53 && d(15))) bad();
    if (ch(16) !== C_COLON) bad();
    // second 00-60
    const s0 = ch(17);
    const s1 = ch(18);
    if (!((s0 >= C_0 && s0 <= 53 && isDigit(s1)) || (s0 === 54 && s1 === C_0))) bad();
    i += 19;
    if (src.charCodeAt(i) === C_DOT) {
      i++;
      if (!isDigit(src.charCodeAt(i))) bad();
      while (isDigit(src.charCodeAt(i))) i++;
    }
    if (src.charCodeAt(i) !== 90 /* Z */ || src.charCodeAt(i + 1) !== C_QUOTE) bad();
    this.literalEnd(p, i + 1, Tok.TIMESTAMP);
  }
}
