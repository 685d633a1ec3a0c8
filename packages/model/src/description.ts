/** The Python connector's description: a link to the indicator in OpenCTI. */
export const DEFAULT_DESCRIPTION_TEMPLATE = '{opencti_url}/dashboard/observations/indicators/{id}';

/** Sekoia's limit, counted in Unicode code points (not UTF-16 units). */
export const MAX_DESCRIPTION_CODE_POINTS = 500;

export const DESCRIPTION_PLACEHOLDERS = [
  'opencti_url',
  'id',
  'stix_id',
  'name',
  'description',
  'score',
  'labels',
  'pattern_type',
  'main_observable_type',
] as const;

export type DescriptionPlaceholder = (typeof DESCRIPTION_PLACEHOLDERS)[number];

/** Values for the placeholders; a missing one renders as the empty string. */
export type DescriptionVars = Partial<Record<DescriptionPlaceholder, string>>;

/** `{name}`; names are matched case-insensitively so `{OPENCTI_URL}` (the docs' spelling) works too. */
const PLACEHOLDER_RE = /\{([A-Za-z0-9_]+)\}/g;

const KNOWN = new Set<string>(DESCRIPTION_PLACEHOLDERS);

function placeholderName(raw: string): DescriptionPlaceholder | undefined {
  const name = raw.toLowerCase();
  return KNOWN.has(name) ? (name as DescriptionPlaceholder) : undefined;
}

/** The first `max` code points of `s` (never splits a surrogate pair). */
export function truncateCodePoints(s: string, max: number): string {
  // UTF-16 length >= code point count: short strings need no scan.
  if (s.length <= max) return s;
  let out = '';
  let n = 0;
  for (const cp of s) {
    if (n === max) break;
    out += cp;
    n++;
  }
  return out;
}

/** A template split once: literal text (unknown placeholders included, as written) and placeholder names. */
interface CompiledTemplate {
  template: string;
  parts: Array<{ text: string } | { name: DescriptionPlaceholder }>;
  names: ReadonlySet<DescriptionPlaceholder>;
}

/** The last template compiled: a process renders one template (its configuration) for every event. */
let compiled: CompiledTemplate | undefined;

function compile(template: string): CompiledTemplate {
  if (compiled?.template === template) return compiled;
  const parts: CompiledTemplate['parts'] = [];
  const names = new Set<DescriptionPlaceholder>();
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    const name = placeholderName(m[1]!);
    if (name === undefined) continue;
    if (m.index > last) parts.push({ text: template.slice(last, m.index) });
    parts.push({ name });
    names.add(name);
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  compiled = { template, parts, names };
  return compiled;
}

/** The known placeholders a template uses (a caller may skip computing the others' values). */
export function templatePlaceholders(template: string): ReadonlySet<DescriptionPlaceholder> {
  return compile(template).names;
}

/**
 * Renders the template in one pass (a value containing `{id}` is not expanded again) and truncates the
 * result to 500 code points. Unknown placeholders are left as written; `validateDescriptionTemplate` rejects
 * them at start-up, so they only survive here when a caller skipped validation. The template is split once
 * (not matched again for every event: issue 18).
 */
export function renderDescription(template: string, vars: DescriptionVars): string {
  let out = '';
  for (const part of compile(template).parts) out += 'text' in part ? part.text : (vars[part.name] ?? '');
  return truncateCodePoints(out, MAX_DESCRIPTION_CODE_POINTS);
}

/** The placeholders of a template that are not known, as written (`{nope}`), in order (packages/config refuses them). */
export function unknownPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER_RE)]
    .filter((m) => placeholderName(m[1]!) === undefined)
    .map((m) => m[0]);
}

/** An error text for the config layer, or undefined when the template is usable. */
export function validateDescriptionTemplate(template: string): string | undefined {
  if (typeof template !== 'string' || template.trim() === '') {
    return 'must not be empty (use a constant text to give every IOC the same description)';
  }
  const unknown = new Set(unknownPlaceholders(template));
  if (unknown.size > 0) {
    const known = DESCRIPTION_PLACEHOLDERS.map((p) => `{${p}}`).join(', ');
    return `unknown placeholder${unknown.size > 1 ? 's' : ''} ${[...unknown].join(', ')}; known: ${known}`;
  }
  return undefined;
}
