import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OpenCtiSimulator, startOpenCtiSimulator } from '../src/opencti/index.ts';
import { gql } from './opencti-helpers.ts';

// The shapes pycti 6.8 sends (docs/opencti-api.md).
const REGISTER = `mutation RegisterConnector($input: RegisterConnectorInput) {
  registerConnector(input: $input) { id connector_state connector_user_id config { connection { host vhost use_ssl port user pass } listen listen_routing listen_exchange push push_routing push_exchange } }
}`;
const PING = `mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) {
  pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state connector_info { run_and_terminate buffering queue_threshold queue_messages_size next_run_datetime last_run_datetime } }
}`;
const CONNECTOR_ID = '6a1f3c2e-7b8d-4e5f-9a0b-1c2d3e4f5a6b';
const registerVars = {
  input: {
    id: CONNECTOR_ID,
    name: 'Sekoia Intel',
    type: 'STREAM',
    scope: ['sekoia'],
    auto: false,
    auto_update: false,
    enrichment_resolution: 'none',
    only_contextual: false,
    playbook_compatible: false,
    listen_callback_uri: null,
  },
};
const connectorInfo = {
  run_and_terminate: false,
  buffering: false,
  queue_threshold: 500.0,
  queue_messages_size: 0.0,
  next_run_datetime: null,
  last_run_datetime: null,
};
const state1 = JSON.stringify({ start_from: '1732615205120-0', recover_until: '2025-11-24T10:00:00Z' });
const state2 = JSON.stringify({ start_from: '1732615300456-0', recover_until: '2025-11-24T10:00:00Z' });

let sim: OpenCtiSimulator;
beforeEach(async () => {
  sim = await startOpenCtiSimulator({ version: '6.9.1' });
});
afterEach(async () => {
  await sim.close();
});

describe('OpenCTI simulator GraphQL', () => {
  it('answers about { version } with the configured version (default 6.8.10)', async () => {
    const r = await gql(sim, sim.token, 'query { about { version } }');
    expect(r.status).toBe(200);
    expect(r.body.data.about.version).toBe('6.9.1');
    const other = await startOpenCtiSimulator();
    try {
      const d = await gql(other, other.token, 'query { about { version } }');
      expect(d.body.data.about.version).toBe('6.8.10');
    } finally {
      await other.close();
    }
  });

  it('registers a connector, stores pinged state and returns it', async () => {
    const reg = await gql(sim, sim.token, REGISTER, registerVars);
    expect(reg.body.errors).toBeUndefined();
    expect(reg.body.data.registerConnector.id).toBe(CONNECTOR_ID);
    expect(reg.body.data.registerConnector.connector_state).toBeNull();
    expect(typeof reg.body.data.registerConnector.connector_user_id).toBe('string');

    const p1 = await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: state1, connectorInfo });
    expect(p1.body.data.pingConnector.connector_state).toBe(state1);
    const p2 = await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: state2, connectorInfo });
    expect(p2.body.data.pingConnector.connector_state).toBe(state2);

    // Re-registering the same id updates it and keeps the state.
    const again = await gql(sim, sim.token, REGISTER, registerVars);
    expect(again.body.data.registerConnector.connector_state).toBe(state2);

    const [c] = sim.control.connectors();
    expect(c?.name).toBe('Sekoia Intel');
    expect(c?.type).toBe('STREAM');
    expect(c?.scope).toEqual(['sekoia']);
    expect(c?.registrations).toBe(2);
    expect(c?.pings.map((p) => p.state)).toEqual([state1, state2]);
    expect(c?.pings[0]?.connectorInfo).toEqual(connectorInfo);
  });

  it('reset: the next ping only clears the flag and returns the empty state; the one after stores again', async () => {
    await gql(sim, sim.token, REGISTER, registerVars);
    await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: state1, connectorInfo });
    const reset = await gql(
      sim,
      sim.token,
      `mutation { resetStateConnector(id: "${CONNECTOR_ID}") { id connector_state } }`,
    );
    expect(reset.body.errors).toBeUndefined();
    expect(reset.body.data.resetStateConnector.connector_state).toBe('');
    expect(sim.control.connector({ id: CONNECTOR_ID })?.resetFlag).toBe(true);

    const consumed = await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: state2, connectorInfo });
    expect(consumed.body.data.pingConnector.connector_state).toBe('');
    expect(sim.control.connector({ id: CONNECTOR_ID })?.resetFlag).toBe(false);
    expect(sim.control.connector({ id: CONNECTOR_ID })?.state).toBe('');

    const stored = await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: state2, connectorInfo });
    expect(stored.body.data.pingConnector.connector_state).toBe(state2);
    const pings = sim.control.connector({ id: CONNECTOR_ID })?.pings ?? [];
    expect(pings.map((p) => p.consumedReset)).toEqual([false, true, false]);
  });

  it('control.resetConnectorState behaves like the UI reset', async () => {
    await gql(sim, sim.token, REGISTER, registerVars);
    await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: state1, connectorInfo });
    sim.control.resetConnectorState({ id: CONNECTOR_ID });
    const r = await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: state1, connectorInfo });
    expect(r.body.data.pingConnector.connector_state).toBe('');
  });

  it('an unknown connector on ping is a FUNCTIONAL_ERROR inside an HTTP 200', async () => {
    const r = await gql(sim, sim.token, PING, { id: 'nope', state: 'null', connectorInfo });
    expect(r.status).toBe(200);
    expect(r.body.data.pingConnector).toBeNull();
    expect(r.body.errors[0].message).toBe('No connector found with the specified ID');
    expect(r.body.errors[0].extensions.code).toBe('FUNCTIONAL_ERROR');
    expect(r.body.errors[0].path).toEqual(['pingConnector']);
  });

  it('deleteConnector removes it: the next ping is FUNCTIONAL_ERROR', async () => {
    await gql(sim, sim.token, REGISTER, registerVars);
    const del = await gql(
      sim,
      sim.token,
      'mutation ConnectorDeletionMutation($id: ID!) { deleteConnector(id: $id) }',
      {
        id: CONNECTOR_ID,
      },
    );
    expect(del.body.data.deleteConnector).toBe(CONNECTOR_ID);
    const r = await gql(sim, sim.token, PING, { id: CONNECTOR_ID, state: 'null', connectorInfo });
    expect(r.body.errors[0].extensions.code).toBe('FUNCTIONAL_ERROR');
  });

  it('a bad, missing or revoked token is AUTH_REQUIRED in an HTTP 200 envelope (reference shape)', async () => {
    for (const token of ['wrong-token', undefined]) {
      const r = await gql(sim, token, PING, { id: CONNECTOR_ID, state: 'null', connectorInfo });
      expect(r.status).toBe(200);
      // §5: {"errors":[{"message","locations","path","extensions":{"code","data":{"http_status","genre"}}}],"data":{…:null}}
      expect(r.body).toEqual({
        errors: [
          {
            message: 'You must be logged in to do this.',
            locations: expect.any(Array),
            path: ['pingConnector'],
            extensions: { code: 'AUTH_REQUIRED', data: { http_status: 401, genre: 'TECHNICAL' } },
          },
        ],
        data: { pingConnector: null },
      });
    }
    sim.control.revokeToken();
    const revoked = await gql(sim, sim.token, 'query { about { version } }');
    expect(revoked.body.errors[0].extensions.code).toBe('AUTH_REQUIRED');
    sim.control.restoreToken();
    const restored = await gql(sim, sim.token, 'query { about { version } }');
    expect(restored.body.data.about.version).toBe('6.9.1');
  });

  it('a token without the connector capability gets FORBIDDEN_ACCESS', async () => {
    sim.control.addToken({ token: 'reader', capabilities: ['TAXIIAPI'] });
    const r = await gql(sim, 'reader', REGISTER, registerVars);
    expect(r.status).toBe(200);
    expect(r.body.errors[0].extensions.code).toBe('FORBIDDEN_ACCESS');
    expect(r.body.errors[0].extensions.data.http_status).toBe(403);
    expect(r.body.data.registerConnector).toBeNull();
  });

  it('validates registerConnector input (name of 2+ characters, a known type)', async () => {
    const short = await gql(sim, sim.token, REGISTER, { input: { ...registerVars.input, name: 'x' } });
    expect(short.body.errors[0].extensions.code).toBe('VALIDATION_ERROR');
    const badType = await gql(sim, sim.token, REGISTER, { input: { ...registerVars.input, type: 'NOPE' } });
    expect(badType.body.errors[0].extensions.code).toBe('VALIDATION_ERROR');
  });

  it('records the GraphQL requests (headers with the token masked)', async () => {
    await gql(sim, sim.token, 'query { about { version } }');
    const [rec] = sim.control.graphqlLog();
    expect(rec?.fields).toEqual(['about']);
    expect(rec?.headers.authorization).toBe('Bearer ***');
    expect(JSON.stringify(sim.control.graphqlLog())).not.toContain(sim.token);
  });

  it("me lists the capabilities of the token's user; streamCollection reports the stream and whether it is live", async () => {
    const me = await gql(sim, sim.token, 'query { me { id capabilities { name } } }');
    expect(me.body.data.me.capabilities.map((c: { name: string }) => c.name)).toContain('CONNECTORAPI');
    sim.control.addToken({ token: 'reader', capabilities: ['TAXIIAPI'] });
    const reader = await gql(sim, 'reader', 'query { me { id capabilities { name } } }');
    expect(reader.body.data.me.capabilities).toEqual([{ name: 'TAXIIAPI' }]);
    const q = 'query S($id: String!) { streamCollection(id: $id) { id name stream_live } }';
    const live = await gql(sim, sim.token, q, { id: sim.streamId });
    expect(live.body.data.streamCollection).toMatchObject({ id: sim.streamId, stream_live: true });
    sim.control.stopStream();
    expect((await gql(sim, sim.token, q, { id: sim.streamId })).body.data.streamCollection.stream_live).toBe(
      false,
    );
    expect((await gql(sim, sim.token, q, { id: 'no-such-stream' })).body.data.streamCollection).toBeNull();
  });
});
