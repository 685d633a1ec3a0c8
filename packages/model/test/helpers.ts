import { OPENCTI_EXTENSION, type StreamMessage } from '@octi-sekoia/opencti';
import type { NormalizeConfig, NormalizeResult } from '../src/index.ts';
import { DEFAULT_DESCRIPTION_TEMPLATE } from '../src/index.ts';

/** Splits SSE wire text into messages (LF framing, one data line per message, as OpenCTI sends). */
export function parseSse(text: string): StreamMessage[] {
  const out: StreamMessage[] = [];
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue;
    const msg: Partial<StreamMessage> = {};
    for (const line of block.split('\n')) {
      const i = line.indexOf(': ');
      const [field, value] = [line.slice(0, i), line.slice(i + 2)];
      if (field === 'id') msg.id = value;
      else if (field === 'event') msg.event = value;
      else if (field === 'data') msg.data = value;
    }
    out.push(msg as StreamMessage);
  }
  return out;
}

export const config: NormalizeConfig = {
  openctiUrl: 'https://opencti.example.org/',
  descriptionTemplate: DEFAULT_DESCRIPTION_TEMPLATE,
  validUntilRounding: 'none',
  extractionMode: 'strict',
  generation: 1,
  maxEventBytes: 1_000_000,
};

type Obj = Record<string, unknown>;

/** A streamed indicator (docs/opencti-api.md shape) with overrides; `internalId: null` drops the id. */
export function indicator(over: Obj = {}, internalId: string | null = 'iid-1'): Obj {
  const ext: Obj = {
    extension_type: 'property-extension',
    type: 'Indicator',
    score: 80,
    main_observable_type: 'IPv4-Addr',
  };
  if (internalId !== null) ext.id = internalId;
  return {
    id: `indicator--stix-${internalId ?? 'none'}`,
    spec_version: '2.1',
    type: 'indicator',
    extensions: { [OPENCTI_EXTENSION]: ext },
    created: '2024-11-26T10:00:05.000Z',
    modified: '2024-11-26T10:00:05.101Z',
    revoked: false,
    labels: ['c2'],
    name: 'test',
    pattern: "[ipv4-addr:value = '198.51.100.7']",
    pattern_type: 'stix',
    valid_from: '2024-11-26T10:00:05.000Z',
    ...over,
  };
}

/** A live-event message: `event` name on the wire, envelope `type` separately (they differ on visibility changes). */
export function message(
  event: string,
  data: Obj,
  opts: { type?: string; context?: Obj; id?: string } = {},
): StreamMessage {
  const envelope: Obj = {
    version: '4',
    type: opts.type ?? event,
    scope: 'external',
    message: 'm',
    origin: {},
    data,
  };
  if (opts.context) envelope.context = opts.context;
  return { id: opts.id ?? '1732615205120-0', event, data: JSON.stringify(envelope) };
}

/** The parts of a result a test asserts on. */
export function summary(r: NormalizeResult) {
  if (r.outcome !== 'jobs') return r;
  return {
    outcome: r.outcome,
    jobs: r.jobs.map((j) => ({
      op: j.op,
      indicatorId: j.indicatorId,
      values: j.values,
      previous: j.previous,
    })),
    findings: r.findings.map((f) => f.kind),
  };
}
