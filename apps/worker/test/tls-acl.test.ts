/**
 * Redis with TLS and an ACL user (README, "Redis topologies"): a private redis-server that speaks TLS only, its
 * certificate signed by a CA the test made, the `default` user off. The worker process gets REDIS_URL=rediss://…,
 * REDIS_TLS_CA_FILE, REDIS_USERNAME and REDIS_PASSWORD, as an operator would set them.
 */
import { jsonLogEntries, startTlsRedisServer, type TlsRedisServer } from '@octi-sekoia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedOf, jobsOf, Stack, scenarioMessages } from './harness.ts';

const CONVERGED = { missing: [], unexpected: [], wrongAttributes: [], duplicates: [] };

let server: TlsRedisServer;
let stack: Stack;
beforeAll(async () => {
  server = await startTlsRedisServer();
  stack = await Stack.start({ redis: await server.testRedis('worker-tls') });
}, 120_000);
afterAll(async () => {
  await stack?.close();
  await server?.destroy();
});

/** Every string stored under the stack's keys (BullMQ's jobs and their data included), joined. */
async function everythingStored(): Promise<string> {
  const c = stack.r.client;
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, names] = await c.scan(cursor, 'MATCH', '*', 'COUNT', 1000);
    cursor = next;
    for (const k of names) {
      parts.push(k);
      const type = await c.type(k);
      if (type === 'string') parts.push((await c.get(k)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await c.hgetall(k)));
      else if (type === 'list') parts.push(...(await c.lrange(k, '0', '-1')));
      else if (type === 'set') parts.push(...(await c.smembers(k)));
      else if (type === 'zset') parts.push(...(await c.zrange(k, '0', '-1')));
      else if (type === 'stream') parts.push(JSON.stringify(await c.xrange(k, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('on Redis with TLS and an ACL user', () => {
  it('a worker converges; the password is in no log line and nowhere in Redis', async () => {
    const s = stack;
    const messages = await scenarioMessages({ seed: 31, indicators: 150 });
    const worker = s.spawnWorker();
    await worker.waitForOutput(/"msg":"started"/, 90_000);
    await s.enqueue(jobsOf(messages));
    await s.waitIdle(90_000);
    expect(s.diff(expectedOf(messages))).toEqual(CONVERGED);
    expect(await s.deadLetters()).toEqual([]);
    expect(worker.output()).not.toContain(server.password);
    const stored = await everythingStored();
    expect(stored).toContain('sync:val:'); // the scan saw the state
    expect(stored).not.toContain(server.password);
  }, 180_000);

  it('a CA that did not sign the certificate: one fatal line naming REDIS_TLS_CA_FILE, exit 2', async () => {
    const worker = stack.spawnWorker({ REDIS_TLS_CA_FILE: server.otherCaFile });
    expect(await worker.exited).toBe(2);
    const entries = jsonLogEntries(worker.output());
    const fatal = entries.filter((e) => e.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0]?.err)).toMatch(/TLS certificate is not trusted.*REDIS_TLS_CA_FILE/);
    expect(worker.output()).not.toContain(server.password);
  }, 120_000);

  it('a wrong password: one fatal line naming REDIS_PASSWORD, exit 2, neither password logged', async () => {
    const wrong = `${server.password}-not`;
    const worker = stack.spawnWorker({ REDIS_PASSWORD: wrong });
    expect(await worker.exited).toBe(2);
    const fatal = jsonLogEntries(worker.output()).filter((e) => e.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0]?.err)).toMatch(/Redis refused the credentials.*REDIS_PASSWORD.*WRONGPASS/);
    expect(worker.output()).not.toContain(server.password);
  }, 120_000);
});
