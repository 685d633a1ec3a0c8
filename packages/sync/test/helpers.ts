import type { IndicatorJob, IocAttributes } from '@octi-sekoia/model';

export function attrs(description: string, over: Partial<IocAttributes> = {}): IocAttributes {
  return { validFrom: '2024-01-01T00:00:00.000Z', killChainPhases: [], description, ...over };
}

export function upsert(
  indicatorId: string,
  eventId: string,
  values: string[],
  opts: { generation?: number; description?: string; previous?: string[] } = {},
): IndicatorJob {
  return {
    kind: 'indicator',
    generation: opts.generation ?? 1,
    eventId,
    op: 'upsert',
    indicatorId,
    stixId: `indicator--${indicatorId}`,
    attributes: attrs(opts.description ?? `desc ${indicatorId} @${eventId}`),
    values,
    ...(opts.previous ? { previous: opts.previous } : {}),
  };
}

export function remove(
  indicatorId: string,
  eventId: string,
  opts: { generation?: number } = {},
): IndicatorJob {
  return {
    kind: 'indicator',
    generation: opts.generation ?? 1,
    eventId,
    op: 'remove',
    indicatorId,
    stixId: `indicator--${indicatorId}`,
    attributes: attrs(''),
    values: [],
  };
}
