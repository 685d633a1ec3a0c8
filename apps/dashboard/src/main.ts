// Entry point: read config (exit 2 with one line per problem), refuse an evicting Redis (exit 2), serve Bull
// Board behind authentication (a port in use or a host that does not resolve: one line, exit 2).
import { bootApp, listenOrExit, onShutdown } from '@octi-sekoia/ops';
import { assertNoEviction } from '@octi-sekoia/queue';
import { SyncState } from '@octi-sekoia/sync';
import { createDashboard } from './dashboard.ts';
import { listen } from './listen.ts';

// The dashboard needs neither the OpenCTI token nor the Sekoia key, but redacts them when they are set (bootApp
// redacts every configured secret), so an old error that still holds one never reaches a browser. It refuses an
// evicting Redis as ingest and the worker do: it writes too (it parks dead letters, sends them back, marks values
// dirty), and an evicted key would lose work.
const { config, log, redact, redis } = await bootApp('dashboard', { checkRedis: assertNoEviction });
const d = config.dashboard;
if (d.noAuth) {
  log.warn(
    'DASHBOARD_NO_AUTH=true: the dashboard has no authentication; only run it behind your own authenticating proxy',
  );
}

const states = new Map<string, SyncState>();
const dashboard = await createDashboard({
  redis,
  keyPrefix: config.redis.keyPrefix,
  connectorId: config.connector.id,
  basePath: d.basePath,
  auth: d.noAuth ? undefined : { username: d.username ?? '', password: d.password ?? '' },
  readOnly: d.readOnly,
  redact,
  markValueDirty: async (connectorId, value) => {
    let state = states.get(connectorId);
    if (!state) {
      state = new SyncState(redis, { keyPrefix: config.redis.keyPrefix, connectorId });
      states.set(connectorId, state);
    }
    // Sent back by an operator: retried even at the same desired version.
    await state.markDirty([value], { clearRejection: true });
  },
  log: (msg, extra) => log.info(extra ?? {}, msg),
});
const server = await listenOrExit(() =>
  listen(dashboard.app, {
    port: d.port,
    host: d.host,
    portVariable: 'DASHBOARD_PORT',
    hostVariable: 'DASHBOARD_HOST',
  }),
);
onShutdown({
  graceMs: 10_000,
  log: (msg, extra) => log.info(extra ?? {}, msg),
  stop: async () => {
    await server.close();
    await dashboard.close();
    redis.disconnect();
  },
});
log.info({ url: `http://${d.host}:${server.port}${d.basePath}`, readOnly: d.readOnly }, 'started');
