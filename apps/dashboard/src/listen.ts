import { createServer } from 'node:http';
import { type ListenTarget, listenOn } from '@octi-sekoia/ops';
import type { Express } from 'express';

/** Serves the app; a port in use or a host that does not resolve rejects with a ListenError naming the variable. */
export async function listen(app: Express, target: ListenTarget) {
  const server = createServer(app);
  const port = await listenOn(server, target);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
