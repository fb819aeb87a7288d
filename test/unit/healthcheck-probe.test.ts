// The container HEALTHCHECK's probe goes through node:http, so its answers' shapes are tested
// with nock (the one module where nock fits: undici's own requests bypass it, see deps.md).
// Behaviour against a real server: test/integration/healthcheck-config.test.ts.
import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../../src/observability/healthcheck.js';

const URL = 'http://127.0.0.1:9464/healthz';

beforeAll(() => {
  nock.disableNetConnect(); // nothing here may reach a real socket
});
afterEach(() => {
  nock.cleanAll();
});

describe('healthcheck probe', () => {
  it('passes on 200 only', async () => {
    nock('http://127.0.0.1:9464').get('/healthz').reply(200, { status: 'ok' });
    expect(await probe(URL)).toEqual({ ok: true, detail: `${URL} answered 200` });
    nock('http://127.0.0.1:9464').get('/healthz').reply(503, { ready: false });
    expect(await probe(URL)).toEqual({ ok: false, detail: `${URL} answered 503` });
  });

  it('fails, naming the cause, on a connection error and on a slow answer', async () => {
    nock('http://127.0.0.1:9464').get('/healthz').replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(await probe(URL)).toEqual({ ok: false, detail: `${URL}: ECONNREFUSED` });
    nock('http://127.0.0.1:9464').get('/healthz').delayConnection(500).reply(200, {});
    expect(await probe(URL, 100)).toEqual({ ok: false, detail: `${URL} did not answer within 100 ms` });
  });
});
