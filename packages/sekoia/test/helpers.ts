import {
  type SekoiaSimulator,
  type SekoiaSimulatorOptions,
  startSekoiaSimulator,
} from '@octi-sekoia/simulators';
import { SekoiaClient, type SekoiaClientOptions } from '../src/client.ts';

/** A key that must never show up in any error message or serialisation. */
export const SECRET_KEY = 'sk-SECRET-0123456789abcdef-never-log-me';

/**
 * Stand-in for `canonicalValue` of @octi-sekoia/stix (not a dependency of this package): enough for the
 * values used in these tests (domains and hashes lower-cased, everything trimmed).
 */
export const testCanonical = (v: string) => {
  const t = v.trim();
  return t === '' ? undefined : /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : t.toLowerCase();
};

export interface Setup {
  sim: SekoiaSimulator;
  client: SekoiaClient;
  /** HTTP requests announced through beforeRequest. */
  tokens: () => number;
  close(): Promise<void>;
}

export async function setup(
  simOpts: SekoiaSimulatorOptions = {},
  clientOpts: Partial<SekoiaClientOptions> = {},
): Promise<Setup> {
  const sim = await startSekoiaSimulator({ apiKey: SECRET_KEY, ...simOpts });
  let tokens = 0;
  const client = new SekoiaClient({
    baseUrl: sim.url,
    apiKey: sim.apiKey,
    collectionId: sim.collectionId,
    timeoutMs: 5000,
    canonicalValue: testCanonical,
    beforeRequest: async () => {
      tokens++;
    },
    ...clientOpts,
  });
  return {
    sim,
    client,
    tokens: () => tokens,
    close: async () => {
      client.close();
      await sim.close();
    },
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}
