import {
  type SekoiaSimulator,
  type SekoiaSimulatorOptions,
  startSekoiaSimulator,
} from '../src/sekoia/index.ts';

/** Frozen simulator clock, so dates in the reference's examples stay in the future and answers are exact. */
export const T0 = Date.parse('2026-06-01T00:00:00.000Z');
export const PREFIX = '/api/v2/inthreat/ioc-collections';

export function startSim(opts: SekoiaSimulatorOptions = {}): Promise<SekoiaSimulator> {
  return startSekoiaSimulator({ clockStartMs: T0, clockFrozen: true, ...opts });
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are inspected freely in tests.
  body: any;
}

/** One request over real HTTP. `path` is relative to the API prefix unless it starts with `/`. */
export async function call(
  sim: SekoiaSimulator,
  method: string,
  path: string,
  body?: unknown,
  opts: { key?: string | null; raw?: string; signal?: AbortSignal } = {},
): Promise<Answer> {
  const url = path.startsWith('/') ? `${sim.url}${path}` : `${sim.url}${PREFIX}/${path}`;
  const key = opts.key === undefined ? sim.apiKey : opts.key;
  const res = await fetch(url, {
    method,
    headers: {
      ...(key !== null ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined || opts.raw !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: opts.signal,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** POST …/{collection}/indicators with the given values and default fields. */
export function createBatch(
  sim: SekoiaSimulator,
  values: string[],
  defaultFields: Record<string, unknown> = {},
  collectionId = sim.collectionId,
): Promise<Answer> {
  return call(sim, 'POST', `${collectionId}/indicators`, {
    default_fields: defaultFields,
    indicators: values.map((value) => ({ value })),
  });
}

export function control(sim: SekoiaSimulator, method: string, path: string, body?: unknown): Promise<Answer> {
  return call(sim, method, `/_sim/${path}`, body, { key: null });
}
