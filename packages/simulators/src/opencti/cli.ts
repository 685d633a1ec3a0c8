/**
 * Standalone OpenCTI simulator: `tsx src/opencti/cli.ts --port 4000 --token … --stream-id … --heartbeat-ms 5000
 * --seed-bundle data/oasis-poisonivy.json`. Prints its URL; controlled over HTTP at `/_sim/<method>`.
 */
import { parseArgs } from 'node:util';
import { startOpenCtiSimulator } from './server.ts';

export const CLI_DEFAULT_TOKEN = 'a0c1e2d3-0000-4000-8000-00000000cafe';
export const CLI_DEFAULT_STREAM_ID = 'e5a3b9d2-4c1f-4f7a-9b6e-2d8c0a1f3e57';

const usage = `Usage: opencti-sim [options]
  --port <n>            listen port (default 4000; 0 = any free port)
  --host <addr>         listen address (default 127.0.0.1)
  --token <token>       API token (default $OPENCTI_SIM_TOKEN or ${CLI_DEFAULT_TOKEN})
  --stream-id <id>      live stream id (default $OPENCTI_SIM_STREAM_ID or ${CLI_DEFAULT_STREAM_ID})
  --heartbeat-ms <n>    heartbeat period (default 5000)
  --version <v>         about { version } (default 6.8.10)
  --seed-bundle <file>  STIX bundle loaded as creates at start (repeatable)
  --seed <n>            internal-id seed (default 1)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4000' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
      'stream-id': { type: 'string' },
      'heartbeat-ms': { type: 'string', default: '5000' },
      version: { type: 'string' },
      'seed-bundle': { type: 'string', multiple: true },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`--${name}: expected a non-negative integer, got ${JSON.stringify(v)}`);
      process.exit(2);
    }
    return n;
  };
  const sim = await startOpenCtiSimulator({
    port: int('port', values.port),
    host: values.host,
    token: values.token ?? process.env.OPENCTI_SIM_TOKEN ?? CLI_DEFAULT_TOKEN,
    streamId: values['stream-id'] ?? process.env.OPENCTI_SIM_STREAM_ID ?? CLI_DEFAULT_STREAM_ID,
    heartbeatMs: int('heartbeat-ms', values['heartbeat-ms']),
    version: values.version,
    seed: int('seed', values.seed),
  });
  for (const file of values['seed-bundle'] ?? []) {
    const res = sim.control.loadBundleFile({ path: file });
    console.log(`loaded ${file}: ${res.objects} objects, ${res.indicators.length} indicators`);
  }
  // The token is not printed: it is the one given (or the documented default).
  console.log(`OpenCTI simulator listening on ${sim.url} (live stream ${sim.streamId})`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`opencti-sim: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
