#!/usr/bin/env node
/**
 * Standalone Sekoia.io simulator: `tsx src/sekoia/cli.ts --port 8081 --api-key KEY --collection ioc-collection--…`.
 * Prints one line `sekoia-sim listening on <url>` once it accepts connections; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startSekoiaSimulator } from './server.ts';
import type { RetryAfterMode, SekoiaBehavior, SekoiaFaults } from './types.ts';

const HELP = `Usage: sekoia-sim [options]
  --port N                 listen port (default 0: a free port)
  --host H                 listen address (default 127.0.0.1)
  --api-key KEY            the API key to accept (default: generated and printed)
  --collection ID          collection id, ioc-collection--<uuid> (default: generated)
  --seed N                 seed of every random choice (default 1)
  --latency-ms N           fixed latency per request
  --jitter-ms N            extra random latency in [0, N)
  --rps N                  token-bucket rate limit (429 when exceeded)
  --burst N                bucket size (default: rps)
  --retry-after MODE       seconds | date | none (default seconds)
  --waf STATUS             WAF mode answering 429 or 403
  --waf-max-rps N          WAF request threshold per second (default 100)
  --waf-block-ms N         WAF block duration (default 30000)
  --error-rate P           probability of a 500/502/503/504
  --drop-before-rate P     probability of closing the connection before applying
  --drop-after-rate P      probability of closing the connection after applying
  --text-delay-ms N        delay before text imports are applied (default 20)
  --behavior JSON          behaviour switches, e.g. '{"reimport":"duplicate","quotaMax":1000}'
  --faults JSON            fault config, e.g. '{"rules":[{"route":"create-batch","nth":[2],"action":{"kind":"drop","when":"after"}}]}'
  --help`;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    collection: { type: 'string' },
    seed: { type: 'string' },
    'latency-ms': { type: 'string' },
    'jitter-ms': { type: 'string' },
    rps: { type: 'string' },
    burst: { type: 'string' },
    'retry-after': { type: 'string' },
    waf: { type: 'string' },
    'waf-max-rps': { type: 'string' },
    'waf-block-ms': { type: 'string' },
    'error-rate': { type: 'string' },
    'drop-before-rate': { type: 'string' },
    'drop-after-rate': { type: 'string' },
    'text-delay-ms': { type: 'string' },
    behavior: { type: 'string' },
    faults: { type: 'string' },
    help: { type: 'boolean' },
  },
  strict: true,
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function num(name: keyof typeof values): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) {
    console.error(`--${name}: expected a number, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

function parseJson<T>(name: 'behavior' | 'faults'): Partial<T> {
  if (values[name] === undefined) return {};
  try {
    return JSON.parse(values[name]) as Partial<T>;
  } catch {
    console.error(`--${name}: expected a JSON object`);
    process.exit(2);
  }
}

const behavior = parseJson<SekoiaBehavior>('behavior');
const textDelay = num('text-delay-ms');
if (textDelay !== undefined) behavior.textDelayMs = textDelay;

const faults = parseJson<SekoiaFaults>('faults');
faults.latencyMs = num('latency-ms') ?? faults.latencyMs ?? 0;
faults.jitterMs = num('jitter-ms') ?? faults.jitterMs ?? 0;
faults.errorRate = num('error-rate') ?? faults.errorRate ?? 0;
faults.dropBeforeRate = num('drop-before-rate') ?? faults.dropBeforeRate ?? 0;
faults.dropAfterRate = num('drop-after-rate') ?? faults.dropAfterRate ?? 0;
const rps = num('rps');
if (rps !== undefined) {
  faults.rateLimit = {
    rps,
    burst: num('burst'),
    retryAfter: (values['retry-after'] ?? 'seconds') as RetryAfterMode,
  };
}
if (values.waf !== undefined) {
  const status = Number(values.waf);
  if (status !== 429 && status !== 403) {
    console.error('--waf: expected 429 or 403');
    process.exit(2);
  }
  faults.waf = {
    status,
    maxRps: num('waf-max-rps') ?? 100,
    maxErrorsPer5s: 8,
    blockMs: num('waf-block-ms') ?? 30_000,
  };
}

const sim = await startSekoiaSimulator({
  port: num('port') ?? 0,
  host: values.host,
  apiKey: values['api-key'],
  collectionId: values.collection,
  seed: num('seed'),
  behavior,
  faults,
});
const key = values['api-key'] === undefined ? sim.apiKey : '(as given)';
console.log(`sekoia-sim listening on ${sim.url}`);
console.log(
  `api base: ${sim.url}/api/v2/inthreat/ioc-collections  key: ${key}  collection: ${sim.collectionId}`,
);
console.log(`control: ${sim.url}/_sim/state`);

const stop = () => {
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
