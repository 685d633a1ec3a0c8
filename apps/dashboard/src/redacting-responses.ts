import type { NextFunction, Request, Response } from 'express';

/**
 * A stack trace as BullMQ stores it ("Error: reason\n    at fn (/app/…/file.js:1:2)…") reduced to its reason:
 * server paths and code layout stay in the logs of the app that failed the job.
 */
export function reasonOnly(stack: string): string {
  const lines = stack.split('\n');
  const firstFrame = lines.findIndex((l) => /^\s+at\s/.test(l));
  return (firstFrame === -1 ? lines : lines.slice(0, firstFrame)).join('\n').trimEnd();
}

/** Every `stacktrace` array of strings in an API answer (Bull Board's job shape), reduced to reasons. */
export function withoutStacks(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(withoutStacks);
  if (body === null || typeof body !== 'object') return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    out[k] =
      k === 'stacktrace' && Array.isArray(v)
        ? v.map((line) => (typeof line === 'string' ? reasonOnly(line) : line))
        : withoutStacks(v);
  }
  return out;
}

/**
 * Job data and failure reasons come from Redis as the workers stored them. They are redacted before storage,
 * but the dashboard does not rely on that: every API answer passes through `redact` on its way out, so a
 * configured token or API key never reaches a browser even if an old entry still holds it. Stack traces are
 * reduced to their reason on the way out too.
 */
export function redactingResponses(redact: (text: string) => string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.json = (body: unknown) => {
      const text = redact(JSON.stringify(withoutStacks(body ?? null)));
      res.type('application/json');
      return res.send(text);
    };
    next();
  };
}
