/**
 * The health and metrics endpoint over real HTTP on 127.0.0.1, with a fake AgentView:
 * liveness, readiness transitions (token refused and delivery paused, outbox full, recovery),
 * metrics scraped and parsed, the container healthcheck probe, and listen errors that name
 * the setting.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, METRIC_PREFIX } from '../../src/observability/metrics.js';
import { HealthServerError, startHealthServer, type HealthServer } from '../../src/observability/health-server.js';
import { probe } from '../../src/observability/healthcheck.js';
import { parsePrometheusText, sampleValue } from '../helpers/metrics-text.js';
import { ROOT } from '../helpers/agent-process.js';
import { captureLogger, fakeView } from '../helpers/ops-fake-view.js';

const servers: HealthServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(view = fakeView(), listen = '127.0.0.1:0') {
  const { logger, lines } = captureLogger();
  const registry = createMetrics({ view, logger, processMetrics: true });
  const server = await startHealthServer({ listen, view, registry, logger });
  servers.push(server);
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${server.url}${path}`, init);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  return { view, server, get, lines };
}

describe('health server', () => {
  it('answers /healthz with 200 and logs where it listens', async () => {
    const { get, server, lines } = await start();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await get('/healthz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ status: 'ok' });
    expect(lines.find((l) => l.event === 'http_listening')).toMatchObject({ url: server.url });
  });

  it('moves /readyz between 200 and 503 with every reason, as the view changes', async () => {
    const { get, view } = await start();
    const ready = async () => {
      const r = await get('/readyz');
      return { status: r.status, body: JSON.parse(r.text) as { ready: boolean; reasons: Array<{ check: string; reason: string }> } };
    };
    expect(await ready()).toEqual({ status: 200, body: { ready: true, reasons: [] } });

    // The hub refuses the token: the token check fails and delivery pauses.
    view.state.tokenProblem = 'the token expired at 2026-11-27T08:00:00.000Z';
    view.state.delivery = { state: 'paused', until: Date.now() + 30_000, reason: 'hub answered 401: token expired' };
    expect(await ready()).toEqual({
      status: 503,
      body: {
        ready: false,
        reasons: [
          { check: 'token', reason: 'the token expired at 2026-11-27T08:00:00.000Z' },
          { check: 'delivery', reason: 'delivery paused: hub answered 401: token expired' },
        ],
      },
    });

    // A new token: delivery flows again, but the outbox fills up.
    view.state.tokenProblem = null;
    view.state.delivery = { state: 'flowing' };
    view.state.blocked = 'outbox.max_bytes (1 GiB) reached; sources are paused';
    expect(await ready()).toEqual({
      status: 503,
      body: { ready: false, reasons: [{ check: 'outbox', reason: 'outbox.max_bytes (1 GiB) reached; sources are paused' }] },
    });

    // A short throttle is not a readiness failure: the hub asked us to wait, nothing is wrong here.
    view.state.blocked = null;
    view.state.delivery = { state: 'throttled', until: Date.now() + 5000, reason: 'hub answered 429', since: Date.now() - 1000 };
    expect((await ready()).status).toBe(200);

    // Failing without a success for longer than hub.unready_after is, whatever the cause.
    const since = Date.now() - 45_000;
    view.state.delivery = { state: 'retrying', until: Date.now() + 5000, reason: 'the hub answered 404 at /v1/graphql: check hub.url and hub.paths', since };
    const failing = await ready();
    expect(failing.status).toBe(503);
    expect(failing.body.reasons).toEqual([
      {
        check: 'delivery',
        reason: expect.stringMatching(
          new RegExp(`^delivery has failed for 45 s \\(over hub.unready_after, 30 s\\): retrying since ${new Date(since).toISOString().replace(/\./g, '\\.')}, next try in \\d+ ms: the hub answered 404`),
        ),
      },
    ]);

    // A source down longer than supervision.unready_after.
    view.state.delivery = { state: 'flowing' };
    view.state.sourceHealth = [
      { source: 'press-line', health: { state: 'restarting', restarts: 3, downSince: Date.now() - 60_000, reason: 'EIO: i/o error, read', retryAt: Date.now() + 1000 } },
      { source: 'pump-7', health: { state: 'recovering', restarts: 1, downSince: Date.now() - 2000, reason: 'boom' } },
    ];
    const down = await ready();
    expect(down.status).toBe(503);
    expect(down.body.reasons).toEqual([{ check: 'sources', reason: expect.stringMatching(/^source press-line down since .* \(3 restarts\): EIO: i\/o error, read$/) }]);
  });

  it('is not ready (and does not fail) when a check itself throws', async () => {
    const { get, view } = await start();
    view.throwing.add('tokenProblem');
    const r = await get('/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).reasons).toEqual([{ check: 'token', reason: 'check failed: tokenProblem failed (test)' }]);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('serves /metrics in the Prometheus text format, read at scrape time', async () => {
    const { get, view } = await start();
    const first = await get('/metrics');
    expect(first.status).toBe(200);
    expect(first.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m1 = parsePrometheusText(first.text);
    expect(sampleValue(m1, `${METRIC_PREFIX}readings_delivered_total`)).toBe(150);
    expect(sampleValue(m1, `${METRIC_PREFIX}ready`)).toBe(1);
    expect(sampleValue(m1, 'process_cpu_seconds_total')).toBeGreaterThan(0);

    view.state.counts = { ...view.state.counts, delivered: 400, depth: 0 };
    view.state.blocked = 'disk full';
    const m2 = parsePrometheusText((await get('/metrics')).text);
    expect(sampleValue(m2, `${METRIC_PREFIX}readings_delivered_total`)).toBe(400);
    expect(sampleValue(m2, `${METRIC_PREFIX}outbox_readings`)).toBe(0);
    expect(sampleValue(m2, `${METRIC_PREFIX}outbox_blocked`)).toBe(1);
    expect(sampleValue(m2, `${METRIC_PREFIX}ready`)).toBe(0);
  });

  it('answers HEAD without a body, other methods with 405, other paths with 404', async () => {
    const { get } = await start();
    const head = await get('/healthz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect((await get('/metrics', { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await get('/')).status).toBe(404);
    expect((await get('/healthz?verbose=1')).status).toBe(200);
  });

  it('is what the container HEALTHCHECK probes', async () => {
    const { server, view } = await start();
    expect(await probe(`${server.url}/healthz`)).toEqual({ ok: true, detail: `${server.url}/healthz answered 200` });
    // Liveness ignores readiness: a paused delivery must not get the container restarted.
    view.state.delivery = { state: 'paused', until: Date.now() + 1000, reason: 'token refused' };
    expect((await probe(`${server.url}/healthz`)).ok).toBe(true);
    expect((await probe(`${server.url}/readyz`)).ok).toBe(false);
    await server.close();
    const down = await probe(`${server.url}/healthz`, 1000);
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/ECONNREFUSED/);
  });

  it('runs as the HEALTHCHECK command: exit 0 while /healthz answers, 1 once it does not', async () => {
    const { server } = await start();
    const script = path.join(ROOT, 'dist', 'observability', 'healthcheck.js');
    // Asynchronously: the server answers from this very process.
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        execFile(process.execPath, [script, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 }, (err, stdout) =>
          resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout }),
        );
      });
    const up = await run([`${server.url}/healthz`]);
    expect(up).toEqual({ status: 0, stdout: `${server.url}/healthz answered 200\n` });
    expect((await run([], { SENSEYE_HEALTHCHECK_URL: `${server.url}/healthz` })).status).toBe(0);
    expect((await run([`${server.url}/nope`])).status).toBe(1);
    await server.close();
    expect((await run([`${server.url}/healthz`])).status).toBe(1);
  });

  it('fails to start with an error naming http.listen when the port is taken', async () => {
    const { server } = await start();
    const port = new URL(server.url).port;
    const attempt = start(fakeView(), `127.0.0.1:${port}`);
    await expect(attempt).rejects.toBeInstanceOf(HealthServerError);
    await expect(attempt).rejects.toThrow(new RegExp(`^http\\.listen 127\\.0\\.0\\.1:${port}: cannot listen \\(EADDRINUSE\\) \\(.*set http\\.listen to a free host:port, or to null`));
  });

  it('refuses an address that is not host:port, naming http.listen', async () => {
    await expect(start(fakeView(), 'localhost')).rejects.toThrow(/^http\.listen "localhost" is not an address/);
  });

  it('closes promptly even with a keep-alive connection open, and close() is idempotent', async () => {
    const { server, get } = await start();
    expect((await get('/healthz')).status).toBe(200); // leaves a pooled keep-alive connection
    const started = Date.now();
    await Promise.all([server.close(), server.close()]);
    await server.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
