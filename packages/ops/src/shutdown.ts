export interface ShutdownOptions {
  /** Called once on SIGTERM/SIGINT; should stop taking work and hand back or finish in-flight work. */
  stop: (signal: NodeJS.Signals) => Promise<void>;
  /** Hard deadline: exit non-zero if `stop` has not finished by then. */
  graceMs: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

/** SIGTERM/SIGINT → `stop()` within a bounded time → exit 0. A second signal exits at once. */
export function onShutdown({ stop, graceMs, log }: ShutdownOptions): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log?.('second signal: exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    log?.('shutting down', { signal, graceMs });
    const timer = setTimeout(() => {
      log?.('shutdown grace period exceeded: exiting', { graceMs });
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log?.('error during shutdown', { err: (err as Error)?.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
