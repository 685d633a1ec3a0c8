import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppName, ConfigError, loadConfig } from '../src/index.ts';

export const TOKEN = '0b8f7a6e-1c2d-4e3f-9a8b-7c6d5e4f3a2b';
export const API_KEY = 'sk-live-Zq8yT3vN5pLm2WxR7cD4';
export const CONNECTOR_ID = '4a0d6a3e-5c1b-4f7e-8d2a-9b3c1e5f7a90';
export const COLLECTION = 'ioc-collection--6f1b7c2d-3e4a-4b5c-8d9e-0f1a2b3c4d5e';

/** A configuration valid for every app. */
export const BASE: Record<string, string> = {
  OPENCTI_URL: 'https://opencti.example.com',
  OPENCTI_TOKEN: TOKEN,
  CONNECTOR_ID,
  CONNECTOR_NAME: 'Sekoia.io',
  CONNECTOR_SCOPE: 'Indicator',
  CONNECTOR_LIVE_STREAM_ID: '8e2c7f1a-9b3d-4c5e-a6f7-1b2c3d4e5f60',
  SEKOIA_INTEL_URL: 'https://api.sekoia.io',
  SEKOIA_INTEL_APIKEY: API_KEY,
  SEKOIA_INTEL_IOC_COLLECTION_UUID: COLLECTION,
  DASHBOARD_USERNAME: 'admin',
  DASHBOARD_PASSWORD: 'correct-horse-battery',
};

export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

export function load(app: AppName, env: Record<string, string | undefined>, configFile?: string) {
  return loadConfig(app, { env, ...(configFile ? { configFile } : {}) });
}

/** The ConfigError a load throws (fails the test if it does not throw one). */
export function problemsOf(app: AppName, env: Record<string, string | undefined>, configFile?: string) {
  try {
    load(app, env, configFile);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

export function without(env: Record<string, string>, ...names: string[]) {
  const copy = { ...env };
  for (const n of names) delete copy[n];
  return copy;
}
