/**
 * The hub emulator over real HTTP on 127.0.0.1 (undici `request`), one emulator per test.
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { PERMISSION } from '../../src/auth/permissions.js';
import { createHubEmulator, pointKey, type EmulatorOptions, type HubEmulator } from '../../src/emulator/index.js';

const MUTATION = `mutation storeSensorMeasureData($input: StoreSensorMeasureDataInput!) {
  storeSensorMeasureData(input: $input) { clientMutationId }
}`;
const WRITE = PERMISSION.hubWrite;
const CREATE = PERMISSION.hubCreate;
const EXTERNAL_ID = [PERMISSION.externalIdRead, PERMISSION.externalIdWrite];

let emu: HubEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function start(opts: EmulatorOptions = {}): Promise<HubEmulator> {
  emu = await createHubEmulator(opts);
  return emu;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

async function call(
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
  opts: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const e = emu as HubEmulator;
  const token = opts.token === undefined ? e.token : opts.token;
  const res = await request(`${e.url}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...opts.headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, body: parsed };
}

const post = (path: string, body: unknown, opts?: { token?: string | null; headers?: Record<string, string> }) =>
  call('POST', path, body, opts);
const gql = (input: unknown, opts?: { token?: string | null; headers?: Record<string, string> }) =>
  post('/v1/graphql', { query: MUTATION, variables: { input } }, opts);

function points(n: number, start = Date.UTC(2024, 0, 31, 12)) {
  return Array.from({ length: n }, (_, i) => ({
    measureName: i % 2 ? 'state' : 'temp',
    timestamp: new Date(start + i * 1000).toISOString(),
    ...(i % 2 ? { stringValue: 'RUNNING' } : { floatValue: 20 + i }),
  }));
}

async function createSensor(body: Record<string, unknown>, token?: string): Promise<string> {
  const r = await post('/v1/hub/sensors', body, token ? { token } : {});
  expect(r.status).toBe(201);
  return r.body.id as string;
}

function spectrum(patch: Record<string, unknown> = {}) {
  return {
    timestamp: '2024-01-31T12:00:00.000Z',
    amplitudeUnit: 'mm/s',
    measurementType: 'velocity',
    spacing: 0.5,
    end: 1.5,
    number: 4,
    speed: 24.5,
    data: [0, 0.1, 0.2, 0.3],
    ...patch,
  };
}

describe('authentication', () => {
  it('answers 401 for a missing, malformed, foreign, expired or revoked token, and stores nothing', async () => {
    const e = await start();
    const other = await createHubEmulator();
    const foreign = other.token;
    await other.close();
    const expired = await e.mintToken({ permissions: [WRITE, CREATE], expiresAt: new Date(Date.now() - 1000) });
    const revoked = await e.mintToken({ permissions: [WRITE, CREATE] });
    e.revoke(revoked);

    const cases: Array<[string, { token?: string | null; headers?: Record<string, string> }, RegExp]> = [
      ['missing', { token: null }, /missing Authorization/],
      ['not bearer', { token: null, headers: { authorization: `Basic ${e.token}` } }, /malformed Authorization/],
      ['garbage', { token: 'v4.public.garbage' }, /token rejected/],
      ['v4.local', { token: 'v4.local.AAAA' }, /not a v4.public/],
      ['foreign signature', { token: foreign }, /invalid/],
      ['expired', { token: expired }, /expired/],
      ['revoked', { token: revoked }, /revoked/],
    ];
    for (const [name, opts, message] of cases) {
      for (const path of ['/v1/hub/sensors', '/v1/graphql', '/v1/hub/spectra']) {
        const r = await post(path, {}, opts);
        expect(r.status, `${name} ${path}`).toBe(401);
        expect(r.body).toEqual({ error: 'unauthorized', message: expect.stringMatching(message) });
        expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
    expect(e.store.sensors).toHaveLength(0);
    expect(e.store.counters.requests['/v1/graphql']).toEqual({ '401': cases.length });
  });

  it('a token with expiresIn works until it expires', async () => {
    const e = await start({ expiresIn: 60_000 });
    const claims = JSON.parse(Buffer.from(e.token.split('.')[2] as string, 'base64url').subarray(0, -64).toString()) as { exp: string };
    expect(Date.parse(claims.exp)).toBeGreaterThan(Date.now());
    expect((await post('/v1/hub/sensors', { name: 'a', ingest: 'timeseries' })).status).toBe(201);
  });
});

describe('POST /v1/hub/sensors', () => {
  it('creates (201) and answers 409 with the existing sensor for a known mappingId', async () => {
    const e = await start();
    const created = await post('/v1/hub/sensors', { name: 'Pump 1', mappingId: 'pump-1', ingest: 'timeseries', description: 'north' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'Pump 1', mappingId: 'pump-1', ingest: 'timeseries' });
    const again = await post('/v1/hub/sensors', { name: 'Pump 1 again', mappingId: 'pump-1', ingest: 'frequency' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ id: created.body.id, name: 'Pump 1', mappingId: 'pump-1', ingest: 'timeseries' });
    expect((await post('/v1/hub/sensors', { name: 'no mapping', ingest: 'frequency' })).body.mappingId).toBeNull();
    expect(e.store.sensors).toHaveLength(2);
    expect(e.store.sensorByMappingId('pump-1')).toMatchObject({ description: 'north', autoProvisioned: false });
  });

  it('answers 403 without Internal Hub Create', async () => {
    const e = await start();
    const writeOnly = await e.mintToken({ permissions: [WRITE] });
    const r = await post('/v1/hub/sensors', { name: 'x', ingest: 'timeseries' }, { token: writeOnly });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'forbidden', message: expect.stringMatching(/Internal Hub Create/) });
    expect(e.store.sensors).toHaveLength(0);
  });

  it('answers 400 naming the field, and 400 for a non-JSON body', async () => {
    await start();
    const r = await post('/v1/hub/sensors', { name: 'x', ingest: 'spectra', extra: true });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('bad_request');
    expect(r.body.message).toMatch(/ingest: must be "timeseries" or "frequency"/);
    expect(r.body.message).toMatch(/extra: unknown field/);
    const nonJson = await post('/v1/hub/sensors', '{name: x');
    expect(nonJson.status).toBe(400);
    expect(nonJson.body.message).toMatch(/not valid JSON/);
  });

  it('compares permission names case- and separator-insensitively', async () => {
    const e = await start({ permissions: ['internal_hub_create'] });
    expect(e.token).toBeTruthy();
    expect((await post('/v1/hub/sensors', { name: 'x', ingest: 'timeseries' })).status).toBe(201);
  });
});

describe('POST /v1/graphql storeSensorMeasureData', () => {
  it('stores every point and echoes clientMutationId in the standard shape', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    const dataPoints = [...points(4), { measureName: 'alarm', timestamp: '2024-01-31T13:00:00+01:00', booleanValue: true }];
    const r = await gql({ sensorId, clientMutationId: 'batch-1', dataPoints }, { headers: { 'idempotency-key': 'idem-1' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { storeSensorMeasureData: { clientMutationId: 'batch-1' } } });
    expect(e.store.dataPoints).toHaveLength(5);
    expect(e.store.dataPoints[1]).toMatchObject({ sensorId, measureName: 'state', value: 'RUNNING', type: 'string', clientMutationId: 'batch-1', idempotencyKey: 'idem-1' });
    expect(e.store.dataPoints[4]).toMatchObject({ timestamp: '2024-01-31T13:00:00+01:00', value: true, type: 'boolean' });
    expect(e.store.latestValues().get(pointKey(sensorId, 'alarm', '2024-01-31T12:00:00.000Z'))?.value).toBe(true);
    expect(e.store.requests.at(-1)).toMatchObject({ path: '/v1/graphql', status: 200, clientMutationId: 'batch-1', idempotencyKey: 'idem-1', pointCount: 5, contentType: 'application/json' });

    const noId = await gql({ sensorId, dataPoints: points(1) });
    expect(noId.body).toEqual({ data: { storeSensorMeasureData: { clientMutationId: null } } });
    expect(e.store.counters).toMatchObject({ datapointsAccepted: 6, overwrites: 1, mutationsAccepted: 2 });
  });

  it('answers in the documented shape when configured', async () => {
    await start({ responseShape: 'documented' });
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    const r = await gql({ sensorId, clientMutationId: 'm-2', dataPoints: points(2) });
    expect(r.body).toEqual({ data: { clientMutationId: 'm-2' } });
  });

  it('counts a clientMutationId accepted twice', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    await gql({ sensorId, clientMutationId: 'same', dataPoints: points(3) });
    await gql({ sensorId, clientMutationId: 'same', dataPoints: points(3) });
    expect(e.store.counters).toMatchObject({ duplicateMutationIds: 1, overwrites: 3, datapointsAccepted: 6 });
  });

  it('answers FORBIDDEN (HTTP 200) without Internal Hub Write', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    const createOnly = await e.mintToken({ permissions: [CREATE] });
    const r = await gql({ sensorId, dataPoints: points(1) }, { token: createOnly });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: null, errors: [{ message: expect.stringMatching(/Internal Hub Write/), extensions: { code: 'FORBIDDEN' } }] });
    expect(e.store.dataPoints).toHaveLength(0);
  });

  it('answers BAD_USER_INPUT naming each bad point, and stores nothing of that mutation', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    const dataPoints = points(5);
    dataPoints[1] = { ...dataPoints[1], timestamp: '2024-01-31T12:00:01' } as (typeof dataPoints)[number];
    dataPoints[3] = { measureName: 'temp', timestamp: '2024-01-31T12:00:03Z', floatValue: 1, stringValue: 'x' } as (typeof dataPoints)[number];
    const r = await gql({ sensorId, dataPoints });
    expect(r.status).toBe(200);
    expect(r.body.data).toBeNull();
    expect(r.body.errors).toEqual([
      { message: expect.stringMatching(/^dataPoints\[1\]\.timestamp: must carry a UTC offset/), extensions: { code: 'BAD_USER_INPUT' } },
      { message: expect.stringMatching(/^dataPoints\[3\]: has floatValue and stringValue/), extensions: { code: 'BAD_USER_INPUT' } },
    ]);
    expect(e.store.dataPoints).toHaveLength(0);
    expect(e.store.requests.at(-1)).toMatchObject({ status: 200, errorCode: 'BAD_USER_INPUT', pointCount: 5 });
  });

  it.each([
    ['an unknown sensorId', () => ({ query: MUTATION, variables: { input: { sensorId: '00000000-0000-4000-8000-000000000000', dataPoints: points(1) } } }), /no sensor with id/],
    ['a query that is not the mutation', () => ({ query: '{ sensors { id } }', variables: {} }), /not a mutation/],
    ['a missing input variable', () => ({ query: MUTATION }), /Variable "\$input"/],
    ['an empty dataPoints array', (id: string) => ({ query: MUTATION, variables: { input: { sensorId: id, dataPoints: [] } } }), /at least one/],
    ['sensorId and mappingId together', (id: string) => ({ query: MUTATION, variables: { input: { sensorId: id, mappingId: 'm', dataPoints: points(1) } } }), /not both/],
  ])('answers BAD_USER_INPUT for %s', async (_name, body, message) => {
    await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    const r = await post('/v1/graphql', body(sensorId));
    expect(r.status).toBe(200);
    expect(r.body.errors[0]).toEqual({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('refuses time series for a frequency sensor', async () => {
    await start();
    const sensorId = await createSensor({ name: 'Fan', ingest: 'frequency' });
    const r = await gql({ sensorId, dataPoints: points(1) });
    expect(r.body.errors[0]).toEqual({ message: expect.stringMatching(/ingests frequency spectra/), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('answers HTTP 400 for a body that is not JSON', async () => {
    await start();
    const r = await post('/v1/graphql', 'mutation { nope }');
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('addressing by mappingId needs the External ID permissions, and auto-provisions a timeseries sensor', async () => {
    const e = await start();
    const denied = await gql({ mappingId: 'press-7', dataPoints: points(1) });
    expect(denied.body.errors[0]).toEqual({ message: expect.stringMatching(/External ID Read, External ID Write/), extensions: { code: 'FORBIDDEN' } });
    expect(e.store.sensors).toHaveLength(0);

    const full = await e.mintToken({ permissions: [WRITE, CREATE, ...EXTERNAL_ID] });
    const ok = await gql({ mappingId: 'press-7', clientMutationId: 'p', dataPoints: points(2) }, { token: full });
    expect(ok.body).toEqual({ data: { storeSensorMeasureData: { clientMutationId: 'p' } } });
    const sensor = e.store.sensorByMappingId('press-7');
    expect(sensor).toMatchObject({ name: 'press-7', ingest: 'timeseries', autoProvisioned: true });
    await gql({ mappingId: 'press-7', dataPoints: points(2, Date.UTC(2025, 0, 1)) }, { token: full });
    expect(e.store.sensors).toHaveLength(1);
    expect(e.store.dataPoints.every((p) => p.sensorId === sensor?.id)).toBe(true);

    const noCreate = await e.mintToken({ permissions: [WRITE, ...EXTERNAL_ID] });
    const unknown = await gql({ mappingId: 'press-8', dataPoints: points(1) }, { token: noCreate });
    expect(unknown.body.errors[0]).toEqual({ message: expect.stringMatching(/Internal Hub Create/), extensions: { code: 'FORBIDDEN' } });
    const known = await gql({ mappingId: 'press-7', dataPoints: points(1, Date.UTC(2026, 0, 1)) }, { token: noCreate });
    expect(known.body.data).toBeTruthy();
  });

  it('honours a custom mappingIdPermissions list', async () => {
    const e = await start({ mappingIdPermissions: [] });
    const r = await gql({ mappingId: 'm-1', dataPoints: points(1) });
    expect(r.body.data).toBeTruthy();
    expect(e.store.sensorByMappingId('m-1')).toBeTruthy();
  });
});

describe('POST /v1/hub/spectra', () => {
  it('accepts spectra by sensorId and by mappingId (auto-provisioning a frequency sensor): 202', async () => {
    const e = await start({ permissions: [WRITE, CREATE, ...EXTERNAL_ID] });
    const sensorId = await createSensor({ name: 'Fan', ingest: 'frequency' });
    const r = await post('/v1/hub/spectra', [
      spectrum({ sensorId }),
      spectrum({ mappingId: 'fan-2' }),
      spectrum({ mappingId: 'fan-2', timestamp: '2024-01-31T12:00:01Z' }),
    ]);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: 3 });
    expect(e.store.sensorByMappingId('fan-2')).toMatchObject({ ingest: 'frequency', autoProvisioned: true });
    expect(e.store.spectra).toHaveLength(3);
    expect(e.store.spectra[0]).toMatchObject({ sensorId, number: 4, data: [0, 0.1, 0.2, 0.3], speed: 24.5 });
    expect(e.store.requests.at(-1)).toMatchObject({ status: 202, pointCount: 3 });
  });

  it('answers 400 naming the field and stores none of the body', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Fan', ingest: 'frequency' });
    const r = await post('/v1/hub/spectra', [spectrum({ sensorId }), spectrum({ sensorId, number: 5 })]);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/spectra\[1\]\.number: must equal data\.length \(4\)/) });
    expect(e.store.spectra).toHaveLength(0);

    const tsSensor = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    const wrongKind = await post('/v1/hub/spectra', [spectrum({ sensorId }), spectrum({ sensorId: tsSensor })]);
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.body.message).toMatch(/spectra\[1\]: sensor .* ingests time series/);
    expect(e.store.spectra).toHaveLength(0);
    expect((await post('/v1/hub/spectra', { not: 'an array' })).status).toBe(400);
  });

  it('answers 403 without Internal Hub Write, and 403 for mappingId without External ID permissions', async () => {
    const e = await start();
    const createOnly = await e.mintToken({ permissions: [CREATE] });
    const sensorId = await createSensor({ name: 'Fan', ingest: 'frequency' });
    expect((await post('/v1/hub/spectra', [spectrum({ sensorId })], { token: createOnly })).status).toBe(403);
    const byMapping = await post('/v1/hub/spectra', [spectrum({ mappingId: 'fan-9' })]);
    expect(byMapping.status).toBe(403);
    expect(byMapping.body.message).toMatch(/External ID/);
    expect(e.store.spectra).toHaveLength(0);
  });
});

describe('HTTP edges', () => {
  it('answers 413 above maxBodyBytes, whether Content-Length is declared or the body is chunked', async () => {
    const e = await start({ maxBodyBytes: 1024 });
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    const big = JSON.stringify({ query: MUTATION, variables: { input: { sensorId, dataPoints: points(40) } } });
    expect(big.length).toBeGreaterThan(1024);
    const declared = await post('/v1/graphql', big);
    expect(declared.status).toBe(413);
    expect(declared.body.error).toBe('payload_too_large');

    const res = await request(`${e.url}/v1/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${e.token}`, 'content-type': 'application/json' },
      // No Content-Length: undici sends the stream chunked.
      body: Readable.from(
        (function* () {
          for (let i = 0; i < big.length; i += 256) yield Buffer.from(big.slice(i, i + 256));
        })(),
      ),
    });
    expect(res.statusCode).toBe(413);
    await res.body.dump();

    const fits = JSON.stringify({ query: MUTATION, variables: { input: { sensorId, dataPoints: points(2) } } });
    expect((await post('/v1/graphql', fits)).status).toBe(200);
    expect(e.store.dataPoints).toHaveLength(2);
    expect(e.store.counters.requests['/v1/graphql']).toEqual({ '413': 2, '200': 1 });
  });

  it('answers 404 for unknown paths and 405 for wrong methods', async () => {
    await start();
    expect((await post('/v1/hub/nothing', {})).status).toBe(404);
    const r = await call('GET', '/v1/graphql');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
    expect((await call('PUT', '/v1/hub/sensors', {})).status).toBe(405);
  });

  it('adds latencyMs to every hub answer', async () => {
    await start({ latencyMs: 80 });
    const t0 = performance.now();
    await post('/v1/hub/sensors', { name: 'x', ingest: 'timeseries' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
  });
});

describe('faults', () => {
  it('answers a queued 429 with Retry-After once, storing nothing, then serves normally', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    e.faults.add({ endpoint: 'graphql', status: 429, retryAfter: '3' });
    const throttled = await gql({ sensorId, dataPoints: points(2) });
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('3');
    expect(e.store.dataPoints).toHaveLength(0);
    expect((await gql({ sensorId, dataPoints: points(2) })).status).toBe(200);
    expect(e.store.dataPoints).toHaveLength(2);
    expect(e.store.requests.map((r) => r.fault)).toEqual([null, 'status:429', null]);
  });

  it('matches faults by endpoint and supports an HTTP-date Retry-After and a raw text body', async () => {
    const e = await start();
    const date = new Date(Date.now() + 5000).toUTCString();
    e.faults.add({ endpoint: 'spectra', status: 503, retryAfter: date });
    e.faults.add({ endpoint: 'sensors', status: 502, body: '<html>Bad Gateway</html>' });
    const s = await post('/v1/hub/sensors', { name: 'x', ingest: 'frequency' });
    expect(s.status).toBe(502);
    expect(s.text).toBe('<html>Bad Gateway</html>');
    expect(s.headers['content-type']).toMatch(/^text\/plain/);
    const sp = await post('/v1/hub/spectra', [spectrum({ mappingId: 'x' })]);
    expect(sp.status).toBe(503);
    expect(sp.headers['retry-after']).toBe(date);
  });

  it('resets the socket without answering, storing nothing', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    e.faults.add({ endpoint: 'graphql', reset: true });
    await expect(gql({ sensorId, dataPoints: points(1) })).rejects.toThrow();
    expect(e.store.dataPoints).toHaveLength(0);
    expect(e.store.requests.at(-1)).toMatchObject({ status: 0, fault: 'reset' });
    expect((await gql({ sensorId, dataPoints: points(1) })).status).toBe(200);
  });

  it("phase 'after' stores the batch, then loses the answer: a retry overwrites and repeats the mutation id", async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    e.faults.add({ endpoint: 'graphql', reset: true, phase: 'after' });
    const input = { sensorId, clientMutationId: 'b-1', dataPoints: points(3) };
    await expect(gql(input)).rejects.toThrow();
    expect(e.store.dataPoints).toHaveLength(3);
    expect((await gql(input)).status).toBe(200);
    expect(e.store.counters).toMatchObject({ overwrites: 3, duplicateMutationIds: 1 });
  });

  it('delays an answer by delayMs', async () => {
    const e = await start();
    e.faults.add({ endpoint: 'sensors', delayMs: 120 });
    const t0 = performance.now();
    expect((await post('/v1/hub/sensors', { name: 'x', ingest: 'timeseries' })).status).toBe(201);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('rate-limits data endpoints with 429 and Retry-After', async () => {
    const e = await start();
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    e.faults.setRateLimit({ requestsPerSecond: 0.5 });
    expect((await gql({ sensorId, dataPoints: points(1) })).status).toBe(200);
    const limited = await gql({ sensorId, dataPoints: points(1, Date.UTC(2025, 0, 1)) });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect((await post('/v1/hub/sensors', { name: 'y', ingest: 'timeseries' })).status).toBe(201);
    expect(e.store.dataPoints).toHaveLength(1);
    expect(e.store.counters.rateLimited).toBe(1);
  });

  it('close() is prompt even with a long delay pending', async () => {
    const e = await start();
    e.faults.add({ delayMs: 60_000 });
    const pending = post('/v1/hub/sensors', { name: 'x', ingest: 'timeseries' });
    await expect.poll(() => e.store.lastSeq).toBe(1);
    const t0 = performance.now();
    await e.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
  });
});

describe('control endpoints', () => {
  it('mint, revoke, faults, snapshot and reset over HTTP, without touching the request log', async () => {
    const e = await start();
    const minted = await call('POST', '/_emulator/tokens', { permissions: 'write', expiresIn: '1h' }, { token: null });
    expect(minted.status).toBe(200);
    const writeOnly = minted.body.token as string;
    expect((await post('/v1/hub/sensors', { name: 'x', ingest: 'timeseries' }, { token: writeOnly })).status).toBe(403);
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    expect((await gql({ sensorId, dataPoints: points(2) }, { token: writeOnly })).status).toBe(200);

    expect((await call('POST', '/_emulator/revoke', { token: writeOnly }, { token: null })).body).toEqual({ revoked: true });
    expect((await gql({ sensorId, dataPoints: points(2) }, { token: writeOnly })).status).toBe(401);

    const f = await call('POST', '/_emulator/faults', { endpoint: 'graphql', status: 503, retryAfter: '1' }, { token: null });
    expect(f.body.pending).toEqual([expect.objectContaining({ status: 503, times: 1 })]);
    expect((await gql({ sensorId, dataPoints: points(1) })).status).toBe(503);
    await call('POST', '/_emulator/faults', { rateLimit: { requestsPerSecond: 0.5, retryAfterSeconds: 9 } }, { token: null });
    await gql({ sensorId, dataPoints: points(1) });
    expect((await gql({ sensorId, dataPoints: points(1) })).headers['retry-after']).toBe('9');
    const cleared = await call('POST', '/_emulator/faults', { clear: true }, { token: null });
    expect(cleared.body).toEqual({ pending: [], rateLimit: null });
    expect((await call('POST', '/_emulator/faults', { status: 42 }, { token: null })).status).toBe(400);

    const snap = await call('GET', '/_emulator/snapshot', undefined, { token: null });
    expect(snap.body).toMatchObject({ record: 'full', summary: false, sensors: [{ id: sensorId }] });
    expect(snap.body.dataPoints).toHaveLength(3);
    expect(snap.body.requests.every((r: { path: string }) => !r.path.startsWith('/_emulator'))).toBe(true);
    const lastSeq = snap.body.lastSeq as number;
    const summary = await call('GET', '/_emulator/snapshot?summary=1', undefined, { token: null });
    expect(summary.body).toMatchObject({ summary: true, dataPoints: [], requests: [], counters: { datapointsAccepted: 3 } });

    await gql({ sensorId, clientMutationId: 'late', dataPoints: points(1, Date.UTC(2030, 0, 1)) });
    const since = await call('GET', `/_emulator/snapshot?since=${lastSeq}`, undefined, { token: null });
    expect(since.body.requests).toEqual([expect.objectContaining({ clientMutationId: 'late', status: 200 })]);
    expect(since.body.dataPoints).toEqual([expect.objectContaining({ clientMutationId: 'late' })]);

    expect((await call('POST', '/_emulator/reset', {}, { token: null })).status).toBe(200);
    expect(e.store.snapshot()).toMatchObject({ sensors: [], dataPoints: [], requests: [] });
    expect((await call('GET', '/_emulator/nothing', undefined, { token: null })).status).toBe(404);
  });

  it('never puts a token in a snapshot or an answer, only fingerprints', async () => {
    const e = await start();
    const expired = await e.mintToken({ permissions: [WRITE], expiresAt: new Date(Date.now() - 1) });
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    await gql({ sensorId, dataPoints: points(1) });
    const bad = await gql({ sensorId, dataPoints: points(1) }, { token: expired });
    await post('/v1/graphql', {}, { token: null, headers: { authorization: `Basic ${e.token}` } });
    expect(bad.text).not.toContain(expired);
    const snapshot = JSON.stringify((await call('GET', '/_emulator/snapshot', undefined, { token: null })).body);
    for (const t of [e.token, expired]) {
      expect(snapshot).not.toContain(t);
      expect(snapshot).not.toContain(t.slice(10, 60));
    }
    const fingerprints = new Set(e.store.requests.map((r) => r.authFingerprint));
    expect(fingerprints.size).toBe(3);
    for (const fp of fingerprints) expect(fp).toMatch(/^sha256:[0-9a-f]{16}$/);
  });
});

describe("record: 'count'", () => {
  it('keeps counters but no points', async () => {
    const e = await start({ record: 'count' });
    const sensorId = await createSensor({ name: 'Pump', ingest: 'timeseries' });
    await gql({ sensorId, dataPoints: points(50) });
    await gql({ sensorId, dataPoints: points(50) });
    expect(e.store.dataPoints).toHaveLength(0);
    expect(e.store.counters).toMatchObject({ datapointsAccepted: 100, overwrites: 50 });
    expect(e.store.snapshot().record).toBe('count');
  });
});
