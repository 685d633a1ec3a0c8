/**
 * Which Bull Board API routes the dashboard exposes. Bull Board's generic routes that add or edit jobs are
 * never exposed (an injected job with a far-future event id would fence an indicator forever), and neither
 * are pause/resume/rate-limit/concurrency (they would undo the worker's circuit and request-budget pauses),
 * nor empty/obliterate/schedulers. "Send back" of a dead letter is routed to the dead-letter API instead of
 * Bull Board's retry, so fencing applies.
 */
export type RouteDecision =
  | { allow: true; action?: 'replay-dead-letter' | 'replay-all-dead-letters' }
  | { allow: false; why: string };

const REFUSED: Array<[RegExp, string]> = [
  [/^\/api\/queues\/[^/]+\/add$/, 'adding jobs by hand is not allowed: jobs come from the OpenCTI stream'],
  [/^\/api\/queues\/[^/]+\/[^/]+\/(update-data|delay|priority)$/, 'editing jobs is not allowed'],
  [/^\/api\/queues\/(pause|resume)$/, 'pause/resume would undo the worker circuit and request budget'],
  [
    /^\/api\/queues\/[^/]+\/(pause|resume|concurrency|rate-limit|rate-limit\/release)$/,
    'pause/resume/rate-limit would undo the worker circuit and request budget',
  ],
  [/^\/api\/queues\/[^/]+\/(empty|obliterate)$/, 'emptying a queue would lose work'],
  [/^\/api\/queues\/[^/]+\/job-schedulers\//, 'job schedulers are not used here'],
  [/^\/api\/queues\/[^/]+\/promote$/, 'promoting delayed jobs would bypass the backoff'],
  [/^\/api\/queues\/[^/]+\/[^/]+\/(promote|remove-unprocessed-children)$/, 'not used here'],
  [/^\/api\/metrics\/history\/purge$/, 'not used here'],
];

/**
 * @param path the request path relative to the board's base path
 * @param isDeadLetterQueue tells whether a queue name (URL-decoded) is a dead-letter queue
 */
export function decideRoute(
  method: string,
  path: string,
  opts: { readOnly: boolean; isDeadLetterQueue: (queueName: string) => boolean },
): RouteDecision {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD') return { allow: true };
  if (opts.readOnly) return { allow: false, why: 'the dashboard is in read-only mode' };
  if (!path.startsWith('/api/')) return { allow: false, why: 'only the API accepts changes' };
  for (const [re, why] of REFUSED) if (re.test(path)) return { allow: false, why };

  const retryOne = /^\/api\/queues\/([^/]+)\/([^/]+)\/retry$/.exec(path);
  if (retryOne && m === 'PUT') {
    const queue = decodeURIComponent(retryOne[1]!);
    // Retrying a failed main-queue job directly would skip the dead-letter bookkeeping: only dead letters are sent back.
    return opts.isDeadLetterQueue(queue)
      ? { allow: true, action: 'replay-dead-letter' }
      : { allow: false, why: 'send failed work back from the dead-letter queue' };
  }
  const retryAll = /^\/api\/queues\/([^/]+)\/retry\/[^/]+$/.exec(path);
  if (retryAll && m === 'PUT') {
    const queue = decodeURIComponent(retryAll[1]!);
    return opts.isDeadLetterQueue(queue)
      ? { allow: true, action: 'replay-all-dead-letters' }
      : { allow: false, why: 'send failed work back from the dead-letter queue' };
  }
  // Removing a job or cleaning completed ones loses nothing that matters for convergence.
  if (m === 'PUT' && /^\/api\/queues\/[^/]+\/([^/]+\/clean|clean\/(completed|failed))$/.test(path))
    return { allow: true };
  return { allow: false, why: 'route not exposed by this dashboard' };
}
