// Sync's own errors. The failure policy a SekoiaPort error carries is the Sekoia client's vocabulary (ErrorPolicy,
// policyOf in packages/sekoia/src/errors.ts), read as thrown: packages/sync/README.md "Failure policy".

/** A collection read lost its lock (another reader has the generation now). */
export class LockLostError extends Error {
  override name = 'LockLostError';
}

/** A collection read stopped by its abort signal (shutdown, generation superseded). */
export class ReadAbortedError extends Error {
  override name = 'ReadAbortedError';
}
