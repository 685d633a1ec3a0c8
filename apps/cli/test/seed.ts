// Seeds Redis the way the real packages write it: sync state through SyncState, dead letters through
// addDeadLetter, jobs through BullMQ, and the JSON keys ingest and the worker publish with plain SETs.
import type { IndicatorJob } from '@octi-sekoia/model';
import { addDeadLetter, type ConnectorQueues, connectorsKey, keys } from '@octi-sekoia/queue';
import { type Claim, type Mutation, SyncState } from '@octi-sekoia/sync';
import type { TestRedis } from '@octi-sekoia/testkit';
import { waitFor } from '@octi-sekoia/testkit';
import { UnrecoverableError, Worker } from 'bullmq';
import { CONNECTOR_ID, indicatorJob } from './helpers.ts';

export function connectorKeys(r: TestRedis, connectorId = CONNECTOR_ID) {
  return { ...keys(r.prefix, connectorId), connectors: connectorsKey(r.prefix) };
}

export function syncState(r: TestRedis): SyncState {
  return new SyncState(r.client, { keyPrefix: r.prefix, connectorId: CONNECTOR_ID });
}

/** Records the outcome of a claimed value at its current desired version. */
async function apply(
  state: SyncState,
  claim: Claim,
  value: string,
  muts: (fp: string, version: number) => Mutation[],
) {
  const [st] = await state.readValues([value]);
  if (!st) throw new Error(`no state for ${value}`);
  const result = await state.recordApplied(
    claim,
    value,
    st.desired.version,
    'done',
    muts(st.desired.fp ?? '', st.desired.version),
  );
  if (result.outcome !== 'done')
    throw new Error(`recordApplied ${value}: ${result.outcome} ${result.reason}`);
}

/**
 * Values in each state the CLI counts: 1.2.3.4 live (created), evil.example rejected, gone.example revoked
 * (created, then its indicator removed and the IOC revoked), 5.6.7.8 pending (still dirty).
 */
export async function seedValues(r: TestRedis, generation: number): Promise<void> {
  const state = syncState(r);
  const job = (over: Partial<IndicatorJob>) => indicatorJob({ generation, ...over });
  await state.recordDesired(
    job({ eventId: '1764300000000-0', indicatorId: 'ind-1', values: ['1.2.3.4', 'evil.example'] }),
  );
  await state.recordDesired(
    job({ eventId: '1764300000001-0', indicatorId: 'ind-2', values: ['gone.example'] }),
  );
  const claim = await state.claimDirty(10);
  await apply(state, claim, '1.2.3.4', (fp) => [{ op: 'setid', id: 'ioc-1', fp }]);
  await apply(state, claim, 'evil.example', (_fp, version) => [
    { op: 'rej', reason: '400 invalid value', version },
  ]);
  await apply(state, claim, 'gone.example', (fp) => [{ op: 'setid', id: 'ioc-2', fp }]);
  await state.recordDesired(
    job({ eventId: '1764300000002-0', indicatorId: 'ind-2', op: 'remove', values: [] }),
  );
  const revoke = await state.claimDirty(10);
  await apply(state, revoke, 'gone.example', () => [{ op: 'delid', id: 'ioc-2' }]);
  await state.recordDesired(job({ eventId: '1764300000003-0', indicatorId: 'ind-3', values: ['5.6.7.8'] }));
}

export interface HealthyOptions {
  generation?: number;
  now?: Date;
}

/** A connector in good health: a leader with the stream open, circuit closed, checkpoint, usage. */
export async function seedHealthy(r: TestRedis, opts: HealthyOptions = {}): Promise<void> {
  const k = connectorKeys(r);
  const generation = opts.generation ?? 2;
  const at = (opts.now ?? new Date()).toISOString();
  await r.client
    .multi()
    .set(k.generation, String(generation))
    .set(k.lease, 'lease-token', 'PX', 60_000)
    .set(k.ingestStatus, JSON.stringify({ state: 'open', message: 'connected', at, host: 'ingest-1' }))
    .set(
      k.checkpoint,
      JSON.stringify({ start_from: '1764300000003-0', recover_until: null, generation, sweep: null }),
    )
    .set(k.circuit, JSON.stringify({ state: 'closed' }))
    .set(k.collectionUsage, JSON.stringify({ count: 2, max: 500_000, at }))
    .hset(k.info, { name: 'Sekoia.io', streamId: 'live-stream-1' })
    .exec();
  await r.client.sadd(k.connectors, CONNECTOR_ID);
  await seedValues(r, generation);
}

/** One dead letter of each kind; returns their ids. */
export async function seedDeadLetters(q: ConnectorQueues) {
  const job = await addDeadLetter(q, {
    kind: 'job',
    payload: indicatorJob({ eventId: '1764300000009-0', indicatorId: 'ind-9', values: ['9.9.9.9'] }),
    error: 'Redis script error after 25 attempts',
  });
  const value = await addDeadLetter(q, {
    kind: 'value',
    payload: { value: 'evil.example', reason: '400 invalid value', desiredVersion: 2 },
    error: '400 invalid value',
  });
  const event = await addDeadLetter(q, {
    kind: 'event',
    payload: { id: '1764300000010-0', event: 'create', data: '{not json' },
    error: 'malformed event: bad JSON',
  });
  return { job, value, event };
}

/** A job the indicators queue holds as failed (as after its attempts are exhausted). */
export async function seedFailedJob(r: TestRedis, q: ConnectorQueues): Promise<void> {
  const worker = new Worker(
    q.keys.queues.indicators,
    async () => {
      throw new UnrecoverableError('recordDesired: bad event id');
    },
    { connection: r.connect(), prefix: q.keys.bullPrefix },
  );
  try {
    await q.indicators.add('upsert', indicatorJob({ eventId: '1764300000020-0', indicatorId: 'ind-20' }));
    await waitFor(async () => (await q.indicators.getJobCounts('failed')).failed === 1, {
      what: 'a failed job',
    });
  } finally {
    await worker.close();
  }
}
