// The collection read through the cursor feed (row 11), against the Sekoia simulator over HTTP: pages of up to
// 10,000, every shape the simulator can give, and the fall back to offset pages when the feed cannot serve.
import { afterEach, describe, expect, it } from 'vitest';
import { FeedUnusableError, parseFeedPage } from '../src/index.ts';
import { type Setup, setup } from './helpers.ts';

let s: Setup | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** 250 indicators, the first one revoked. */
async function fill(x: Setup): Promise<string> {
  for (let b = 0; b < 3; b++) {
    await x.client.createBatch(
      { description: 'd', kill_chain_phases: [{ kill_chain_name: 'k', phase_name: 'p' }] },
      Array.from({ length: 84 }, (_, i) => ({ value: `10.0.${b}.${i}` })).slice(0, b === 2 ? 82 : 84),
    );
  }
  const [first] = x.sim.control.indicators();
  await x.client.revoke(first!.id);
  return first!.id;
}

async function readAll(x: Setup) {
  const pages: number[] = [];
  const seen = new Map<string, Record<string, unknown>>();
  const n = await x.client.listAll(async (items) => {
    pages.push(items.length);
    for (const i of items) seen.set(i.id, i);
  });
  return { n, pages, seen };
}

describe('collection read through the cursor feed', () => {
  it('the profile says usable: one feed request for 250 indicators, revoked left out, every field there', async () => {
    const fallbacks: string[] = [];
    s = await setup({}, { behaviour: { collectionFeed: true }, onFeedFallback: (r) => fallbacks.push(r) });
    const revoked = await fill(s);
    s.sim.control.resetCounters();
    const { n, pages, seen } = await readAll(s);
    expect(pages).toEqual([249]);
    expect(n).toBe(249);
    expect(seen.has(revoked)).toBe(false);
    expect(s.sim.control.requestCount('feed-objects')).toBe(1);
    expect(s.sim.control.requestCount('list-indicators')).toBe(0);
    const one = [...seen.values()][0]!;
    expect(one).toMatchObject({ description: 'd', revoked: false, kill_chain_phases: [{ phase_name: 'p' }] });
    expect(typeof one.valid_from).toBe('string');
    expect(fallbacks).toEqual([]);
  });

  it.each([
    ['STIX objects without names, under "objects"', { feed: 'stix', feedItemsKey: 'objects' }],
    ['pages capped at 100 and a cursor handed out at the end', { feedPageCap: 100, feedEndCursor: 'repeat' }],
  ] as const)('%s: every indicator read once, by cursor', async (_name, behavior) => {
    s = await setup({ behavior }, { behaviour: { collectionFeed: true } });
    await fill(s);
    s.sim.control.resetCounters();
    const { n, seen } = await readAll(s);
    expect(n).toBe(249);
    expect(seen.size).toBe(249);
    for (const i of seen.values()) expect(i.name === '' ? i.pattern : i.name).toMatch(/10\.0\./);
    expect(s.sim.control.requestCount('list-indicators')).toBe(0);
  });

  it('a feed that refuses (404: not a feed id) is left for offset pages, once, and said so once', async () => {
    const fallbacks: string[] = [];
    s = await setup(
      { behavior: { feed: 'absent' } },
      { behaviour: { collectionFeed: true }, onFeedFallback: (r) => fallbacks.push(r) },
    );
    await fill(s);
    s.sim.control.resetCounters();
    const first = await readAll(s);
    expect(first.n).toBe(250); // offset pages list revoked ones too
    expect(first.pages).toEqual([100, 100, 50]);
    const second = await readAll(s);
    expect(second.n).toBe(250);
    expect(fallbacks).toEqual(['the feed answered HTTP 404']);
    expect(s.sim.control.requestCount('feed-objects')).toBe(1);
  });

  it('without the profile saying usable, the feed is never asked', async () => {
    s = await setup();
    await fill(s);
    s.sim.control.resetCounters();
    expect((await readAll(s)).pages).toEqual([100, 100, 50]);
    expect(s.sim.control.requestCount('feed-objects')).toBe(0);
  });

  it('an unknown answer shape is refused as unusable, never read as an empty collection', () => {
    for (const body of [
      [],
      { results: [] },
      { items: [{ name: 'x' }] },
      { items: [{ id: 'i', type: 'indicator' }] },
    ])
      expect(() => parseFeedPage(body)).toThrow(FeedUnusableError);
    expect(parseFeedPage({ items: [], next_cursor: null })).toEqual({
      items: [],
      next: undefined,
      skipped: 0,
    });
    expect(
      parseFeedPage({
        data: [
          { id: 'r', type: 'relationship' },
          { id: 'i', pattern: "[x:y = 'z']" },
        ],
      }),
    ).toMatchObject({ items: [{ id: 'i', name: '', revoked: false }], skipped: 1 });
  });
});
