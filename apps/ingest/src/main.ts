// Entry point: reads the configuration (exit 2 with one line per problem), creates the logger, starts.
// For now it only waits for a signal; the ingest wiring replaces the idle timer.
import { secretsOf, startupConfig } from '@octi-sekoia/config';
import { createLogger } from '@octi-sekoia/logger';

const { config, warnings } = startupConfig('ingest');
const log = createLogger({
  level: config.connector.logLevel,
  name: 'ingest',
  secrets: secretsOf(config),
  base: { connectorId: config.connector.id },
});
for (const warning of warnings) log.warn(warning);

const idle = setInterval(() => {}, 2 ** 30);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'stopping');
    clearInterval(idle);
    process.exit(0);
  });
}
log.info('started');
