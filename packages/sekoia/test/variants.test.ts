/**
 * The client under Sekoia behaviours no public source settles (issue 14): answer shapes the simulator does not
 * produce are served by a stub over real HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SekoiaClient, WAF_MAX_BLOCK_MS } from '../src/client.ts';
import { ConfigurationError, RateLimitedError } from '../src/errors.ts';
import { rejection } from './helpers.ts';
import { listed, type Stub, type StubHandler, startStub } from './stub.ts';

const COLLECTION = 'ioc-collection--0f6f7c6e-3d1f-4a53-9f36-6f0a6d0a2e11';
let stub: Stub | undefined;
let client: SekoiaClient | undefined;
afterEach(async () => {
  client?.close();
  await stub?.close();
  stub = client = undefined;
});

async function start(
  handler: StubHandler,
  opts: ConstructorParameters<typeof SekoiaClient>[0] extends infer O ? Partial<O> : never = {},
) {
  stub = await startStub(handler);
  client = new SekoiaClient({
    baseUrl: stub.url,
    apiKey: 'k',
    collectionId: COLLECTION,
    timeoutMs: 5000,
    ...opts,
  });
  return { stub, client };
}

const indicators = Array.from({ length: 250 }, (_, i) => listed(`indicator--${i}`, `v${i}.example`));

/** A list endpoint over `indicators` that answers `has_more` and `total` only when told. */
function lister(opts: { hasMore: boolean; total: boolean; items?: typeof indicators }): StubHandler {
  const all = opts.items ?? indicators;
  return ({ url }) => {
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 20);
    const items = all.slice(offset, offset + limit);
    return {
      status: 200,
      json: {
        items,
        ...(opts.total ? { total: all.length } : {}),
        ...(opts.hasMore ? { has_more: offset + items.length < all.length } : {}),
      },
    };
  };
}

describe('paging (row 4: has_more may be absent)', () => {
  it('has_more absent, total present: every page is read', async () => {
    const { client, stub } = await start(lister({ hasMore: false, total: true }));
    const ids: string[] = [];
    expect(await client.listAll((page) => void ids.push(...page.map((i) => i.id)))).toBe(250);
    expect(ids).toHaveLength(250);
    expect(stub.requests).toHaveLength(3);
  });

  it('neither has_more nor total: pages are read until a short one', async () => {
    const { client, stub } = await start(lister({ hasMore: false, total: false }));
    expect(await client.listAll(() => undefined)).toBe(250);
    expect(stub.requests).toHaveLength(3);
  });

  it('a full last page without has_more or total costs one empty page more, and stops there', async () => {
    const { client, stub } = await start(
      lister({ hasMore: false, total: false, items: indicators.slice(0, 200) }),
    );
    expect(await client.listAll(() => undefined)).toBe(200);
    expect(stub.requests).toHaveLength(3);
  });

  it('has_more: false on a full page is trusted only when the profile says so', async () => {
    // A server whose has_more is always false (wrong) but whose total is absent.
    const wrong: StubHandler = (r) => {
      const a = lister({ hasMore: false, total: false })(r) as {
        status: number;
        json: Record<string, unknown>;
      };
      return { status: 200, json: { ...a.json, has_more: false } };
    };
    const safe = await start(wrong);
    expect(await safe.client.listAll(() => undefined)).toBe(250);
    safe.client.close();
    await safe.stub.close();
    const trusting = await start(wrong, { behaviour: { trustHasMore: true } });
    expect(await trusting.client.listAll(() => undefined)).toBe(100);
  });

  it('searchExact reads every page when has_more is absent', async () => {
    const same = Array.from({ length: 150 }, (_, i) => listed(`indicator--${i}`, `x${i}.evil.example`));
    same.push(listed('indicator--hit', 'evil.example'));
    const { client } = await start(lister({ hasMore: false, total: true, items: same }));
    expect(
      (await client.searchExact('evil.example')).map(({ id, value, revoked }) => ({ id, value, revoked })),
    ).toEqual([{ id: 'indicator--hit', value: 'evil.example', revoked: false }]);
  });
});

describe('create answers (row 1: what `name` holds)', () => {
  const MD5 = '0cc175b9c0f1b6a831c399e269772661';
  const SHA1 = '86f7e437faa5a7fce15d1ddcb9eaeaea377667b8';
  it.each([
    ['upper-cased hashes', (v: string) => v.toUpperCase()],
    ['every hash of the file in one name', () => `${MD5},${SHA1}`],
    ['a label (the value only in the pattern)', () => 'File hash'],
  ])('%s: every value is matched to its id', async (_, nameOf) => {
    const { client } = await start(({ body }) => {
      const sent = (body as { indicators: Array<{ value: string }> }).indicators;
      return {
        status: 200,
        json: {
          items: sent.map((v, i) => ({
            id: `indicator--${i}`,
            name: nameOf(v.value),
            pattern: `[file:hashes.${v.value.length === 32 ? 'MD5' : "'SHA-1'"} = '${v.value.toUpperCase()}']`,
            revoked: false,
          })),
          total: sent.length,
        },
      };
    });
    expect(await client.createBatch({}, [{ value: MD5 }, { value: SHA1 }])).toEqual([
      { id: 'indicator--0', value: MD5 },
      { id: 'indicator--1', value: SHA1 },
    ]);
  });
});

describe('term search (row 10)', () => {
  const MD5 = '0cc175b9c0f1b6a831c399e269772661';
  /** Case-sensitive substring search over indicators holding the hash upper-cased. */
  const upperStore: StubHandler = ({ url }) => {
    const term = url.searchParams.get('term') ?? '';
    const all = [listed('indicator--1', MD5.toUpperCase(), `[file:hashes.MD5 = '${MD5.toUpperCase()}']`)];
    const items = all.filter((i) => i.pattern.includes(term));
    return { status: 200, json: { items, total: items.length, has_more: false } };
  };

  it('a hash Sekoia holds upper-cased is found by a case-sensitive term search', async () => {
    const { client, stub } = await start(upperStore);
    expect((await client.searchExact(MD5)).map(({ id, value, revoked }) => ({ id, value, revoked }))).toEqual(
      [{ id: 'indicator--1', value: MD5.toUpperCase(), revoked: false }],
    );
    expect(stub.requests.map((r) => r.url.searchParams.get('term'))).toEqual([MD5, MD5.toUpperCase()]);
  });

  it('no second search when the profile says term ignores case', async () => {
    const { client, stub } = await start(upperStore, { behaviour: { termIgnoresCase: true } });
    expect(await client.searchExact(MD5)).toEqual([]);
    expect(stub.requests).toHaveLength(1);
  });
});

describe('403 (row 7: the body of a permission refusal is unknown)', () => {
  it('a plain-text 403 is a permission problem', async () => {
    const { client } = await start(() => ({ status: 403, text: 'Forbidden: missing permission' }));
    const err = await rejection(client.revoke('indicator--1'));
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err).toMatchObject({ reason: 'forbidden', status: 403 });
  });

  it('an HTML 403 on writes while the collection reads fine: the key cannot write', async () => {
    const { client, stub } = await start(({ method }) =>
      method === 'GET'
        ? { status: 200, json: { id: COLLECTION, indicators_count: 0 } }
        : { status: 403, type: 'text/html', text: '<html><body>403 Forbidden</body></html>' },
    );
    const err = await rejection(client.edit('indicator--1', { description: 'x' }));
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toMatch(/can read the collection but not write to it/);
    expect(stub.requests.map((r) => r.method)).toEqual(['PUT', 'GET']);
  });

  it('an HTML 403 on every request is a WAF block (the budget pauses), until it outlasts the longest block', async () => {
    let now = 1_000_000;
    const { client } = await start(() => ({ status: 403, type: 'text/html', text: '<html>blocked</html>' }), {
      now: () => now,
    });
    expect(await rejection(client.revoke('indicator--1'))).toBeInstanceOf(RateLimitedError);
    now += WAF_MAX_BLOCK_MS / 2;
    expect(await rejection(client.listAll(() => undefined))).toBeInstanceOf(RateLimitedError);
    now += WAF_MAX_BLOCK_MS;
    const err = await rejection(client.listAll(() => undefined));
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toMatch(/longer than a WAF block lasts/);
  });

  it('a success in between starts the count again', async () => {
    let now = 1_000_000;
    let blocked = true;
    const { client } = await start(
      () =>
        blocked
          ? { status: 403, type: 'text/html', text: '<html>blocked</html>' }
          : { status: 200, json: { id: COLLECTION } },
      { now: () => now },
    );
    expect(await rejection(client.getCollection())).toBeInstanceOf(RateLimitedError);
    now += WAF_MAX_BLOCK_MS;
    blocked = false;
    await client.getCollection();
    blocked = true;
    now += WAF_MAX_BLOCK_MS / 2;
    expect(await rejection(client.getCollection())).toBeInstanceOf(RateLimitedError);
  });
});
