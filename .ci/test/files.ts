import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const readRepoFile = (name: string) => readFileSync(join(repoRoot, name), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: compose files are free-form YAML
export type Service = Record<string, any>;
export function loadCompose(): { services: Record<string, Service>; volumes?: Record<string, unknown> } {
  return parse(readRepoFile('docker-compose.yml'), { merge: true });
}

/** Environment keys a service sets, whether written as a map or a list of KEY=VALUE. */
export function envKeys(svc: Service): string[] {
  const env = svc.environment ?? {};
  return Array.isArray(env) ? env.map((e: string) => e.split('=')[0] ?? '') : Object.keys(env);
}
