/**
 * Internationalised domain names (IDN): which labels are refused, and their ASCII (`xn--`) form.
 *
 * Sekoia.io receives IDNs in their `xn--` form (the DNS form, and what a resolver or proxy log shows). Labels
 * are checked against IDNA 2008 (RFC 5891–5893) as far as the JavaScript Unicode properties allow, with no
 * dependency: RFC 5892 derives PVALID mostly from general categories, so a label's non-ASCII characters must
 * be lower-case or other letters, modifier letters, combining marks or decimal digits. Symbols and emoji
 * (`😀.example`), punctuation, spaces, controls and format characters (bidi overrides such as U+202E, zero-width
 * joiners) are refused with the offending code point named. The bidi rule (RFC 5893) is approximated: a label
 * with right-to-left letters must not also hold left-to-right letters. The conversion itself is Node's
 * `url.domainToASCII` (UTS-46, non-transitional: `faß.de` → `xn--fa-hia.de`, as IDNA 2008), only applied to
 * labels that passed these checks, since UTS-46 alone accepts emoji.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

/** One code point allowed in an IDN label beyond ASCII (a one-character class: no backtracking). */
const PVALID = /^[\p{Ll}\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}]$/u;
const MARK = /^\p{M}$/u;
const LETTER = /^\p{L}$/u;
const RTL_LETTER =
  /^[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}]$/u;

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why a (lower-cased, NFC) Unicode label is not a valid IDNA 2008 label, or undefined when it is. */
export function idnLabelProblem(label: string): string | undefined {
  const chars = [...label];
  for (const ch of chars) {
    if (ch.charCodeAt(0) < 0x80) continue;
    if (!PVALID.test(ch)) return `${codePoint(ch)} is not allowed in a domain name (IDNA 2008)`;
  }
  if (MARK.test(chars[0]!)) return `a label cannot start with a combining mark (${codePoint(chars[0]!)})`;
  if (label.startsWith('-') || label.endsWith('-'))
    return 'an internationalised label cannot start or end with a hyphen';
  if (label.slice(2, 4) === '--') return "'--' in the 3rd and 4th positions is reserved (IDNA 2008)";
  const rtl = chars.some((c) => RTL_LETTER.test(c));
  if (rtl && chars.some((c) => LETTER.test(c) && !RTL_LETTER.test(c)))
    return 'right-to-left and left-to-right letters in one label (IDNA 2008 bidi rule)';
  return undefined;
}

export type IdnResult = { ok: true; ascii: string } | { ok: false; reason: string };

/**
 * A lower-cased domain whose labels may be Unicode or `xn--`: the ASCII form, or why it is refused. A domain
 * with neither comes back as it is.
 */
export function idnToAscii(domain: string): IdnResult {
  const labels = domain.split('.');
  let international = false;
  for (const label of labels) {
    let unicode = label;
    if (label.startsWith('xn--')) {
      unicode = domainToUnicode(label);
      if (unicode === '' || unicode === label)
        return { ok: false, reason: `invalid punycode label ${label}` };
      international = true;
    } else if ([...label].some((c) => c.charCodeAt(0) >= 0x80)) {
      international = true;
    } else continue;
    const problem = idnLabelProblem(unicode.normalize('NFC'));
    if (problem) return { ok: false, reason: problem };
  }
  if (!international) return { ok: true, ascii: domain };
  const ascii = domainToASCII(domain.normalize('NFC'));
  if (ascii === '') return { ok: false, reason: 'not a valid internationalised domain name (UTS-46)' };
  return { ok: true, ascii };
}
