export const USAGE = `usage: pnpm cli <command> [options]      (in a container: node dist/main.js <command> [options])

commands:
  status [--json] [--no-scan]
      stream state and checkpoint, leader, generation, indicators queue counts, dirty values, dead letters by
      kind, circuit, values live/revoked/rejected, collection usage; ends with a verdict
      (--no-scan: do not count values, which scans every value record)
  dead-letters list [--kind event|job|value] [--limit N] [--json]
      newest first, 50 by default
  dead-letters show <id|subject> [--json]
      one dead letter with its error and payload
  dead-letters replay <id|subject> | --all [--kind event|job|value] [--json]
      send back and remove: a job is re-enqueued, a value marked dirty (rejection forgotten), an event
      re-read by ingest
  dead-letters discard <id|subject> --reason "..." [--json]
      drop one for good (the dashboard cannot): logs who, what and why, prints its payload, and counts it
      (shown by status)
  resync [--json] [--wait [--timeout S]]
      ask ingest for a full re-sync: a new generation reads everything from OpenCTI again, a worker reads the
      collection once, then indicators not seen are revoked (--wait: follow it until the sweep is done)
  adopt --dry-run [--json]
      what adopting the configured collection would revoke, create and edit, read from OpenCTI and Sekoia.io;
      writes nothing (needs the ingest and worker settings)
  adopt [--json] [--wait [--timeout S]]
      adopt the configured collection (first start, migration from the Python connector, or a new
      SEKOIA_INTEL_IOC_COLLECTION_UUID: stop the workers first): read it into the sync state and start a
      re-sync that keeps what OpenCTI says is live and revokes the rest
  probe --collection <uuid> [--yes-this-collection] [--json]
      settle on the real Sekoia.io the behaviours no public source documents (a scratch collection:
      documentation values only, all revoked at the end), check OpenCTI (version, live stream, connector
      rights), record the profile the workers use; exit 1 names a degraded mode
  check-config [--app ingest|worker|dashboard|cli] [--internal] [--json]
      validate each app's configuration and print it with secrets masked (--internal: the internal
      settings too)
  stix-extract [--lenient] [--stix-version=2.0|2.1] < patterns
      one JSON line of extracted observables per STIX pattern read on stdin
  help, --help, -h (also after a command)
      this text, on stdout, exit 0 (no command at all: this text on stderr, exit 2)

configuration: the apps' environment variables and config.yml (CONFIG_FILE); commands that read Redis need
CONNECTOR_ID and the REDIS_* settings.
exit codes: 0 all good; 1 attention needed (circuit open, dead letters present, no reader, failed jobs,
Redis unreachable, not found); 2 usage or configuration error.`;
