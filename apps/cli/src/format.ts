import { eventIdMs, isEventId } from '@octi-sekoia/opencti';

/** `key: value` lines with the values aligned. */
export function aligned(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...rows.map(([k]) => k.length + 1));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}`).join('\n');
}

/** `12 s`, `5 min`, `3 h`, `2 d` (rounded down). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/** `2026-01-01T00:00:00.000Z (5 min ago)`, or the input as given when it is not a date. */
export function when(iso: string | undefined, now: number): string {
  if (!iso) return 'unknown';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return t <= now ? `${iso} (${duration(now - t)} ago)` : `${iso} (in ${duration(t - now)})`;
}

/** The time of a stream id `<ms>-<seq>`, or undefined. */
export function eventIdTime(id: string | undefined): string | undefined {
  if (!id || !isEventId(id)) return undefined;
  const d = new Date(eventIdMs(id));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** `n thing` / `n things`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** The first line, shortened. */
export function short(text: string, max = 100): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
