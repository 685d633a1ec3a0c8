/**
 * pycti's stream connector state (`{"start_from": …, "recover_until": …}`) as stored in OpenCTI's
 * `connector_state` string (docs/opencti-api.md).
 */
export interface ConnectorState {
  /** The stream id to resume after (exclusive), e.g. `1732615205120-0` or `0-0`. */
  start_from: string;
  /** ISO date of the recovery end, or null when no recovery applies. */
  recover_until: string | null;
}

/**
 * What OpenCTI has stored:
 * - `state`: a usable pycti state;
 * - `reset`: the empty string — the UI reset the connector (full re-sync expected);
 * - `none`: null or "null" (never saved, e.g. just registered);
 * - `invalid`: something else (kept raw for a log line).
 */
export type StoredState =
  | { kind: 'state'; state: ConnectorState; raw: string }
  | { kind: 'reset'; raw: '' }
  | { kind: 'none'; raw: string | null }
  | { kind: 'invalid'; raw: string };

export function parseConnectorState(raw: string | null | undefined): StoredState {
  if (raw === '') return { kind: 'reset', raw: '' };
  if (raw === null || raw === undefined || raw === 'null') return { kind: 'none', raw: raw ?? null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { kind: 'invalid', raw };
  }
  if (parsed === null) return { kind: 'none', raw };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return { kind: 'invalid', raw };
  const o = parsed as Record<string, unknown>;
  // Legacy keys pycti still reads: connectorLastEventId / connectorStartTime.
  const start = o.start_from ?? o.connectorLastEventId;
  const recover = o.recover_until ?? o.connectorStartTime ?? null;
  if (typeof start !== 'string' || start === '') return { kind: 'invalid', raw };
  if (recover !== null && typeof recover !== 'string') return { kind: 'invalid', raw };
  return { kind: 'state', state: { start_from: start, recover_until: recover }, raw };
}

/** The `state` variable of pingConnector: JSON text, `"null"` when there is none (as pycti sends). */
export function serializeConnectorState(state: ConnectorState | null): string {
  return JSON.stringify(state);
}
