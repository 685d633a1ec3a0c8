/** Typed failures of the OpenCTI client. Messages never contain the API token. */

export class OpenCtiError extends Error {
  /** True when the same call may succeed later without a configuration change (transport, 5xx, 429…). */
  readonly retryable: boolean;
  constructor(message: string, opts: { retryable: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.retryable = opts.retryable;
  }
}

/** AUTH_REQUIRED (bad/expired token) or FORBIDDEN_ACCESS (missing capability): a configuration problem. */
export class OpenCtiAuthError extends OpenCtiError {
  constructor(
    message: string,
    readonly code: 'AUTH_REQUIRED' | 'FORBIDDEN_ACCESS',
  ) {
    super(message, { retryable: false });
  }
}

/** pingConnector on an id OpenCTI does not know (connector deleted in the UI): register again. */
export class ConnectorNotFoundError extends OpenCtiError {
  constructor(readonly connectorId: string) {
    super(
      `OpenCTI has no connector with id ${connectorId} (deleted in the UI?): it must be registered again`,
      {
        retryable: false,
      },
    );
  }
}

/** Any other GraphQL error envelope (HTTP 200 with `errors`). */
export class OpenCtiGraphqlError extends OpenCtiError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    // DATABASE_ERROR is the platform's storage failing: worth retrying; the other codes are not.
    super(message, { retryable: code === 'DATABASE_ERROR' || code === 'INTERNAL_SERVER_ERROR' });
  }
}

/** Network error, timeout, non-200 HTTP status (proxy, 429, 5xx) or an unreadable answer: retry later. */
export class OpenCtiTransportError extends OpenCtiError {
  constructor(
    message: string,
    readonly httpStatus?: number,
    cause?: unknown,
  ) {
    super(message, { retryable: true, cause });
  }
}

/** Replaces every occurrence of the secret (as is and URL-encoded) in a text. */
export function redactSecret(text: string, secret: string): string {
  if (!secret) return text;
  let out = text;
  for (const variant of new Set([secret, encodeURIComponent(secret)])) out = out.split(variant).join('***');
  return out;
}
