import type { IndicatorJob, IocAttributes } from '@octi-sekoia/model';
import type { Budget } from '../src/index.ts';

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

/** A budget that hands out tokens until `stall()`, then holds every taker until `release()`. */
export class StallableBudget implements Budget {
  taken = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  waiting = 0;
  stall(): void {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  async take(): Promise<void> {
    if (this.gate) {
      this.waiting += 1;
      await this.gate;
      this.waiting -= 1;
    }
    this.taken += 1;
  }
  async pause(): Promise<void> {}
}
