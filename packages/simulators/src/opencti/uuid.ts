import { createHash } from 'node:crypto';

/** OpenCTI derives SCO and indicator/identity standard ids with this namespace (checked against real output). */
export const OASIS_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';

function format(bytes: Uint8Array): string {
  const x = Buffer.from(bytes).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function uuidv5(name: string, namespace = OASIS_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  return format(b);
}

/** JSON with sorted keys, as OpenCTI canonicalises the contributing properties before hashing them. */
export function canonicalJson(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`).join(',')}}`;
}

/** OpenCTI's indicator standard id: `indicator--uuidv5({"pattern": …})`. */
export function indicatorStandardId(pattern: string): string {
  return `indicator--${uuidv5(canonicalJson({ pattern }))}`;
}

/** OpenCTI's identity standard id: name lower-cased and trimmed, keys sorted. */
export function identityStandardId(name: string, identityClass: string): string {
  return `identity--${uuidv5(canonicalJson({ identity_class: identityClass, name: name.trim().toLowerCase() }))}`;
}

/** A seeded generator of random-looking v4 UUIDs (sfc32), so a scenario replays with the same internal ids. */
export function seededUuids(seed: number): () => string {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ (seed * 31);
  let c = 0xb7e15162;
  let d = seed | 0;
  const next = () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return () => {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) {
      const v = next();
      bytes[i] = v & 0xff;
      bytes[i + 1] = (v >>> 8) & 0xff;
      bytes[i + 2] = (v >>> 16) & 0xff;
      bytes[i + 3] = (v >>> 24) & 0xff;
    }
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
    return format(bytes);
  };
}
