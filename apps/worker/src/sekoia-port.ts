import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type ApproximationMode,
  createDefaults,
  createItem,
  editFields,
  type IndicatorFields,
  keptValidUntil,
  observedAttributes,
  RejectedError,
  RetryableError,
  type SekoiaClient,
  SekoiaError,
  unknownBehaviours,
  type WriteChoices,
  withKnownPhases,
  writeChoices,
} from '@octi-sekoia/sekoia';
import type { Budget, FoundIndicator, SekoiaPort } from '@octi-sekoia/sync';

export type Endpoint =
  | 'createBatch'
  | 'edit'
  | 'revoke'
  | 'forceDelete'
  | 'searchExact'
  | 'getCollection'
  | 'countTotalIocs'
  | 'listAll';

export interface CallObserver {
  /** Every HTTP request, before it is sent (after its budget token). */
  request?(endpoint: Endpoint): void;
  /** Every call, once it ended: `status` is 'ok', the HTTP status, or the network error code. */
  call?(endpoint: Endpoint, status: string, seconds: number): void;
  /** Values per create request. */
  batch?(size: number): void;
  /** Every error a call threw (the circuit, the quota watch and the metrics look at it). */
  error?(err: unknown, endpoint: Endpoint): void;
}

interface GateStore {
  endpoint: Endpoint;
  /** Tokens the caller already took for this call (the sync engine takes one before each port call). */
  prepaid: number;
}

/**
 * One budget, every request: the sync engine takes a token before each port call, and the client's
 * `beforeRequest` takes one for every further request of that call (search pages, the quota check after a
 * refused create, the collection GET after a 404) and for calls made outside the engine (probe, usage).
 */
export class RequestGate {
  private readonly store = new AsyncLocalStorage<GateStore>();
  /**
   * Calls running in `run`. At 0 the store is disabled: an enabled AsyncLocalStorage puts a promise hook on every
   * promise of the process (~0.4 µs per await), and during a recovery no Sekoia call runs while every job awaits
   * its Redis calls (worker CPU per job, bench/README.md). `run` enables it again (AsyncLocalStorage.run does).
   */
  private running = 0;

  constructor(
    private readonly budget: Budget,
    private readonly observer: CallObserver = {},
  ) {}

  /** For SekoiaClient's `beforeRequest`. */
  readonly beforeRequest = async (): Promise<void> => {
    const s = this.store.getStore();
    if (s && s.prepaid > 0) s.prepaid -= 1;
    else await this.budget.take();
    this.observer.request?.(s?.endpoint ?? 'getCollection');
  };

  /** Runs one client call, observed; `prepaid` tokens were taken by the caller. */
  async run<T>(endpoint: Endpoint, prepaid: number, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    this.running += 1;
    try {
      const out = await this.store.run({ endpoint, prepaid }, fn);
      this.observer.call?.(endpoint, 'ok', (performance.now() - t0) / 1000);
      return out;
    } catch (err) {
      this.observer.call?.(endpoint, statusOf(err), (performance.now() - t0) / 1000);
      this.observer.error?.(err, endpoint);
      throw err;
    } finally {
      this.running -= 1;
      if (this.running === 0) this.store.disable();
    }
  }
}

function statusOf(err: unknown): string {
  if (err instanceof SekoiaError) {
    if (err.status !== undefined) return String(err.status);
    if (err instanceof RetryableError && err.code) return err.code;
    return err.policy;
  }
  return 'error';
}

/**
}

/** The error with its message redacted (in place: its class and policy are what the engine acts on). */
function redacted(err: unknown, redact: ((text: string) => string) | undefined): unknown {
  if (redact && err instanceof Error) {
    err.message = redact(err.message);
    if (err.stack) err.stack = redact(err.stack);
  }
  return err;
}

export interface PortOptions {
  observer?: CallObserver;
  /**
   * Asked when Sekoia refuses a create of a single value: is the IOC quota (nearly) used up? The client tells a
   * quota refusal from a rejected value by reading count-total-iocs after the refusal, which races with revokes
   * freeing space meanwhile; a value refused then is not dead-lettered but retried later.
   */
  quotaPressure?: () => Promise<boolean>;
  /** How to write what the behaviour profile settles (read at each call: the worker loads the profile at start). */
  choices?: () => WriteChoices;
  /**
   * A write made as close to OpenCTI's state as Sekoia allows, not exactly (docs/sekoia-behaviours.md): kill
   * chain phases left out, or a `valid_until` OpenCTI removed that Sekoia keeps. Called on every such write; the
   * worker reports it once per value (Approximations).
   */
  onDegraded?: (d: {
    /** The values written (an edit's value when the engine gave it, else its indicator id). */
    subjects: string[];
    mode: ApproximationMode;
    detail: string;
  }) => void;
  /**
   * The opposite of onDegraded: a write that held exactly what `mode` would have approximated (every kill chain
   * phase sent; no `valid_until` left behind), so a value reported before is exact again (Approximations.clear).
   */
  onExact?: (d: { subjects: string[]; mode: ApproximationMode }) => void;
  /**
   * A value not desired any more was revoked (or found gone): Sekoia holds nothing of it now, so nothing of it is
   * approximated (Approximations.clear under every mode).
   */
  onGone?: (d: { subjects: string[] }) => void;
  /** Awaited before every write request (create, edit, revoke, delete): the worker's write mark (write-mark.ts). */
  beforeWrite?: () => Promise<void>;
  /**
   * Cuts every configured secret out of a text. Applied to every error message at this boundary: what Sekoia
   * answers may echo anything (a value, a description), and these messages go on into Redis (a value's
   * rejection reason, dead letters) and the logs.
   */
  redact?: (text: string) => string;
}

const SAFE_CHOICES = writeChoices(unknownBehaviours());
const WRITES = new Set<Endpoint>(['createBatch', 'edit', 'revoke', 'forceDelete']);

/**
 * The sync engine's SekoiaPort on the Sekoia client: camelCase attributes ↔ Sekoia fields by the mapping of
 * @octi-sekoia/sekoia (`fields.ts`), errors passed through with their policy (packages/sekoia/src/errors.ts: no
 * translation), the search's hits reported under the value asked for (the client already matched them
 * canonically).
 */
export function sekoiaPort(client: SekoiaClient, gate: RequestGate, opts: PortOptions = {}): SekoiaPort {
  const call = async <T>(endpoint: Endpoint, fn: () => Promise<T>): Promise<T> => {
    if (WRITES.has(endpoint)) await opts.beforeWrite?.();
    try {
      return await gate.run(endpoint, 1, fn);
    } catch (err) {
      throw redacted(err, opts.redact);
    }
  };
  const choices = () => opts.choices?.() ?? SAFE_CHOICES;
  /**
   * A write with the kill chain phases as `choices` says: under 'known-only' only known phases are sent; under
   * 'retry-known-only' a write refused (400) while carrying other phases is sent once more without them.
   */
  const phased = async <F extends Pick<IndicatorFields, 'kill_chain_phases'>, T>(
    fields: F,
    subjects: string[],
    write: (f: F) => Promise<T>,
  ): Promise<T> => {
    const mode = choices().killChains;
    const known = withKnownPhases(fields);
    const report = () =>
      opts.onDegraded?.({
        subjects,
        mode: 'custom-kill-chains-dropped',
        detail: known.dropped.map((p) => `${p.kill_chain_name}:${p.phase_name}`).join(', '),
      });
    if (mode === 'known-only' && known.dropped.length > 0) {
      const out = await write(known.fields);
      report();
      return out;
    }
    try {
      const out = await write(fields);
      opts.onExact?.({ subjects, mode: 'custom-kill-chains-dropped' });
      return out;
    } catch (err) {
      if (mode !== 'retry-known-only' || known.dropped.length === 0 || !(err instanceof RejectedError))
        throw err;
    }
    const out = await write(known.fields);
    report();
    return out;
  };
  return {
    async createBatch(fields, items) {
      const values = items.map((i) => i.value);
      opts.observer?.batch?.(values.length);
      try {
        return await call('createBatch', () =>
          phased(createDefaults(fields), values, (f) => client.createBatch(f, items.map(createItem))),
        );
      } catch (err) {
        if (
          err instanceof RejectedError &&
          values.length === 1 &&
          (await opts.quotaPressure?.().catch(() => true))
        ) {
          throw new RetryableError(
            `${err.message} (the IOC quota is nearly used up: taken for a quota refusal, retried later)`,
            { operation: 'createBatch', status: err.status },
          );
        }
        throw err;
      }
    },
    async edit(id, fields, value) {
      const subjects = [value ?? id];
      const answer = await call('edit', () =>
        phased(editFields(fields, choices().clear), subjects, (f) => client.edit(id, f)),
      );
      const kept = keptValidUntil(fields, answer);
      if (kept !== undefined) {
        opts.onDegraded?.({
          subjects,
          mode: 'valid-until-kept',
          detail: `Sekoia.io keeps valid_until ${kept}`,
        });
      } else {
        opts.onExact?.({ subjects, mode: 'valid-until-kept' });
      }
    },
    async revoke(id, value) {
      const out = await call('revoke', () => client.revoke(id));
      if (value !== undefined) opts.onGone?.({ subjects: [value] });
      return out;
    },
    forceDelete(id) {
      return call('forceDelete', () => client.forceDelete(id));
    },
    async searchExact(value): Promise<FoundIndicator[]> {
      const hits = await call('searchExact', () => client.searchExact(value));
      return hits.map((h) => {
        const attributes = observedAttributes(h.indicator);
        return { id: h.id, value, revoked: h.revoked, ...(attributes ? { attributes } : {}) };
      });
    },
  };
}
