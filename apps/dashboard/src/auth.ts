import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** Compares through fixed-length digests so neither content nor length leaks through timing. */
function same(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** HTTP Basic authentication (browsers prompt for it; put TLS in front). `/healthz` stays open for probes. */
export function basicAuth(username: string, password: string, realm = 'OpenCTI Sekoia sync') {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    // The scheme is case-insensitive (RFC 7235 §2.1); one or more spaces before the credentials.
    const m = /^basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
    if (m) {
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon >= 0 ? decoded.slice(0, colon) : '';
      const pass = colon >= 0 ? decoded.slice(colon + 1) : '';
      // Evaluate both comparisons: short-circuiting would tell which one failed.
      const okUser = same(user, username);
      const okPass = same(pass, password);
      if (okUser && okPass) return next();
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('Authentication required');
  };
}

/**
 * What the page needs and nothing more: its own scripts, stylesheets, images and API (see page.ts, which removes
 * the inline and internet parts of Bull Board's template). React sets inline styles through the CSSOM, which
 * the policy does not restrict; the browser test fails on any policy violation the page reports.
 */
const REDIS_LOGO_STYLE = 'sha256-r2N1TB/gHbBtBZFKg7ejmq1acVSREzucTAEw6ga4hoU=';
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // The one inline <style> the UI needs: the colours of the Redis logo SVG (@bull-board/ui 9.10.1).
  `style-src 'self' '${REDIS_LOGO_STYLE}'`,
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

export function securityHeaders(_req: Request, res: Response, next: NextFunction) {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
  res.setHeader('Cache-Control', 'no-store');
  next();
}
