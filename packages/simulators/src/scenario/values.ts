/**
 * Synthetic IOC values and the patterns that carry them. Values come from documentation and reserved ranges
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, then 198.18.0.0/15, 100.64.0.0/10 and 10.0.0.0/8 for
 * volume; IPv6 2001:db8::/32; `.example` names): they are only ever sent to simulators.
 */
import type { Rng } from './prng.ts';
import type { PatternKind } from './types.ts';

export type ValueType =
  | 'ipv4'
  | 'ipv4-cidr'
  | 'ipv6'
  | 'domain'
  | 'url'
  | 'email'
  | 'md5'
  | 'sha1'
  | 'sha256'
  | 'sha512';

/** A value as written in a pattern (`raw` may be a non-canonical spelling of `key`). */
export interface Value {
  type: ValueType;
  raw: string;
  /** Canonical-ish identity used for uniqueness. */
  key: string;
}

const TYPE_WEIGHTS: Array<[ValueType, number]> = [
  ['ipv4', 30],
  ['domain', 20],
  ['url', 15],
  ['sha256', 12],
  ['md5', 6],
  ['sha1', 4],
  ['email', 5],
  ['ipv6', 4],
  ['ipv4-cidr', 3],
  ['sha512', 1],
];

const WORDS = [
  'alpha',
  'bravo',
  'cobalt',
  'delta',
  'ember',
  'falcon',
  'granite',
  'harbor',
  'indigo',
  'jasper',
  'kepler',
  'lumen',
  'matrix',
  'nimbus',
  'onyx',
  'pylon',
  'quartz',
  'raven',
  'sierra',
  'tundra',
  'umbra',
  'vector',
  'willow',
  'xenon',
  'yonder',
  'zephyr',
  'update',
  'cdn',
  'login',
  'secure',
];

const DOC_RANGES = ['192.0.2', '198.51.100', '203.0.113'];

export const HASH_LENGTH: Partial<Record<ValueType, number>> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/** Pattern object path of a value type; hash keys are written the ways real feeds write them. */
function pathOf(type: ValueType, rng: Rng): string {
  switch (type) {
    case 'ipv4':
    case 'ipv4-cidr':
      return 'ipv4-addr:value';
    case 'ipv6':
      return 'ipv6-addr:value';
    case 'domain':
      return 'domain-name:value';
    case 'url':
      return 'url:value';
    case 'email':
      return 'email-addr:value';
    case 'md5':
      return 'file:hashes.MD5';
    case 'sha1':
      return rng.chance(0.5) ? "file:hashes.'SHA-1'" : 'file:hashes.SHA1';
    case 'sha256':
      return rng.chance(0.8) ? "file:hashes.'SHA-256'" : 'file:hashes.SHA256';
    case 'sha512':
      return "file:hashes.'SHA-512'";
  }
}

/** STIX string literal body: only `\` and `'` are escaped. */
export function escapeStix(s: string): string {
  if (!s.includes("'") && !s.includes('\\')) return s;
  return s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

function randomCase(s: string, rng: Rng): string {
  let out = '';
  for (const c of s) out += rng.chance(0.3) ? c.toUpperCase() : c;
  return out;
}

export class ValueFactory {
  private readonly used = new Set<string>();
  /** Values reused across indicators, per type. */
  private readonly pool = new Map<ValueType, Value[]>();
  private poolSize = 0;
  private readonly poolMax: number;
  private serial = 0;
  private readonly typeTables = new Map<string, { types: ValueType[]; weights: number[] }>();

  constructor(
    private readonly rng: Rng,
    expectedIndicators: number,
  ) {
    this.poolMax = Math.max(50, Math.floor(expectedIndicators / 50));
  }

  /** A unique token for rule names and other never-repeated text. */
  token(): string {
    return `${(this.serial++).toString(36)}${this.rng.hex(6)}`;
  }

  randomType(only?: readonly ValueType[]): ValueType {
    const key = only ? only.join() : '';
    let table = this.typeTables.get(key);
    if (!table) {
      const rows = only ? TYPE_WEIGHTS.filter(([t]) => only.includes(t)) : TYPE_WEIGHTS;
      table = { types: rows.map(([t]) => t), weights: rows.map(([, w]) => w) };
      this.typeTables.set(key, table);
    }
    return table.types[this.rng.weighted(table.weights)]!;
  }

  /** A value of `type`: from the shared pool with probability `shared`, else never seen before. */
  draw(type: ValueType, shared: number): { value: Value; shared: boolean } {
    if (this.rng.chance(shared)) {
      const candidates = this.pool.get(type);
      if (candidates && candidates.length > 0) {
        return { value: this.respell(this.rng.pick(candidates)), shared: true };
      }
    }
    const value = this.fresh(type);
    if (this.poolSize < this.poolMax && this.rng.chance(0.1)) {
      const list = this.pool.get(type) ?? [];
      list.push(value);
      this.pool.set(type, list);
      this.poolSize++;
    }
    return { value, shared: false };
  }

  /** A value never used before (unique canonical key). */
  fresh(type: ValueType): Value {
    for (;;) {
      const v = this.candidate(type);
      if (this.used.has(v.key)) continue;
      this.used.add(v.key);
      return v;
    }
  }

  /** Another spelling of the same canonical value, sometimes (what different feeds send). */
  private respell(v: Value): Value {
    const r = this.rng;
    if (!r.chance(0.3)) return v;
    switch (v.type) {
      case 'ipv4':
        return { ...v, raw: `${v.key}/32` };
      case 'domain':
      case 'email':
      case 'md5':
      case 'sha1':
      case 'sha256':
      case 'sha512':
        return { ...v, raw: randomCase(v.key, r) };
      case 'url':
        return { ...v, raw: v.key.replace(/^https?/, (s) => s.toUpperCase()) };
      case 'ipv6':
        return { ...v, raw: v.key.toUpperCase() };
      default:
        return v;
    }
  }

  private candidate(type: ValueType): Value {
    const r = this.rng;
    switch (type) {
      case 'ipv4': {
        let ip: string;
        if (r.chance(0.1)) ip = `${r.pick(DOC_RANGES)}.${r.int(1, 254)}`;
        else {
          const range = r.int(0, 2);
          if (range === 0) ip = `198.${r.int(18, 19)}.${r.int(0, 255)}.${r.int(1, 254)}`;
          else if (range === 1) ip = `100.${r.int(64, 127)}.${r.int(0, 255)}.${r.int(1, 254)}`;
          else ip = `10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
        }
        return { type, raw: ip, key: ip };
      }
      case 'ipv4-cidr': {
        const cidr = r.chance(0.7)
          ? `10.${r.int(0, 255)}.${r.int(0, 255)}.0/24`
          : `100.${r.int(64, 127)}.${r.int(0, 255)}.0/24`;
        return { type, raw: cidr, key: cidr };
      }
      case 'ipv6': {
        const g = () => r.int(1, 0xffff).toString(16);
        const key = `2001:db8:${g()}:${g()}:${g()}::${g()}`;
        return { type, raw: r.chance(0.1) ? key.toUpperCase() : key, key };
      }
      case 'domain': {
        const key = r.chance(0.5)
          ? `${r.pick(WORDS)}-${r.pick(WORDS)}${r.int(0, 99999)}.example`
          : `${r.pick(WORDS)}.${r.pick(WORDS)}${r.int(0, 99999)}.example`;
        return { type, raw: r.chance(0.1) ? randomCase(key, r) : key, key };
      }
      case 'url': {
        const scheme = r.chance(0.7) ? 'https' : 'http';
        const host = `${r.pick(WORDS)}${r.int(0, 99999)}.example`;
        let path = `/${r.pick(WORDS)}/${r.int(0, 999999)}`;
        const extra = r.int(0, 9);
        if (extra === 0) path += `?id=${r.hex(8)}&ref=${r.pick(WORDS)}`;
        else if (extra === 1) path += `#${r.pick(WORDS)}`;
        else if (extra === 2) path += "/it's";
        const key = `${scheme}://${host}${path}`;
        const raw = r.chance(0.05) ? `${scheme.toUpperCase()}://${host.toUpperCase()}${path}` : key;
        return { type, raw, key };
      }
      case 'email': {
        const key = `${r.pick(WORDS)}.${r.pick(WORDS)}${r.int(0, 99999)}@${r.pick(WORDS)}.example`;
        return { type, raw: r.chance(0.1) ? randomCase(key, r) : key, key };
      }
      default: {
        const key = r.hex(HASH_LENGTH[type] ?? 64);
        return { type, raw: r.chance(0.1) ? key.toUpperCase() : key, key };
      }
    }
  }
}

export interface BuiltPattern {
  pattern: string;
  patternType: string;
  kind: PatternKind;
  /** How many values came from the shared pool. */
  sharedValues: number;
}

function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const NON_STIX_TYPES = ['yara', 'sigma', 'snort', 'suricata'] as const;
const OPERATORS = [' = ', ' = ', ' = ', '=', ' == '];
const IN_TYPES: readonly ValueType[] = ['ipv4', 'domain', 'url', 'email', 'sha256'];
const NEGATED_TYPES: readonly ValueType[] = ['ipv4', 'domain', 'url'];
const INVALID_TYPES: readonly ValueType[] = ['ipv4', 'domain'];
const HASH_TYPES: readonly ValueType[] = ['md5', 'sha1', 'sha256', 'sha512'];

/** Builds patterns of a kind; `shared` = probability that a value is drawn from the shared pool. */
export class PatternFactory {
  /** State of the pattern being built (no closures: this runs hundreds of thousands of times). */
  private shared = 0;
  private sharedValues = 0;

  constructor(
    private readonly rng: Rng,
    private readonly values: ValueFactory,
  ) {}

  private draw(type: ValueType): Value {
    const d = this.values.draw(type, this.shared);
    if (d.shared) this.sharedValues++;
    return d.value;
  }

  private cmp(v: Value, operator = this.rng.pick(OPERATORS)): string {
    return `${pathOf(v.type, this.rng)}${operator}'${escapeStix(v.raw)}'`;
  }

  build(kind: PatternKind, shared: number): BuiltPattern {
    this.shared = shared;
    this.sharedValues = 0;
    const built = this.text(kind);
    const patternType = typeof built === 'string' ? 'stix' : built.type;
    const pattern = typeof built === 'string' ? built : built.text;
    return { pattern, patternType, kind, sharedValues: this.sharedValues };
  }

  private text(kind: PatternKind): string | { type: string; text: string } {
    const r = this.rng;
    switch (kind) {
      case 'single':
        return `[${this.cmp(this.draw(this.values.randomType()))}]`;
      case 'or': {
        const parts: string[] = [];
        for (let i = r.int(2, 4); i > 0; i--) parts.push(this.cmp(this.draw(this.values.randomType())));
        return r.chance(0.5) ? `[${parts.join(' OR ')}]` : `[${parts.join('] OR [')}]`;
      }
      case 'in': {
        const type = this.values.randomType(IN_TYPES);
        const items: string[] = [];
        for (let i = r.int(2, 5); i > 0; i--) items.push(`'${escapeStix(this.draw(type).raw)}'`);
        return `[${pathOf(type, r)} IN (${items.join(', ')})]`;
      }
      case 'hash-and':
      case 'hashes': {
        const algs = shuffle([...HASH_TYPES], r).slice(0, r.int(2, 3));
        const parts = algs.map((t) => this.cmp(this.draw(t)));
        if (kind === 'hashes') return `[${parts.join(' OR ')}]`;
        const extra = r.int(0, 2);
        if (extra === 1) parts.push(`file:size = ${r.int(1000, 9_999_999)}`);
        else if (extra === 2) parts.push(`file:name = '${r.pick(WORDS)}_${this.values.token()}.exe'`);
        return `[${parts.join(' AND ')}]`;
      }
      case 'non-stix': {
        const type = r.pick(NON_STIX_TYPES);
        const t = this.values.token();
        const domain = this.draw('domain').raw;
        const sid = r.int(1_000_000, 9_999_999);
        switch (type) {
          case 'yara':
            return { type, text: `rule sim_${t} { strings: $a = "${domain}" condition: $a }` };
          case 'sigma':
            return {
              type,
              text: `title: Simulated ${t}\nlogsource:\n  category: dns\ndetection:\n  selection:\n    query: '${domain}'\n  condition: selection`,
            };
          case 'snort':
            return {
              type,
              text: `alert tcp any any -> ${this.draw('ipv4').raw} 443 (msg:"sim ${t}"; sid:${sid}; rev:1;)`,
            };
          default:
            return {
              type,
              text: `alert dns any any -> any any (msg:"sim ${t}"; dns.query; content:"${domain}"; sid:${sid}; rev:1;)`,
            };
        }
      }
      case 'negated':
        return `[${this.cmp(this.draw(this.values.randomType(NEGATED_TYPES)), r.pick([' != ', ' <> ']))}]`;
      case 'like':
        return `[domain-name:value LIKE '%.${escapeStix(this.draw('domain').raw)}']`;
      case 'and-only':
        return `[${this.cmp(this.draw('ipv4'))}] AND [${this.cmp(this.draw('domain'))}]`;
      case 'invalid': {
        const v = this.draw(this.values.randomType(INVALID_TYPES));
        const variant = r.int(0, 2);
        // Unclosed bracket; double quotes (not a STIX string); lower-case `and` (an identifier, not AND).
        if (variant === 0) return `[${this.cmp(v)}`;
        if (variant === 1) return `[${pathOf(v.type, r)} = "${v.raw}"]`;
        return `[${this.cmp(v)}] and [${this.cmp(this.draw('domain'))}]`;
      }
    }
  }
}
