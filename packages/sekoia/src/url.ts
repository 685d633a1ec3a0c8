const COLLECTIONS_PATH = '/v2/inthreat/ioc-collections';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The IOC-collections URL from SEKOIA_INTEL_URL: an API base (`https://api.sekoia.io`,
 * `https://app.sekoia.io/api`) or a URL already ending in /v2/inthreat/ioc-collections (or /v2/inthreat).
 */
export function normaliseBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new TypeError('Sekoia.io base URL is not a valid URL (expected e.g. https://api.sekoia.io)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError('Sekoia.io base URL must be http(s) (expected e.g. https://api.sekoia.io)');
  }
  let path = url.pathname.replace(/\/+$/, '');
  if (path.endsWith(COLLECTIONS_PATH)) path = path.slice(0, -COLLECTIONS_PATH.length);
  else if (path.endsWith('/v2/inthreat')) path = path.slice(0, -'/v2/inthreat'.length);
  return `${url.origin}${path}${COLLECTIONS_PATH}`;
}

/** A bare collection UUID becomes `ioc-collection--<uuid>` (the form every Sekoia example uses). */
export function normaliseCollectionId(id: string): string {
  const t = id.trim();
  return UUID_RE.test(t) ? `ioc-collection--${t.toLowerCase()}` : t;
}
