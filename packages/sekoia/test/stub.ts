import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny stand-in for Sekoia over real HTTP, for answer shapes the simulator does not produce: each test gives
 * the handler. Requests are recorded (method, path with query, parsed body).
 */
export interface StubRequest {
  method: string;
  url: URL;
  body: unknown;
}

export type StubHandler = (req: StubRequest) =>
  | { status: number; json?: unknown; text?: string; type?: string }
  | Promise<{
      status: number;
      json?: unknown;
      text?: string;
      type?: string;
    }>;

export interface Stub {
  url: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

export async function startStub(handler: StubHandler): Promise<Stub> {
  const requests: StubRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const r: StubRequest = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', 'http://stub'),
        body: raw ? JSON.parse(raw) : undefined,
      };
      requests.push(r);
      const a = await handler(r);
      if (a.json !== undefined) {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.json));
      } else {
        res.writeHead(a.status, { 'content-type': a.type ?? 'text/plain' });
        res.end(a.text ?? '');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An indicator as Sekoia lists it. */
export function listed(id: string, name: string, pattern = `[domain-name:value = '${name}']`) {
  return { id, name, pattern, revoked: false, valid_from: '2026-01-01T00:00:00Z' };
}
