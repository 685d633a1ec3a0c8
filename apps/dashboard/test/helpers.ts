import { redact } from '@octi-sekoia/logger';
import { createQueues } from '@octi-sekoia/queue';
import type { TestRedis } from '@octi-sekoia/testkit';
import { createDashboard, type DashboardOptions } from '../src/dashboard.ts';
import { listen } from '../src/listen.ts';

export const CONNECTOR_ID = '0c7f1f2e-8d4b-4a55-9a3e-5b1d2c3e4f5a';
export const API_KEY = 'sekoia-api-key-0123456789abcdef';
export const AUTH = { username: 'operator', password: 'correct-horse-battery' };
export const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

export async function startDashboard(r: TestRedis, overrides: Partial<DashboardOptions> = {}) {
  const dashboard = await createDashboard({
    redis: r.connect(),
    keyPrefix: r.prefix,
    connectorId: CONNECTOR_ID,
    basePath: '/board',
    auth: AUTH,
    readOnly: false,
    redact: (t) => redact(t, [API_KEY]),
    markValueDirty: async () => {},
    ...overrides,
  });
  const server = await listen(dashboard.app, { port: 0, host: '127.0.0.1', portVariable: 'DASHBOARD_PORT' });
  const url = `http://127.0.0.1:${server.port}`;
  return {
    url,
    queues: createQueues(r.connect(), r.prefix, CONNECTOR_ID),
    refresh: () => dashboard.refresh(),
    /** fetch with the operator's credentials. */
    get: (path: string, init: RequestInit = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { authorization: basic(AUTH.username, AUTH.password), ...init.headers },
      }),
    async close() {
      await server.close();
      await dashboard.close();
    },
  };
}

export const dlqName = encodeURIComponent(`${CONNECTOR_ID} · dead-letters`);
export const mainName = encodeURIComponent(`${CONNECTOR_ID} · indicators`);
