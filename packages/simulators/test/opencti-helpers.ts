/** Test helpers for the OpenCTI simulator: a raw SSE reader (exact bytes), an eventsource client, GraphQL. */
import { type IncomingHttpHeaders, request } from 'node:http';
import { ErrorEvent, EventSource } from 'eventsource';

export interface Frame {
  id?: string;
  event?: string;
  data: string;
}

/** Parses complete SSE frames (`field: value` lines, blank-line terminated); returns them and the rest. */
export function parseFrames(text: string): { frames: Frame[]; rest: string } {
  const frames: Frame[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n\n', start);
    if (end < 0) break;
    const block = text.slice(start, end);
    start = end + 2;
    const f: Frame = { data: '' };
    for (const line of block.split('\n')) {
      const i = line.indexOf(': ');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 2);
      if (field === 'id') f.id = value;
      else if (field === 'event') f.event = value;
      else if (field === 'data') f.data = value;
      else throw new Error(`unexpected SSE field ${JSON.stringify(field)}`);
    }
    frames.push(f);
  }
  return { frames, rest: text.slice(start) };
}

export interface RawStream {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  /** Everything received so far. */
  text(): string;
  /** Complete frames received so far. */
  frames(): Frame[];
  /** Resolves when the response ends: 'end' (clean EOF) or 'error' (connection reset / aborted). */
  ended: Promise<'end' | 'error'>;
  close(): void;
}

/** Opens `GET url` with node:http and records the exact bytes of the answer. */
export function openRaw(url: string, headers: Record<string, string> = {}): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = request(url, { headers }, (res) => {
      res.setEncoding('utf8');
      let settle!: (v: 'end' | 'error') => void;
      const ended = new Promise<'end' | 'error'>((r) => {
        settle = r;
      });
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => settle('end'));
      res.on('error', () => settle('error'));
      res.on('aborted', () => settle('error'));
      req.on('error', () => settle('error'));
      res.on('close', () => settle(res.complete ? 'end' : 'error'));
      resolve({
        status: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        headers: res.headers,
        text: () => text,
        frames: () => parseFrames(text).frames,
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export function streamUrl(sim: { url: string; streamId: string }, query = ''): string {
  return `${sim.url}/stream/${sim.streamId}${query}`;
}

export function auth(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...extra };
}

export interface EsMessage {
  id: string;
  event: string;
  data: string;
}

/** The eventsource 4.1.1 client with headers added by a fetch wrapper; records every event name it sees. */
export function openEventSource(url: string, headers: Record<string, string>) {
  const messages: EsMessage[] = [];
  const errors: Array<{ code?: number; message?: string }> = [];
  const sentHeaders: Array<Record<string, string>> = [];
  class Recording extends EventSource {
    override dispatchEvent(ev: Event): boolean {
      if (ev instanceof MessageEvent)
        messages.push({ id: ev.lastEventId, event: ev.type, data: String(ev.data) });
      else if (ev instanceof ErrorEvent) errors.push({ code: ev.code, message: ev.message });
      return super.dispatchEvent(ev);
    }
  }
  const es = new Recording(url, {
    fetch: (input, init) => {
      // Header names are case-insensitive: lower-case both sides so the library's Last-Event-ID replaces ours.
      const lower = (o: Record<string, string> = {}) =>
        Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
      const h = { ...lower(headers), ...lower(init?.headers as Record<string, string>) };
      sentHeaders.push(h);
      return fetch(input, { ...init, headers: h });
    },
  });
  return { es, messages, errors, sentHeaders, close: () => es.close() };
}

export async function gql(
  sim: { url: string },
  token: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sim.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

export function json(frame: Frame | EsMessage): any {
  return JSON.parse(frame.data);
}

/** Minimal RFC 6902 applier written independently of the simulator's, to check its patches. */
export function applyRfc6902(
  doc: unknown,
  ops: Array<{ op: string; path: string; value?: unknown }>,
): unknown {
  const root = { v: structuredClone(doc) } as Record<string, unknown>;
  for (const op of ops) {
    const parts = [
      'v',
      ...op.path
        .split('/')
        .slice(1)
        .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~')),
    ];
    const key = parts.pop() as string;
    let parent: any = root;
    for (const p of parts) parent = parent[p];
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else if (op.op === 'replace') parent[i] = structuredClone(op.value);
      else throw new Error(`unsupported op ${op.op}`);
    } else if (op.op === 'remove') {
      if (!(key in parent)) throw new Error(`remove of a missing path ${op.path}`);
      delete parent[key];
    } else if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !(key in parent)) throw new Error(`replace of a missing path ${op.path}`);
      parent[key] = structuredClone(op.value);
    } else throw new Error(`unsupported op ${op.op}`);
  }
  return root.v;
}
