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
    replyGraphql(400, { errors: [{ message: 'bad body', extensions: { code: 'BAD_USER_INPUT' } }] });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'rejected', reason: 'bad body' });
    replyGraphql(500, {});
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', throttled: false });
  });

  it('turns network errors and timeouts into retryable outcomes', async () => {
    agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).replyWithError(new Error('socket hang up'));
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', status: null });
    agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).reply(200, '{}').delay(2000);
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', cause: 'timeout', reason: expect.stringContaining('no answer within 500 ms') });
    expect(client.requests.get('network')).toBe(1);
    expect(client.requests.get('timeout')).toBe(1);
  });

  // The success rule: only what the contract says is success deletes rows. Each of these
  // shapes was once taken for success (a proxy or captive portal answering 200).
  it.each([
    ['{}', '{}'],
    ['null', 'null'],
    ['{"data":null}', '{"data":null}'],
    ['{"data":{}}', '{"data":{}}'],
    ['{"data":{"storeSensorMeasureData":null}}', '{"data":{"storeSensorMeasureData":null}}'],
    ['[]', '[]'],
    ['an HTML page', '<html><body>Welcome to the guest network</body></html>'],
    ['an empty body', ''],
    ['errors: []', '{"errors":[]}'],
  ])('a GraphQL 200 with %s is not success: retryable, counted, the body head in the reason', async (_name, text) => {
    agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).reply(200, text);
    const out = await client.storeMeasures('{}', 'b1');
    expect(out).toMatchObject({ kind: 'retryable', cause: 'unexpected', status: 200 });
    expect((out as { reason: string }).reason).toContain('/v1/graphql');
    expect(client.unexpectedAnswers.get('graphql 200')).toBe(1);
  });

  it('a GraphQL answer echoing another clientMutationId is not success', async () => {
    replyGraphql(200, { data: { storeSensorMeasureData: { clientMutationId: 'someone-else' } } });
    expect(await client.storeMeasures('{}', 'b1')).toMatchObject({ kind: 'retryable', cause: 'unexpected', reason: expect.stringContaining('another mutation') });
    replyGraphql(200, { data: { storeSensorMeasureData: { clientMutationId: null } } });
    expect((await client.storeMeasures('{}', 'b1')).kind).toBe('ok');
  });

  it.each([404, 405, 410, 301, 302, 418, 451, 204, 202, 201])('a %i on GraphQL is outside the contract: retryable, never a refusal of the readings', async (status) => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/graphql', method: 'POST' })
      .reply(status, status === 204 ? '' : '<html>Not Found</html>');
    const out = await client.storeMeasures('{}', 'b');
    expect(out).toMatchObject({ kind: 'retryable', cause: 'unexpected', status });
    if ([404, 405, 410, 301, 302].includes(status)) expect((out as { reason: string }).reason).toContain('check hub.url and hub.paths');
  });

  it('400/422 lead to a split only with a body the contract recognises', async () => {
    agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).reply(400, '<html>Bad Request</html>');
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', cause: 'unexpected' });
    replyGraphql(422, { message: 'no errors array' });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', cause: 'unexpected' });
    replyGraphql(422, { errors: [{ message: 'dataPoints[0]', extensions: { code: 'BAD_USER_INPUT' } }] });
    expect((await client.storeMeasures('{}', 'b')).kind).toBe('rejected');
  });

  it('BAD_REQUEST (the request as a whole: a body a proxy mangled) is no reading\'s fault: retryable, not a split', async () => {
    replyGraphql(400, { errors: [{ message: 'Body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', cause: 'unexpected' });
  });

  it('a refused mutation document is no reading\'s fault: retryable, not a split', async () => {
    replyGraphql(200, { errors: [{ message: 'Cannot query field "storeSensorMeasureData"', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', cause: 'unexpected' });
  });

  it('409 on a data endpoint is stored only when hub.answers.conflict_means_stored says so', async () => {
    replyGraphql(409, { message: 'duplicate' });
    expect(await client.storeMeasures('{}', 'b')).toMatchObject({ kind: 'retryable', cause: 'unexpected' });
    const lenient = new HubClient({
      url: ORIGIN,
      token: () => new MachineToken(TOKEN, 'test'),
      timeoutMs: 500,
      paths: { graphql: '/v1/graphql', sensors: '/v1/hub/sensors', spectra: '/v1/hub/spectra' },
      dispatcher: agent,
      answers: { sensorCreated: [201], spectraAccepted: [202], conflictMeansStored: true },
    });
    replyGraphql(409, { message: 'duplicate' });
    expect((await lenient.storeMeasures('{}', 'b')).kind).toBe('conflict');
  });

  it('spectra are stored only on the configured status (202)', async () => {
    const reply = (status: number, body: string) => agent.get(ORIGIN).intercept({ path: '/v1/hub/spectra', method: 'POST' }).reply(status, body);
    reply(202, '{"accepted":1}');
    expect((await client.storeSpectra('[]', 's')).kind).toBe('ok');
    reply(200, '{}');
    expect(await client.storeSpectra('[]', 's')).toMatchObject({ kind: 'retryable', cause: 'unexpected' });
    reply(404, 'not found');
    expect(await client.storeSpectra('[]', 's')).toMatchObject({ kind: 'retryable', cause: 'unexpected', reason: expect.stringContaining('/v1/hub/spectra') });
    reply(400, '{"message":"number must equal data.length"}');
    expect((await client.storeSpectra('[]', 's')).kind).toBe('rejected');
  });

  it('a sensor is created only by a 201 (or 409) that carries its id', async () => {
    const reply = (status: number, body: string) => agent.get(ORIGIN).intercept({ path: '/v1/hub/sensors', method: 'POST' }).reply(status, body);
    const sensor = { name: 'p', mappingId: 'p', ingest: 'timeseries' as const };
    reply(201, '{"id":"abc"}');
    expect((await client.createSensor(sensor)).kind).toBe('ok');
    for (const [status, body] of [[201, '{}'], [200, '{"id":"abc"}'], [409, '<html/>'], [404, '']] as const) {
      reply(status, body);
      expect(await client.createSensor(sensor)).toMatchObject({ kind: 'retryable', cause: 'unexpected', status });
    }
  });

  it('reads an answer up to max_response_bytes and no further', async () => {
    const small = new HubClient({
      url: ORIGIN,
      token: () => new MachineToken(TOKEN, 'test'),
      timeoutMs: 2000,
      paths: { graphql: '/v1/graphql', sensors: '/v1/hub/sensors', spectra: '/v1/hub/spectra' },
      dispatcher: agent,
      maxResponseBytes: 1024,
    });
    agent.get(ORIGIN).intercept({ path: '/v1/graphql', method: 'POST' }).reply(200, JSON.stringify({ data: { storeSensorMeasureData: { clientMutationId: 'b', pad: 'x'.repeat(5000) } } }));
    const out = await small.storeMeasures('{}', 'b');
    expect(out).toMatchObject({ kind: 'retryable', cause: 'unexpected', reason: expect.stringContaining('hub.max_response_bytes (1024 bytes)') });
    expect(small.requests.get('oversized')).toBe(1);
    replyGraphql(200, { data: { storeSensorMeasureData: { clientMutationId: 'b' } } });
    expect((await small.storeMeasures('{}', 'b')).kind).toBe('ok');
  });

  it('creates sensors and passes a 409 with the id through as a conflict with the body', async () => {
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
