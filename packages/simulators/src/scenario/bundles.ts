import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `packages/simulators/data/`, where the real STIX bundles are copied (with their licence notes). */
export const DEFAULT_BUNDLES_DIR = fileURLToPath(new URL('../../data/', import.meta.url));

export interface BundleFile {
  name: string;
  bundle: { type: 'bundle'; objects: Array<Record<string, unknown>> };
}

/** Reads one bundle file; undefined when it is not a STIX bundle (other JSON data lives there too). */
export function readBundle(dir: string, name: string): BundleFile | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  } catch {
    return undefined;
  }
  const b = parsed as { type?: unknown; objects?: unknown };
  if (b === null || typeof b !== 'object' || b.type !== 'bundle' || !Array.isArray(b.objects))
    return undefined;
  return { name, bundle: parsed as BundleFile['bundle'] };
}

/** Every STIX bundle (`{"type":"bundle","objects":[…]}`) among the directory's `.json` files, by name. */
export function listBundles(dir: string = DEFAULT_BUNDLES_DIR): BundleFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => readBundle(dir, n))
    .filter((b): b is BundleFile => b !== undefined);
}
