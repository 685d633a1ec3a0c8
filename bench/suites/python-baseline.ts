// BASELINE — not the product. The Python "OpenCTI Sekoia.io Intel" stream connector's algorithm
// (OpenCTI-Platform/connectors stream/sekoia-intel, shared/reference/sekoia-ioc-api.md §4), re-implemented here
// only to measure it on the same simulators:
//   - reads the live stream (SSE, snapshot recovery from 0-0 like pycti on a first start), one message at a time;
//   - create/update of a STIX indicator, not revoked: one `POST {base}/{cid}/indicators/text` with every
//     comparison value of the pattern joined by newlines, `format` taken from the FIRST comparison's attribute,
//     valid_from / valid_until / kill_chain_phases / description (the OpenCTI link); the task id is ignored;
//   - delete, or revoked: per value `GET {base}/{cid}/indicators?term=<value>` (not URL-encoded, first 20 hits)
//     then `DELETE …/indicators/{id}` for every non-revoked hit;
//   - sequential, no rate limiting, no retry: an error (a 429 included) is logged and swallowed — the event is lost.
// Approximation (said in the report): the pattern is flattened with a regular expression over
// `<object>:<path> <op> '<string>'` comparisons (stix-shifter pushes the values of `=`, `!=`, LIKE, MATCHES alike;
// IN lists carry no string value and are dropped), not with stix-shifter itself.
import {
  computeExpectedCollection,
  messagesFromLog,
  OCTI_EXT,
  startOpenCtiSimulator,
  startSekoiaSimulator,
} from '@octi-sekoia/simulators';
import { round } from '../lib/children.ts';
import { fmt, loadScenario, pct, type SuiteContext, type SuiteResult } from '../lib/result.ts';
import { readSse } from '../lib/sse.ts';
import { SHARED_TEMPLATE } from '../lib/stack.ts';

const COMPARISON = /([a-z0-9-]+):([A-Za-z0-9_.'-]+)\s*(?:=|!=|<>|LIKE|MATCHES)\s*'((?:[^'\\]|\\.)*)'/g;

/** parse_stix_pattern + CTIConverter.create_sekoia_ioc, approximated. */
export function pythonImport(pattern: string): { format: string; indicators: string } | undefined {
  const parts = [...pattern.matchAll(COMPARISON)].map((m) => ({
    attribute: `${m[1]}:${m[2]}`,
    value: m[3]!.replace(/\\(.)/g, '$1'),
  }));
  if (parts.length === 0) return undefined;
  const a = parts[0]!.attribute;
  const format = a.includes('ipv4')
    ? 'ipv4-addr.value'
    : a.includes('ipv6')
      ? 'ipv6-addr.value'
      : a.includes('domain')
        ? 'domain-name.value'
        : a.includes('url')
          ? 'url.value'
          : a.includes('email')
            ? 'email-addr.value'
            : a.includes('hashes')
              ? 'file.hashes'
              : 'one_per_line';
  const indicators = parts.map((p) => p.value).join('\n');
  return indicators === '' ? undefined : { format, indicators };
}

export async function runPythonBaseline(ctx: SuiteContext, size: number): Promise<SuiteResult> {
  const latencyMs = 20;
  const limit = { rps: 5, burst: 5 };
  const opencti = await startOpenCtiSimulator({ heartbeatMs: 1000 });
  const sekoia = await startSekoiaSimulator({
    faults: { latencyMs, rateLimit: { ...limit, retryAfter: 'seconds' } },
  });
  const abort = new AbortController();
  try {
    const scenario = loadScenario(opencti, { values: size, seed: 1, sharedFields: true });
    ctx.log(`baseline: ${scenario.indicators} indicators loaded (${scenario.events} stream events)`);
    const base = `${sekoia.url}/v2/inthreat/ioc-collections/${sekoia.collectionId}`;
    const headers = {
      authorization: `Bearer ${sekoia.apiKey}`,
      'content-type': 'application/json',
      accept: 'application/json',
    };
    let lost = 0;
    let upserts = 0;
    let removes = 0;
    let skipped = 0;
    let indicatorFrames = 0;
    const call = async (method: string, url: string, body?: unknown): Promise<unknown> => {
      const res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (method === 'DELETE' && res.status === 404) return undefined;
      if (res.status >= 400) throw new Error(`HTTP ${res.status}`);
      return text ? JSON.parse(text) : undefined;
    };

    const recoverMs = Date.now();
    const url = `${opencti.url}/stream/${opencti.streamId}?recover=${encodeURIComponent(new Date(recoverMs).toISOString())}`;
    const start = performance.now();
    let end = start;
    const deadline = Date.now() + Math.max(120_000, size * 200);
    const stream = readSse(
      url,
      {
        authorization: `Bearer ${opencti.token}`,
        'last-event-id': '0-0',
        'listen-delete': 'true',
        'no-dependencies': 'true',
      },
      abort.signal,
    );
    for await (const msg of stream) {
      if (Date.now() > deadline) throw new Error('baseline: stream not read within its deadline');
      // The recovery is over once a heartbeat carries an id past the recovery date (the stream is idle).
      if (msg.event === 'heartbeat') {
        if (Number(msg.id?.split('-')[0] ?? 0) > recoverMs) break;
        continue;
      }
      if (msg.event !== 'create' && msg.event !== 'update' && msg.event !== 'delete') continue;
      const data = (JSON.parse(msg.data) as { data: Record<string, unknown> }).data;
      if (data.type !== 'indicator') continue;
      if (data.pattern_type !== 'stix') {
        indicatorFrames++;
        skipped++;
        continue;
      }
      indicatorFrames++;
      const ioc = pythonImport(String(data.pattern ?? ''));
      end = performance.now();
      if (!ioc) continue;
      const internalId = (data.extensions as Record<string, { id?: string }> | undefined)?.[OCTI_EXT]?.id;
      try {
        if (msg.event === 'delete' || data.revoked === true) {
          removes++;
          const hits: Array<{ id: string; revoked?: boolean }> = [];
          for (const term of ioc.indicators.split('\n')) {
            if (term === '') continue;
            // Not URL-encoded, as the Python connector builds it (`&`, `#`, `+` change the query).
            const r = (await call('GET', `${base}/indicators?term=${term}`)) as
              | { items?: typeof hits }
              | undefined;
            hits.push(...(r?.items ?? []).filter((i) => !i.revoked));
          }
          for (const h of hits) await call('DELETE', `${base}/indicators/${h.id}`);
        } else {
          upserts++;
          const body: Record<string, unknown> = {
            format: ioc.format,
            indicators: ioc.indicators,
            valid_from: data.valid_from,
            valid_until: data.valid_until,
            kill_chain_phases: data.kill_chain_phases,
            description: `${opencti.url}/dashboard/observations/indicators/${internalId}`,
          };
          for (const k of Object.keys(body)) if (body[k] === undefined || body[k] === null) delete body[k];
          await call('POST', `${base}/indicators/text`, body);
        }
      } catch {
        lost++; // logged and swallowed by the Python connector: the event is lost
      }
      end = performance.now();
    }
    abort.abort();
    const seconds = (end - start) / 1000;
    sekoia.control.flushTasks();

    const expected = computeExpectedCollection(messagesFromLog(opencti.control.entries()), {
      openctiUrl: opencti.url,
      descriptionTemplate: SHARED_TEMPLATE,
      validUntilRounding: 'day',
      extractionMode: 'strict',
    });
    const live = new Set(sekoia.control.liveValues());
    let present = 0;
    for (const v of expected.keys()) if (live.has(v)) present++;
    const requests = sekoia.control.requestCount();
    const r429 = sekoia.control.requestCount(undefined, 429);
    const accepted = sekoia.control.requestCount('import-text', 202);
    const events = upserts + removes;
    const figures = {
      indicatorEvents: indicatorFrames,
      eventsWithRequests: events,
      upsertEvents: upserts,
      removeEvents: removes,
      nonStixSkipped: skipped,
      eventsLost: lost,
      seconds: round(seconds, 2),
      indicatorEventsPerSecond: round(indicatorFrames / seconds, 2),
      importsAccepted: accepted,
      acceptedImportsPerSecond: round(accepted / seconds, 3),
      requests,
      requestsPerSecond: round(requests / seconds, 2),
      requests429: r429,
      share429: round(r429 / requests, 4),
      counters: sekoia.control.counters(),
      expectedValues: expected.size,
      expectedValuesPresent: present,
      valuesDeliveredPerSecond: round(present / seconds, 3),
    };
    return {
      suite: 'baseline',
      title: 'Python connector algorithm (baseline, re-implemented in the bench)',
      conditions: {
        values: size,
        indicators: scenario.indicators,
        streamEvents: scenario.events,
        data: 'shared fields (the data of initial-sync (a))',
        sekoiaLatencyMs: latencyMs,
        sekoiaRateLimit: `${limit.rps} req/s token bucket, burst ${limit.burst} (simulator; over it: 429)`,
        approximation:
          'pattern flattened with a regex over string comparisons (stix-shifter approximated); format from the first comparison',
      },
      figures,
      rows: [
        {
          figure: 'indicator events processed / s (sequential)',
          value: fmt(figures.indicatorEventsPerSecond),
        },
        { figure: 'requests / s sent', value: fmt(figures.requestsPerSecond) },
        {
          figure: 'requests answered 429 (events lost)',
          value: `${r429} of ${requests} (${pct(figures.share429)}); ${lost} of ${events} events lost`,
        },
        { figure: 'imports accepted / s', value: fmt(figures.acceptedImportsPerSecond, 3) },
        {
          figure: 'values delivered / s (in Sekoia at the end)',
          value: `${fmt(figures.valuesDeliveredPerSecond, 3)} (${present} of ${expected.size} expected values)`,
        },
      ],
      notes: [
        'Baseline = the Python connector algorithm re-implemented in bench/suites/python-baseline.ts (pattern flattening approximated by a regex); not the Python code itself.',
      ],
    };
  } finally {
    abort.abort();
    await Promise.allSettled([opencti.close(), sekoia.close()]);
  }
}
