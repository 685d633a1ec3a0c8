/**
 * Which Bull Board routes the dashboard serves. The table below names every route of @bull-board/api's own
 * route table (`appRoutes`, plus the history routes a history provider would add); a route it does not name
 * is refused, and a test fails when Bull Board gains a route the table does not name.
 *
 * No write request ever reaches Bull Board: every non-read route is refused, except "Retry" on a dead letter,
 * which the dashboard itself routes to the dead-letter API (so fencing and the sync engine's dirty set apply).
 * Refusals do not depend on the mode: read-only mode only also refuses sending dead letters back.
 */
import { appRoutes, buildHistoryRoutes } from '@bull-board/api/dist/routes.js';

/** What a queue is to this connector (the dashboard shows only these two per connector). */
export type QueueRole = 'indicators' | 'dead-letters';

export type RouteDecision =
  | { allow: true; action?: undefined }
  | { allow: true; action: 'replay-dead-letter'; queueName: string; jobId: string }
  | { allow: true; action: 'replay-all-dead-letters'; queueName: string }
  | { allow: false; why: string };

/**
 * The one refusal for every route that removes or rewrites an indicator job or a dead letter. An indicator job
 * is past ingest's checkpoint, and a dead letter may hold the only copy of a raw stream event: deleting either
 * loses it for good (only a full re-sync would bring an indicator back), and nothing would say so.
 */
export const LOSES_WORK =
  'refused: removing or rewriting indicator jobs or dead letters would lose work; ' +
  'a dead letter can be discarded only with: pnpm cli dead-letters discard <id> --reason "..."';
const READ_ONLY = 'the dashboard is in read-only mode';
const NOT_EXPOSED = 'route not exposed by this dashboard';
const HAND_MADE = 'adding jobs by hand is not allowed: jobs come from the OpenCTI stream';
const PAUSES = 'pause/resume/rate-limit/concurrency would undo the worker circuit and request budget';
const NO_SCHEDULERS = 'job schedulers are not used here';
const SEND_BACK_FROM_DLQ = 'send failed work back from the dead-letter queue';

type Policy = 'read' | 'send-back-one' | 'send-back-all' | { refuse: string };
const refuse = (why: string): Policy => ({ refuse: why });

/** `<METHOD> <route>` as Bull Board declares it → what the dashboard does with it. */
export const ROUTE_POLICY: Readonly<Record<string, Policy>> = {
  'GET /api/redis/stats': 'read',
  'GET /api/queues': 'read',
  'GET /api/job-schedulers': 'read',
  'GET /api/queues/:queueName/metrics': 'read',
  'GET /api/queues/:queueName/default-job-options': 'read',
  'GET /api/queues/:queueName/workers': 'read',
  'GET /api/queues/:queueName/rate-limit': 'read',
  'GET /api/queues/:queueName/job-data-schema': 'read',
  'GET /api/queues/:queueName/:jobId/logs': 'read',
  'GET /api/queues/:queueName/:jobId/flow': 'read',
  'GET /api/queues/:queueName/:jobId': 'read',
  'GET /api/metrics/history': 'read',
  'GET /api/metrics/history/usage': 'read',
  'GET /api/metrics/latency': 'read',
  'PUT /api/queues/pause': refuse(PAUSES),
  'PUT /api/queues/resume': refuse(PAUSES),
  'PUT /api/queues/:queueName/pause': refuse(PAUSES),
  'PUT /api/queues/:queueName/resume': refuse(PAUSES),
  'PUT /api/queues/:queueName/concurrency': refuse(PAUSES),
  'PUT /api/queues/:queueName/rate-limit': refuse(PAUSES),
  'PUT /api/queues/:queueName/rate-limit/release': refuse(PAUSES),
  'POST /api/queues/:queueName/add': refuse(HAND_MADE),
  'PUT /api/queues/:queueName/retry/:queueStatus': 'send-back-all',
  'PUT /api/queues/:queueName/:jobId/retry': 'send-back-one',
  'PUT /api/queues/:queueName/promote': refuse(LOSES_WORK),
  'PUT /api/queues/:queueName/clean/:queueStatus': refuse(LOSES_WORK),
  'PUT /api/queues/:queueName/empty': refuse(LOSES_WORK),
  'PUT /api/queues/:queueName/obliterate': refuse(LOSES_WORK),
  'PUT /api/queues/:queueName/:jobId/clean': refuse(LOSES_WORK),
  'PUT /api/queues/:queueName/:jobId/promote': refuse(LOSES_WORK),
  'PATCH /api/queues/:queueName/:jobId/update-data': refuse(LOSES_WORK),
  'PATCH /api/queues/:queueName/:jobId/delay': refuse(LOSES_WORK),
  'PATCH /api/queues/:queueName/:jobId/priority': refuse(LOSES_WORK),
  'PUT /api/queues/:queueName/:jobId/remove-unprocessed-children': refuse(LOSES_WORK),
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/remove': refuse(NO_SCHEDULERS),
  'PATCH /api/queues/:queueName/job-schedulers/:schedulerId': refuse(NO_SCHEDULERS),
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/run': refuse(NO_SCHEDULERS),
  'POST /api/metrics/history/purge': refuse(NOT_EXPOSED),
};

export interface BoardRoute {
  method: string;
  route: string;
}

const asList = <T>(x: T | T[]) => (Array.isArray(x) ? x : [x]);

/** Every API route @bull-board/api can serve, in its registration order (Express serves the first match). */
export function boardApiRoutes(): BoardRoute[] {
  // A provider with every optional capability, only to list the routes it would add.
  const provider = { getHistory: async () => [], getUsage: async () => ({}), purge: async () => ({}) };
  const history = buildHistoryRoutes(provider as never, { hasUsage: true, canPurge: true, hasLatency: true });
  return [...appRoutes.api, ...history].flatMap((r) =>
    asList(r.method).flatMap((method) =>
      asList(r.route).map((route) => ({ method: method.toUpperCase(), route: String(route) })),
    ),
  );
}

/** The page routes (GET): the single-page UI's entry points. */
export function boardPageRoutes(): string[] {
  return asList(appRoutes.entryPoint.route).map(String);
}

interface CompiledRoute extends BoardRoute {
  re: RegExp;
  params: string[];
}

/** Express's matching of a route path: `:name` is one non-empty segment, case-insensitive, optional `/` at the end. */
function compile({ method, route }: BoardRoute): CompiledRoute {
  const params: string[] = [];
  const source = route
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
      params.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { method, route, params, re: new RegExp(`^${source}/?$`, 'i') };
}

const COMPILED = boardApiRoutes().map(compile);

/** The Bull Board API route a request would reach (the first match, as Express picks it), with its parameters. */
export function matchRoute(
  method: string,
  path: string,
): { route: string; params: Record<string, string> } | undefined {
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  for (const r of COMPILED) {
    if (r.method !== m) continue;
    const hit = r.re.exec(path);
    if (!hit) continue;
    const params: Record<string, string> = {};
    r.params.forEach((name, i) => {
      params[name] = safeDecode(hit[i + 1] ?? '');
    });
    return { route: `${r.method} ${r.route}`, params };
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * @param path the request path relative to the board's base path
 * @param roleOf the role of a queue name (URL-decoded) shown by this dashboard, undefined for an unknown name
 */
export function decideRoute(
  method: string,
  path: string,
  opts: { readOnly: boolean; roleOf: (queueName: string) => QueueRole | undefined },
): RouteDecision {
  const m = method.toUpperCase();
  const read = m === 'GET' || m === 'HEAD';
  const hit = matchRoute(m, path);
  if (!hit) {
    // The UI's pages and static files; anything else under /api/ is not a Bull Board route.
    if (read && !/^\/api(\/|$)/i.test(path)) return { allow: true };
    return { allow: false, why: NOT_EXPOSED };
  }
  const policy = ROUTE_POLICY[hit.route];
  if (policy === undefined) return { allow: false, why: NOT_EXPOSED };
  if (policy === 'read') return { allow: true };
  if (typeof policy === 'object') return { allow: false, why: policy.refuse };
  if (opts.readOnly) return { allow: false, why: READ_ONLY };
  // Retrying a failed indicator job directly would skip the dead-letter bookkeeping: only dead letters go back.
  const queueName = hit.params.queueName ?? '';
  if (opts.roleOf(queueName) !== 'dead-letters') return { allow: false, why: SEND_BACK_FROM_DLQ };
  return policy === 'send-back-one'
    ? { allow: true, action: 'replay-dead-letter', queueName, jobId: hit.params.jobId ?? '' }
    : { allow: true, action: 'replay-all-dead-letters', queueName };
}
