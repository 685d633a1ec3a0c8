// The OpenCTI GraphQL client (packages/opencti) against the simulator, over real HTTP. It lives here, not in
// packages/opencti, because the simulators depend on the opencti vocabulary (via model): a test dependency of
// opencti on the simulators would make a workspace cycle.
import {
  ConnectorNotFoundError,
  createOpenCtiClient,
  isVersionBelow,
  OpenCtiAuthError,
  OpenCtiTransportError,
  parseConnectorState,
  type RegisterConnectorInput,
} from '@octi-sekoia/opencti';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '../src/index.ts';

const CONNECTOR: RegisterConnectorInput = {
  id: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9',
  name: 'Sekoia Intel',
  type: 'STREAM',
  scope: ['sekoia'],
};

let sim: OpenCtiSimulator;
beforeEach(async () => {
  sim = await startOpenCtiSimulator();
});
afterEach(async () => {
  await sim.close();
});

describe('OpenCTI GraphQL client against the simulator', () => {
  it('about() returns the platform version', async () => {
    const client = createOpenCtiClient({ url: sim.url, token: sim.token });
    const { version } = await client.about();
    expect(version).toBe('6.8.10');
    expect(isVersionBelow(version, '6.8')).toBe(false);
    expect(isVersionBelow('6.7.20', '6.8')).toBe(true);
    expect(isVersionBelow('7.260224.0', '6.8')).toBe(false);
  });

  it('me() lists the capabilities; streamCollection() finds the stream, whether live, or null', async () => {
    const client = createOpenCtiClient({ url: sim.url, token: sim.token });
    expect((await client.me()).capabilities).toContain('CONNECTORAPI');
    expect(await client.streamCollection(sim.streamId)).toMatchObject({ id: sim.streamId, live: true });
    sim.control.stopStream();
    expect(await client.streamCollection(sim.streamId)).toMatchObject({ live: false });
    expect(await client.streamCollection('0b5c0000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('registers, pings (state stored and returned parsed) and deletes, with pycti shapes', async () => {
    const client = createOpenCtiClient({ url: sim.url, token: sim.token });
    const reg = await client.registerConnector(CONNECTOR);
    expect(reg.id).toBe(CONNECTOR.id);
    expect(reg.state.kind).toBe('none');
    const state = { start_from: '1732615205120-0', recover_until: '2025-11-24T10:00:00Z' };
    const stored = await client.pingConnector(CONNECTOR.id, state);
    expect(stored).toMatchObject({ kind: 'state', state });
    const c = sim.control.connector({ id: CONNECTOR.id });
    expect(c?.pings.at(-1)?.state).toBe(JSON.stringify(state));
    expect(c?.pings.at(-1)?.connectorInfo).toMatchObject({ run_and_terminate: false, queue_threshold: 500 });
    expect((await client.registerConnector(CONNECTOR)).state).toMatchObject({ kind: 'state', state });
    // No state yet is sent as "null", like pycti.
    await client.pingConnector(CONNECTOR.id, null);
    expect(sim.control.connector({ id: CONNECTOR.id })?.pings.at(-1)?.state).toBe('null');
    await client.deleteConnector(CONNECTOR.id);
    expect(sim.control.connectors()).toHaveLength(0);
  });

  it('a UI reset shows as kind "reset" on the next ping (the sent state is not stored), then normal again', async () => {
    const client = createOpenCtiClient({ url: sim.url, token: sim.token });
    await client.registerConnector(CONNECTOR);
    const s1 = { start_from: '1-0', recover_until: null };
    await client.pingConnector(CONNECTOR.id, s1);
    sim.control.resetConnectorState({ id: CONNECTOR.id });
    const s2 = { start_from: '2-0', recover_until: null };
    expect(await client.pingConnector(CONNECTOR.id, s2)).toEqual({ kind: 'reset', raw: '' });
    expect(await client.pingConnector(CONNECTOR.id, s2)).toMatchObject({ kind: 'state', state: s2 });
  });

  it('an unknown connector is ConnectorNotFoundError (re-register)', async () => {
    const client = createOpenCtiClient({ url: sim.url, token: sim.token });
    const err = await client.pingConnector('missing-id', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorNotFoundError);
    expect((err as ConnectorNotFoundError).connectorId).toBe('missing-id');
    expect((err as ConnectorNotFoundError).retryable).toBe(false);
  });

  it('AUTH_REQUIRED and FORBIDDEN_ACCESS are OpenCtiAuthError; the token never appears in messages', async () => {
    const bad = createOpenCtiClient({ url: sim.url, token: 'super-secret-token-value' });
    const err = await bad.about().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenCtiAuthError);
    expect((err as OpenCtiAuthError).code).toBe('AUTH_REQUIRED');
    expect(String((err as Error).message)).not.toContain('super-secret-token-value');
    expect((err as Error).message).toContain('OPENCTI_TOKEN');

    sim.control.addToken({ token: 'reader-token-1234', capabilities: ['TAXIIAPI'] });
    const reader = createOpenCtiClient({ url: sim.url, token: 'reader-token-1234' });
    const forbidden = await reader.registerConnector(CONNECTOR).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(OpenCtiAuthError);
    expect((forbidden as OpenCtiAuthError).code).toBe('FORBIDDEN_ACCESS');
  });

  it('transport failures are retryable OpenCtiTransportError: HTTP 502, reset socket, refused connection', async () => {
    const client = createOpenCtiClient({ url: sim.url, token: sim.token });
    sim.control.failNextConnections({ status: 502, statusMessage: 'Bad Gateway', target: 'graphql' });
    const e502 = await client.about().catch((e: unknown) => e);
    expect(e502).toBeInstanceOf(OpenCtiTransportError);
    expect((e502 as OpenCtiTransportError).httpStatus).toBe(502);
    expect((e502 as OpenCtiTransportError).retryable).toBe(true);
    sim.control.failNextConnections({ status: 'reset', target: 'graphql' });
    const reset = await client.about().catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(OpenCtiTransportError);
    expect((await client.about()).version).toBe('6.8.10');

    const url = sim.url;
    await sim.close();
    const refused = await createOpenCtiClient({ url, token: sim.token })
      .about()
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenCtiTransportError);
    expect((refused as Error).message).not.toContain(sim.token);
    sim = await startOpenCtiSimulator();
  });
});

describe('connector state parsing', () => {
  it.each([
    ['', { kind: 'reset' }],
    [null, { kind: 'none' }],
    ['null', { kind: 'none' }],
    [
      '{"start_from": "5-0", "recover_until": "2025-01-01T00:00:00Z"}',
      { kind: 'state', state: { start_from: '5-0', recover_until: '2025-01-01T00:00:00Z' } },
    ],
    [
      '{"start_from": "0-0", "recover_until": null}',
      { kind: 'state', state: { start_from: '0-0', recover_until: null } },
    ],
    [
      '{"connectorLastEventId": "7-1", "connectorStartTime": "2024-01-01T00:00:00Z"}',
      { kind: 'state', state: { start_from: '7-1', recover_until: '2024-01-01T00:00:00Z' } },
    ],
    ['{"something": 1}', { kind: 'invalid' }],
    ['not json', { kind: 'invalid' }],
  ])('%j', (raw, expected) => {
    expect(parseConnectorState(raw)).toMatchObject(expected);
  });
});
