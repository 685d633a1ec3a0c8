import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where a server listens and which configuration variables chose it (named in the refusal line). */
export interface ListenTarget {
  port: number;
  host: string;
  portVariable: string;
  /** Absent when the host is fixed by the app (the ops servers bind every interface). */
  hostVariable?: string;
}

/** A listen failure the operator fixes in the configuration: its message is the one line to print. */
export class ListenError extends Error {
  override name = 'ListenError';
}

/**
 * The operator line for a failed `listen`, or undefined when the error is not a configuration problem.
 * Pure: table-tested without sockets.
 */
export function listenProblem(err: NodeJS.ErrnoException, target: ListenTarget): string | undefined {
  const where = `${target.host}:${target.port}`;
  const hostVar = target.hostVariable ?? 'the host';
  switch (err.code) {
    case 'EADDRINUSE':
      return `${target.portVariable}: port ${target.port} is already in use on ${target.host} (another process, e.g. a second replica, listens there); choose a free port or 0 for any free port`;
    case 'EACCES':
      return `${target.portVariable}: not allowed to listen on ${where} (ports below 1024 need privileges); choose a port above 1023 or 0`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `${hostVar}: host "${target.host}" does not resolve; expected an IP address or a resolvable name such as 127.0.0.1`;
    case 'EADDRNOTAVAIL':
      return `${hostVar}: address ${target.host} is not an address of this machine; expected one of its addresses, 127.0.0.1 or 0.0.0.0`;
    default:
      return undefined;
  }
}

/** `server.listen` as a promise: resolves with the port taken, rejects with a ListenError for configuration problems. */
export async function listenOn(server: Server, target: ListenTarget): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const problem = listenProblem(err, target);
      reject(problem ? new ListenError(problem) : err);
    });
    server.listen(target.port, target.host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

/**
 * For entry points: run `start` (which listens); a ListenError becomes one line on stderr and exit 2 —
 * a configuration error like any other, not a stack trace.
 */
export async function listenOrExit<T>(start: () => Promise<T>, onExit?: () => void): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    process.stderr.write(`config error: ${err.message}\n`);
    onExit?.();
    process.exit(2);
  }
}
