import type { NextFunction, Request, Response } from 'express';

/**
 * Job data and failure reasons come from Redis as the workers stored them. They are redacted before storage,
 * but the dashboard does not rely on that: every API answer passes through `redact` on its way out, so a
 * configured token or API key never reaches a browser even if an old entry still holds it.
 */
export function redactingResponses(redact: (text: string) => string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const text = redact(JSON.stringify(body ?? null));
      res.type('application/json');
      return res.send(text);
    };
    void json;
    next();
  };
}
