// HTTP-shape unit tests of the hub client with undici's MockAgent (the dispatcher seam).
// Behaviour against a real server is covered by the emulator tests.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import { MachineToken } from '../../src/auth/token.js';
import { HubClient } from '../../src/hub/client.js';

const ORIGIN = 'http://127.0.0.1:9';
const claims = Buffer.concat([Buffer.from(JSON.stringify({ permissions: ['Internal Hub Write'] })), Buffer.alloc(64)]);
const TOKEN = `v4.public.${claims.toString('base64url')}`;

let agent: MockAgent;
let client: HubClient;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  client = new HubClient({
    url: ORIGIN,
    token: () => new MachineToken(TOKEN, 'test'),
    timeoutMs: 500,
    paths: { graphql: '/v1/graphql', sensors: '/v1/hub/sensors', spectra: '/v1/hub/spectra' },
    dispatcher: agent,
  });
});
afterEach(async () => {
  await agent.close();
});

function replyGraphql(status: number, body: unknown, headers: Record<string, string> = {}) {
  agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).reply(status, JSON.stringify(body), { headers });
}

describe('HubClient', () => {
  it('sends the bearer token, JSON content type and the batch id as Idempotency-Key', async () => {
    let seen: Record<string, string> = {};
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/graphql', method: 'POST' })
      .reply((opts) => {
        seen = opts.headers as Record<string, string>;
        return { statusCode: 200, data: JSON.stringify({ data: { storeSensorMeasureData: { clientMutationId: 'b1' } } }) };
      });
    const out = await client.storeMeasures('{}', 'b1');
    expect(out.kind).toBe('ok');
    expect(seen.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen['content-type']).toBe('application/json');
    expect(seen['idempotency-key']).toBe('b1');
  });

  it('accepts the documented success shape too', async () => {
    replyGraphql(200, { data: { clientMutationId: 'b1' } });
    expect((await client.storeMeasures('{}', 'b1')).kind).toBe('ok');
  });

  it('reads GraphQL errors inside a 200', async () => {
    replyGraphql(200, { data: null, errors: [{ message: 'no write', extensions: { code: 'FORBIDDEN' } }] });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'forbidden', reason: 'no write' });
    replyGraphql(200, { errors: [{ message: 'dataPoints[2].timestamp bad', extensions: { code: 'BAD_USER_INPUT' } }] });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'rejected', reason: expect.stringContaining('dataPoints[2]') });
    replyGraphql(200, { errors: [{ message: 'internal', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    expect((await client.storeMeasures('{}', 'b')).kind).toBe('retryable');
  });

  it('classifies statuses: 429 with Retry-After, 503, 401, 403, 413, 400, 500', async () => {
    replyGraphql(429, { error: 'slow down' }, { 'retry-after': '3' });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', throttled: true, retryAfterMs: 3000 });
    replyGraphql(503, {});
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', throttled: true });
    replyGraphql(401, { error: 'unauthorized' });
    expect((await client.storeMeasures('{}', 'b')).kind).toBe('unauthorized');
    replyGraphql(403, {});
    expect((await client.storeMeasures('{}', 'b')).kind).toBe('forbidden');
    replyGraphql(413, {});
    expect((await client.storeMeasures('{}', 'b')).kind).toBe('too_large');
    replyGraphql(400, { message: 'bad body' });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'rejected', reason: 'HTTP 400: bad body' });
    replyGraphql(500, {});
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', throttled: false });
  });

  it('turns network errors and timeouts into retryable outcomes', async () => {
    agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).replyWithError(new Error('socket hang up'));
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', status: null });
    agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).reply(200, '{}').delay(2000);
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', reason: 'no answer within 500 ms' });
  });

  it('creates sensors and passes 409 through as a conflict with the body', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/hub/sensors', method: 'POST' })
      .reply(409, JSON.stringify({ id: 'abc' }));
    expect(await client.createSensor({ name: 'p', mappingId: 'p', ingest: 'timeseries' })).toEqual({
      kind: 'conflict',
      status: 409,
      body: { id: 'abc' },
    });
  });
});
