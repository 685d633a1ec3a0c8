// Operator CLI entry point: `pnpm cli <command>` or `node dist/main.js <command>`. See README.md.
import { Io } from './io.ts';
import { run } from './run.ts';

// `pnpm --filter @octi-sekoia/cli start` runs in apps/cli: work where the operator typed the command, so
// ./config.yml and relative paths (CONFIG_FILE, REDIS_TLS_CA_FILE) mean what they expect.
if (process.env.npm_package_name === '@octi-sekoia/cli' && process.env.INIT_CWD) {
  process.chdir(process.env.INIT_CWD);
}

const code = await run(new Io(process.env), process.argv.slice(2));
// stdout and stderr are written synchronously: nothing is lost by exiting now (and no handle keeps us).
process.exit(code);
