import { hostname, userInfo } from 'node:os';
import {
  type ConnectorQueues,
  type DeadLetterEntry,
  type DeadLetterKind,
  deadLetterId,
  discardDeadLetter,
  getDeadLetter,
  type ReplayHandlers,
  type ReplayOutcome,
  replayDeadLetter,
} from '@octi-sekoia/queue';
import { parseArgs, positiveInt } from './args.ts';
import {
  type Connection,
  readQueues,
  syncState,
  withConnection,
  withWritingConnection,
  writeQueues,
} from './context.ts';
import { countByKind, DEAD_LETTER_KINDS, deadLetterIds, kindOfId } from './counts.ts';
import { aligned, plural, short } from './format.ts';
import { CommandError, EXIT_ATTENTION, EXIT_OK, type Io, UsageError } from './io.ts';

const DEFAULT_LIMIT = 50;

function kindOption(raw: string | undefined): DeadLetterKind | undefined {
  if (raw === undefined) return undefined;
  if (!(DEAD_LETTER_KINDS as readonly string[]).includes(raw)) {
    throw new UsageError(`dead-letters: --kind must be event, job or value, got ${JSON.stringify(raw)}`);
  }
  return raw as DeadLetterKind;
}

/** An id as listed, or the subject (event id, job id, value) of a dead letter. */
async function find(q: ConnectorQueues, idOrSubject: string): Promise<DeadLetterEntry | undefined> {
  const direct = await getDeadLetter(q, idOrSubject);
  if (direct) return direct;
  for (const kind of DEAD_LETTER_KINDS) {
    const entry = await getDeadLetter(q, deadLetterId(kind, idOrSubject));
    if (entry) return entry;
  }
  return undefined;
}

function notFound(idOrSubject: string): CommandError {
  return new CommandError(
    `no dead letter ${JSON.stringify(idOrSubject)} (neither an id nor a subject; see: dead-letters list)`,
    EXIT_ATTENTION,
  );
}

/** What a listing shows of an entry (the payload only with `show`). */
function summary(e: DeadLetterEntry) {
  return {
    id: e.id,
    kind: e.kind,
    subject: e.subject,
    state: e.state,
    attempts: e.attempts,
    firstSeen: e.firstSeen,
    lastSeen: e.lastSeen,
    error: e.error,
  };
}

async function list(io: Io, args: readonly string[]): Promise<number> {
  const { flags, options } = parseArgs('dead-letters list', args, {
    flags: ['--json'],
    options: ['--kind', '--limit'],
  });
  const kind = kindOption(options.get('--kind'));
  const limit = positiveInt('dead-letters list', '--limit', options.get('--limit'), DEFAULT_LIMIT);
  const result = await withConnection(io, async (c) => {
    const q = readQueues(c);
    try {
      const ids = await deadLetterIds(q);
      const matching = kind ? ids.filter((id) => kindOfId(id) === kind) : ids;
      const entries: DeadLetterEntry[] = [];
      for (const id of matching.slice(0, limit)) {
        const e = await getDeadLetter(q, id);
        if (e) entries.push(e);
      }
      entries.sort((x, y) => y.lastSeen.localeCompare(x.lastSeen));
      return { counts: countByKind(ids), matching: matching.length, entries };
    } finally {
      await q.close();
    }
  });
  const { counts, matching, entries } = result;
  if (flags.has('--json')) {
    io.json({ counts, kind: kind ?? null, matching, shown: entries.length, entries: entries.map(summary) });
  } else if (matching === 0) {
    io.out(
      kind
        ? `no dead letters of kind ${kind} (${plural(counts.total, 'dead letter')} in all)`
        : 'no dead letters',
    );
  } else {
    for (const e of entries) {
      io.out(
        `${e.id}  ${e.kind.padEnd(5)}  ×${e.attempts}  last ${e.lastSeen}  ${short(e.subject, 60)}\n    ${short(e.error, 160)}`,
      );
    }
    const of = kind ? `${matching} of kind ${kind}` : String(matching);
    io.out(
      `\n${entries.length < matching ? `showing ${entries.length} of ${of}` : `${of} shown`}; in all: event ${counts.event}, job ${counts.job}, value ${counts.value}`,
    );
    io.out('show one: dead-letters show <id>   send back: dead-letters replay <id>|--all');
  }
  return matching > 0 ? EXIT_ATTENTION : EXIT_OK;
}

async function show(io: Io, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseArgs('dead-letters show', args, {
    flags: ['--json'],
    maxPositionals: 1,
  });
  const idOrSubject = positionals[0];
  if (idOrSubject === undefined)
    throw new UsageError('dead-letters show: which one? (an id from dead-letters list)');
  const entry = await withConnection(io, async (c) => {
    const q = readQueues(c);
    try {
      return await find(q, idOrSubject);
    } finally {
      await q.close();
    }
  });
  if (!entry) throw notFound(idOrSubject);
  if (flags.has('--json')) {
    io.json({ ...summary(entry), payload: entry.payload });
  } else {
    io.out(
      aligned([
        ['id', entry.id],
        ['kind', entry.kind],
        ['subject', entry.subject],
        ['state', entry.state],
        ['attempts', String(entry.attempts)],
        ['first seen', entry.firstSeen],
        ['last seen', entry.lastSeen],
        ['error', entry.error],
      ]),
    );
    io.out(`payload:\n${JSON.stringify(entry.payload, null, 2)}`);
  }
  return EXIT_OK;
}

/** The sync package's way of putting a value back: dirty now, and a rejection forgotten so it is re-sent. */
function handlers(c: Connection): ReplayHandlers {
  const state = syncState(c);
  return { markValueDirty: (value) => state.markDirty([value], { clearRejection: true }) };
}

function describeOutcome(o: ReplayOutcome): string {
  switch (o.kind) {
    case 'job':
      return `re-enqueued as job ${o.newJobId}`;
    case 'value':
      return `value ${JSON.stringify(o.value)} marked dirty: a worker reconciles it again`;
    case 'event':
      return `queued on ${o.list}: ingest reads it again`;
  }
}

async function replay(io: Io, args: readonly string[]): Promise<number> {
  const { flags, options, positionals } = parseArgs('dead-letters replay', args, {
    flags: ['--all', '--json'],
    options: ['--kind'],
    maxPositionals: 1,
  });
  const all = flags.has('--all');
  const kind = kindOption(options.get('--kind'));
  const idOrSubject = positionals[0];
  if (all === (idOrSubject !== undefined)) {
    throw new UsageError('dead-letters replay: give one id, or --all');
  }
  if (kind && !all) throw new UsageError('dead-letters replay: --kind goes with --all');
  const replayed = await withWritingConnection(io, async (c) => {
    const q = writeQueues(c);
    const h = handlers(c);
    try {
      const done: Array<{ id: string } & ReplayOutcome> = [];
      if (all) {
        const ids = (await deadLetterIds(q)).filter((id) => !kind || kindOfId(id) === kind);
        for (const id of ids) {
          const outcome = await replayDeadLetter(q, id, h);
          if (outcome) done.push({ id, ...outcome });
        }
        return done;
      }
      const entry = await find(q, idOrSubject as string);
      const outcome = entry ? await replayDeadLetter(q, entry.id, h) : undefined;
      if (!entry || !outcome) throw notFound(idOrSubject as string);
      done.push({ id: entry.id, ...outcome });
      return done;
    } finally {
      await q.close();
    }
  });
  if (flags.has('--json')) {
    io.json({ replayed });
  } else if (replayed.length === 0) {
    io.out(kind ? `no dead letters of kind ${kind} to replay` : 'no dead letters to replay');
  } else {
    for (const r of replayed) io.out(`${r.id}: ${describeOutcome(r)}`);
    if (replayed.length > 1) io.out(`${plural(replayed.length, 'dead letter')} replayed and removed`);
    else io.out('replayed and removed');
  }
  return EXIT_OK;
}

/** Who ran the command, for the record: the login (the invoking user under sudo) and the host. */
function operator(io: Io): string {
  let user = io.env.SUDO_USER;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = io.env.USER ?? io.env.LOGNAME ?? 'unknown';
    }
  }
  return `${user}@${hostname()}`;
}

/**
 * The only way to drop a dead letter (the dashboard refuses it): one entry at a time, with a reason. Logs who,
 * what and why (one JSON line on stderr, like the apps' logs), prints the entry with its payload (the last copy
 * of it) and counts it in `<base>:dead-letters-discarded`, which `status` shows.
 */
async function discard(io: Io, args: readonly string[]): Promise<number> {
  const { flags, options, positionals } = parseArgs('dead-letters discard', args, {
    flags: ['--json'],
    options: ['--reason'],
    maxPositionals: 1,
  });
  const idOrSubject = positionals[0];
  if (idOrSubject === undefined) {
    throw new UsageError('dead-letters discard: which one? (an id from dead-letters list; no --all)');
  }
  const reason = options.get('--reason')?.trim();
  if (!reason) {
    throw new UsageError('dead-letters discard: --reason "..." is required (it is logged with your name)');
  }
  const by = operator(io);
  const entry = await withWritingConnection(io, async (c) => {
    const q = writeQueues(c);
    try {
      const found = await find(q, idOrSubject);
      return found ? await discardDeadLetter(q, found.id) : undefined;
    } finally {
      await q.close();
    }
  });
  if (!entry) throw notFound(idOrSubject);
  const what = { id: entry.id, kind: entry.kind, subject: entry.subject, error: entry.error };
  io.err(
    JSON.stringify({
      level: 'warn',
      time: new Date().toISOString(),
      name: 'cli',
      msg: 'dead letter discarded',
      by,
      reason,
      ...what,
    }),
  );
  if (flags.has('--json')) {
    io.json({ discarded: { ...summary(entry), payload: entry.payload }, by, reason });
  } else {
    io.out(`discarded ${entry.id} (${entry.kind} ${short(entry.subject, 80)}) by ${by}: ${reason}`);
    io.out(`payload (kept nowhere else now):\n${JSON.stringify(entry.payload, null, 2)}`);
  }
  return EXIT_OK;
}

export async function deadLettersCommand(io: Io, args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list':
      return list(io, rest);
    case 'show':
      return show(io, rest);
    case 'replay':
      return replay(io, rest);
    case 'discard':
      return discard(io, rest);
    case undefined:
      throw new UsageError('dead-letters: list, show, replay or discard?');
    default:
      throw new UsageError(
        `dead-letters: unknown subcommand ${JSON.stringify(sub)} (list, show, replay or discard)`,
      );
  }
}
