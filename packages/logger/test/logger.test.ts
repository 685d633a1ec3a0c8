import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger, type Logger, normalizeLevel, REDACTED } from '../src/index.ts';

const TOKEN = '0b8f7a6e-1c2d-4e3f-9a8b-7c6d5e4f3a2b';
const API_KEY = 'sk-live-Zq8yT3vN5pLm2WxR7cD4';
const REDIS_PW = 'r3d!s "pw" \\ wörd/@:';
const DASH_PW = 'correct-horse-battery';
const SECRETS = [TOKEN, API_KEY, REDIS_PW, DASH_PW];
/** A credential we were never told about: only syntax and key names can catch it. */
const UNKNOWN_BEARER = 'eyJhbGciOiJIUzI1NiJ9.unlisted-bearer-value';
const UNKNOWN_HEADER = 'opaque-unlisted-header-value';

function capture(level = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({
    level,
    name: 'test',
    secrets: SECRETS,
    destination: { write: (s: string) => void lines.push(s) },
    base: { connectorId: 'c-1' },
  });
  return { log, lines };
}

/** Every form a leaked secret could take in a line. */
function forms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const inspected = inspect(secret).slice(1, -1);
  return [
    secret,
    json,
    JSON.stringify(json).slice(1, -1),
    inspected,
    JSON.stringify(inspected).slice(1, -1),
    encodeURIComponent(secret),
  ];
}

function axiosLikeError(): Error {
  const err = new Error('Request failed with status code 401');
  err.name = 'AxiosError';
  Object.assign(err, {
    code: 'ERR_BAD_REQUEST',
    config: {
      url: `https://api.sekoia.io/v2/inthreat/ioc-collections?apikey=${API_KEY}`,
      method: 'get',
      headers: { Accept: 'application/json', Authorization: `Bearer ${API_KEY}` },
    },
    request: { _header: `GET / HTTP/1.1\r\nAuthorization: Bearer ${API_KEY}\r\n` },
    response: {
      status: 401,
      statusText: 'Unauthorized',
      headers: { 'www-authenticate': 'Bearer' },
      data: { message: `invalid key ${API_KEY}` },
      request: { socket: 'big' },
    },
  });
  return err;
}

const cases: Array<[string, (log: Logger) => void]> = [
  ['a nested object', (log) => log.debug({ a: { b: { c: [{ token: TOKEN, apiKey: API_KEY }] } } }, 'nested')],
  ['the message', (log) => log.info(`connecting with ${TOKEN} and ${API_KEY}`)],
  ['printf arguments', (log) => log.info('token %s key %s', TOKEN, API_KEY)],
  [
    'headers.authorization',
    (log) => log.debug({ headers: { authorization: `Bearer ${UNKNOWN_BEARER}` } }, 'req'),
  ],
  [
    'HEADERS.AUTHORIZATION deep',
    (log) => log.debug({ req: { x: { HEADERS: { AUTHORIZATION: UNKNOWN_HEADER } } } }),
  ],
  [
    'Authorization in any case',
    (log) => log.debug({ h: { AuThOrIzAtIoN: UNKNOWN_HEADER, 'X-Api-Key': API_KEY } }),
  ],
  ['raw Bearer text', (log) => log.warn(`server said: Authorization: Bearer ${UNKNOWN_BEARER} rejected`)],
  [
    'Basic credentials',
    (log) => log.warn(`sent Authorization: Basic ${Buffer.from(`admin:${DASH_PW}`).toString('base64')}`),
  ],
  [
    'an error with the secret in message and stack',
    (log) => log.error(new Error(`login failed for ${TOKEN}`)),
  ],
  ['an error under err', (log) => log.error({ err: new Error(`redis ${REDIS_PW}`) }, 'failed')],
  ['an error under error', (log) => log.error({ error: new Error(`key ${API_KEY}`) }, 'failed')],
  ['an error cause', (log) => log.error({ err: new Error('outer', { cause: new Error(`inner ${TOKEN}`) }) })],
  ['an axios-like error', (log) => log.error({ err: axiosLikeError() }, 'sekoia request failed')],
  ['an axios-like error as the only argument', (log) => log.error(axiosLikeError())],
  ['a Redis URL', (log) => log.info({ url: `redis://:${REDIS_PW}@redis:6379/0` }, 'redis')],
  [
    'a Redis URL, encoded',
    (log) => log.info(`connecting to redis://:${encodeURIComponent(REDIS_PW)}@redis:6379`),
  ],
  ['an unknown password in a URL', (log) => log.info({ url: `https://user:${UNKNOWN_HEADER}@host/path` })],
  ['a token as URL user', (log) => log.info(`cloning https://${UNKNOWN_HEADER}@git.example.com/repo`)],
  ['a query parameter', (log) => log.info({ url: `https://h/x?a=1&apikey=${UNKNOWN_HEADER}&b=2` })],
  [
    'JSON inside a string',
    (log) => log.info({ body: JSON.stringify({ password: UNKNOWN_HEADER, k: REDIS_PW }) }),
  ],
  [
    'JSON inside JSON inside a string',
    (log) => log.info({ body: JSON.stringify({ inner: JSON.stringify({ k: REDIS_PW }) }) }),
  ],
  [
    'util.inspect output',
    (log) => log.info(inspect({ headers: { authorization: UNKNOWN_HEADER }, pw: REDIS_PW })),
  ],
  [
    'a password key',
    (log) => log.info({ dashboard: { password: UNKNOWN_HEADER }, redis: { password: 12345678 } }),
  ],
  ['a child logger', (log) => log.child({ component: 'x', secret: TOKEN }).debug({ key: API_KEY }, 'child')],
  ['a Map in a value', (log) => log.info({ m: [...new Map([['k', API_KEY]])] })],
  ['the secret as a key', (log) => log.info({ [API_KEY]: 1 })],
];

describe('createLogger redacts', () => {
  it.each(cases)('%s', (_label, write) => {
    const { log, lines } = capture();
    write(log);
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    for (const secret of [...SECRETS, UNKNOWN_BEARER, UNKNOWN_HEADER]) {
      for (const form of forms(secret)) expect(line).not.toContain(form);
    }
    expect(line).toContain(REDACTED);
    expect(() => JSON.parse(line)).not.toThrow();
  });

  it('keeps the rest of the line', () => {
    const { log, lines } = capture();
    log.error({ err: axiosLikeError(), indicatorId: 'ind-1' }, 'sekoia request failed');
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({
      level: 'error',
      name: 'test',
      connectorId: 'c-1',
      indicatorId: 'ind-1',
      msg: 'sekoia request failed',
      err: {
        message: 'Request failed with status code 401',
        code: 'ERR_BAD_REQUEST',
        config: { method: 'get', headers: { Accept: 'application/json', Authorization: REDACTED } },
        response: { status: 401, statusText: 'Unauthorized' },
      },
    });
    expect(entry.err.request).toBeUndefined();
    expect(entry.err.response.request).toBeUndefined();
    expect(typeof entry.time).toBe('string');
  });

  it('does not touch the logged objects', () => {
    const { log } = capture();
    const obj = { headers: { authorization: `Bearer ${API_KEY}` } };
    log.info(obj);
    expect(obj.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('short secrets are not replaced everywhere', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      name: 't',
      secrets: ['a', 'in'],
      destination: { write: (s: string) => void lines.push(s) },
    });
    log.info('plain info');
    expect(JSON.parse(lines[0]!).msg).toBe('plain info');
  });
});

describe('levels', () => {
  const cases: Array<[string, string[]]> = [
    ['debug', ['debug', 'info', 'warn', 'error', 'fatal']],
    ['DEBUG', ['debug', 'info', 'warn', 'error', 'fatal']],
    ['info', ['info', 'warn', 'error', 'fatal']],
    ['warn', ['warn', 'error', 'fatal']],
    ['warning', ['warn', 'error', 'fatal']],
    ['WARNING', ['warn', 'error', 'fatal']],
    ['error', ['error', 'fatal']],
    ['critical', ['fatal']],
    ['fatal', ['fatal']],
    ['trace', ['trace', 'debug', 'info', 'warn', 'error', 'fatal']],
  ];
  it.each(cases)('%s logs %j', (level, expected) => {
    const { log, lines } = capture(level);
    for (const l of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) log[l](l);
    expect(lines.map((l) => JSON.parse(l).level)).toEqual(expected);
  });

  it('rejects an unknown level', () => {
    expect(() => normalizeLevel('verbose')).toThrow(/unknown log level 'verbose'/);
  });
});
