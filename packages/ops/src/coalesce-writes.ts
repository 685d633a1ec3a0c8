import type { Cluster, Redis } from 'ioredis';

/** The part of an ioredis connection coalesceWrites touches (its socket, and the method every command goes through). */
interface Connection {
  stream?: { writable?: boolean; cork(): void; uncork(): void };
  sendCommand(...args: unknown[]): unknown;
}

const patched = new WeakSet<object>();

/**
 * Makes the commands a connection sends within one tick of the event loop go out in one socket write (a `writev`)
 * instead of one `write` system call each: the socket is corked at the tick's first command and uncorked on
 * `process.nextTick`, after the tick's microtasks (Node runs them before the next-tick queue's later entries).
 * Order, replies and errors are those of ioredis: only the system calls change. A worker running 50 jobs at
 * once gets many replies in one socket read and sends each job's next command from the same tick: one write
 * per command cost ~40 µs of CPU per command on a loaded 2-core machine (bench/README.md, worker18b), the
 * largest single item of a worker's CPU per job. Unlike ioredis `enableAutoPipelining`, nothing waits for an
 * earlier batch's replies and no pipeline object is made. A Cluster: applied to every node connection, present
 * and future. Not for a connection in `monitor` mode (ioredis deletes its own `sendCommand` on close, which would
 * drop the wrapper silently). A command sent in the same tick as `process.exit()` is not written at all (it would
 * have been before): the apps exit after closing their connections, or at the shutdown grace deadline, where an
 * unanswered command is lost either way.
 */
export function coalesceWrites(client: Redis | Cluster): void {
  if (patched.has(client)) return;
  patched.add(client);
  if ('nodes' in client && typeof client.nodes === 'function' && 'isCluster' in client && client.isCluster) {
    const cluster = client as Cluster;
    for (const node of cluster.nodes('all')) coalesceWrites(node);
    cluster.on('+node', (node: Redis) => coalesceWrites(node));
    return;
  }
  const conn = client as unknown as Connection;
  const send = conn.sendCommand;
  let corked: Connection['stream'];
  const uncork = () => {
    const s = corked;
    corked = undefined;
    s?.uncork();
  };
  conn.sendCommand = function (this: Connection, ...args: unknown[]) {
    const s = this.stream;
    if (corked === undefined && s?.writable) {
      s.cork();
      corked = s;
      process.nextTick(uncork);
    }
    return send.apply(this, args);
  };
}
