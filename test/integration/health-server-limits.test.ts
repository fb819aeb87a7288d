/**
 * The health endpoint's bounds, with real TCP sockets on 127.0.0.1: it never holds more than
 * maxConnections (the rest are closed on accept, counted and logged), a socket that sends nothing
 * is closed after the idle timeout, a socket that trickles a header byte now and then is closed by
 * the header deadline, and /readyz answers afterwards.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_REFUSED_METRIC, startHealthServer, type HealthServer } from '../../src/observability/health-server.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { parsePrometheusText, sampleValue } from '../helpers/metrics-text.js';
import { captureLogger, fakeView } from '../helpers/ops-fake-view.js';
import { waitFor } from '../helpers/wait.js';

const servers: HealthServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(maxConnections: number, idleTimeoutMs: number) {
  const { logger, lines } = captureLogger();
  const view = fakeView();
  const registry = createMetrics({ view, logger, processMetrics: false });
  const server = await startHealthServer({ listen: '127.0.0.1:0', view, registry, logger, maxConnections, idleTimeoutMs });
  servers.push(server);
  return { server, lines, port: Number(new URL(server.url).port) };
}

interface Probe {
  socket: net.Socket;
  connectedAt: number;
  closedAt: number | null;
  received: string;
}

function open(port: number): Probe {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  const probe: Probe = { socket, connectedAt: Number.NaN, closedAt: null, received: '' };
  socket.on('connect', () => (probe.connectedAt = Date.now()));
  socket.on('data', (d: Buffer) => (probe.received += d.toString('latin1')));
  socket.on('error', () => undefined); // a refused connection may end in ECONNRESET
  socket.on('close', () => (probe.closedAt = Date.now()));
  return probe;
}

describe('health server limits', () => {
  it('holds at most maxConnections, closes silent sockets after the idle timeout, and still answers /readyz', async () => {
    const cap = 8;
    const idleMs = 400;
    const { server, lines, port } = await start(cap, idleMs);
    const probes = Array.from({ length: 50 }, () => open(port));
    const held: number[] = [];
    // Until every connection beyond the cap has been closed by the server, sample what it holds.
    await waitFor(
      async () => {
        held.push(await server.connections());
        return probes.filter((p) => p.closedAt !== null).length >= 50 - cap;
      },
      'the connections beyond the cap to be closed',
      { timeoutMs: 5_000, intervalMs: 5 },
    );
    expect(Math.max(...held)).toBeLessThanOrEqual(cap);
    const kept = probes.filter((p) => p.closedAt === null);
    expect(kept).toHaveLength(cap);

    // The kept ones sent nothing: each is closed once it has been idle for idleMs, not before.
    await waitFor(() => probes.every((p) => p.closedAt !== null), 'the idle connections to be closed', { timeoutMs: 5_000 });
    for (const p of kept) expect(p.closedAt! - p.connectedAt).toBeGreaterThanOrEqual(idleMs - 20);
    expect(await server.connections()).toBe(0);

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
    expect(sampleValue(metrics, HTTP_REFUSED_METRIC)).toBe(50 - cap);
    // Logged once (then at most once a minute), not once per refused connection.
    const refusedLogs = lines.filter((l) => l.event === 'http_connections_refused');
    expect(refusedLogs).toHaveLength(1);
    expect(refusedLogs[0]).toMatchObject({ max_connections: cap });
  });

  it('closes a connection that trickles its headers (a byte now and then) at the header deadline', async () => {
    const idleMs = 400;
    const { server, port } = await start(8, idleMs);
    const slow = open(port);
    await waitFor(() => !Number.isNaN(slow.connectedAt), 'the connection');
    const request = 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
    let sent = 0;
    // One byte every idleMs/2: never idle long enough for the inactivity timeout. Bounded by the
    // request's length (about 13 s at this pace): the header deadline (1 s here) must come first.
    const trickle = setInterval(() => {
      if (slow.closedAt === null && sent < request.length) slow.socket.write(request[sent++]!);
    }, idleMs / 2);
    try {
      await waitFor(() => slow.closedAt !== null, 'the trickling connection to be closed', { timeoutMs: 6_000 });
    } finally {
      clearInterval(trickle);
    }
    expect(slow.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(sent).toBeLessThan(request.length);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});
