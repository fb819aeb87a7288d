/**
 * The agent's HTTP endpoint for orchestrators and Prometheus:
 *   GET /healthz  200 while the process serves requests (liveness; says nothing about the hub);
 *   GET /readyz   200, or 503 with every reason (outbox full, token unusable, delivery paused);
 *   GET /metrics  Prometheus text format from the registry.
 * Read-only: it sees the agent only through AgentView and the registry's collect() callbacks.
 * A failure to listen is a HealthServerError naming `http.listen` and the cause; close() is
 * idempotent and drops keep-alive connections so stopping the agent is never held up by a scraper.
 *
 * Bounded, because it shares the process's descriptors with ingest and delivery: 400 half-open
 * connections under a 256-descriptor limit once left no descriptor for a source file, the
 * SQLite WAL or the hub. So:
 *   - at most `maxConnections` (32) at once: a Prometheus server or two, a few probes and curl
 *     need well under that; connections beyond it are closed on accept (Node's maxConnections),
 *     counted in senseye_agent_http_connections_refused_total and logged (at most once a minute);
 *   - a socket idle for `idleTimeoutMs` (5 s) is destroyed, whatever state it is in. Measured on
 *     Node 20: only the socket inactivity timeout (`server.timeout`) closes a connection that
 *     never sends a byte; headersTimeout (enforced every connectionsCheckingInterval) answers 408
 *     to one that sent part of its headers but ignores one that sent nothing, and headersTimeout /
 *     requestTimeout assigned after createServer() have no effect at all: they are passed to it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { AgentView } from '../daemon/agent-view.js';
import { parseListen } from '../config/listen-address.js';
import { METRIC_PREFIX } from './metrics.js';
import { readiness } from './readiness.js';

export interface HealthServerOptions {
  /** `host:port` as in `http.listen` (port 0 picks a free port; the bound one is in `url`). */
  listen: string;
  view: AgentView;
  registry: Registry;
  logger: Logger;
  /** Connections open at once at most; more are closed on accept. Default 32. */
  maxConnections?: number;
  /** A connection that sends and receives nothing for this long is destroyed. Default 5000 ms. */
  idleTimeoutMs?: number;
}

export const DEFAULT_HTTP_MAX_CONNECTIONS = 32;
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 5_000;
/** Connections refused since start (beyond maxConnections). */
export const HTTP_REFUSED_METRIC = `${METRIC_PREFIX}http_connections_refused_total`;
const REFUSED_LOG_INTERVAL_MS = 60_000;

export interface HealthServer {
  /** e.g. http://127.0.0.1:9464 (the bound port when 0 was asked for). */
  readonly url: string;
  /** Connections the server holds open now. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

export class HealthServerError extends Error {
  readonly code = 'SENSEYE_HTTP_LISTEN';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message} (${hint})`);
  }
}

const HINTS: Record<string, string> = {
  EADDRINUSE: 'another program (or another agent) listens there: set http.listen to a free host:port, or to null to turn the endpoint off',
  EACCES: 'ports below 1024 need privileges the agent does not have: use a port of 1024 or above',
  EADDRNOTAVAIL: 'that host is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its own addresses',
};

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const address = parseListen(options.listen);
  if (typeof address === 'string') throw new HealthServerError(`http.listen "${options.listen}" is not an address`, address);
  const log = options.logger.child({ component: 'http' });

  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS;
  // Scrapers are short; nothing here should hold a socket for long. Header and request deadlines
  // count only when given to createServer (see the header comment).
  const server = createServer({
    headersTimeout: Math.min(5_000, Math.max(idleTimeoutMs, 1_000)),
    requestTimeout: 10_000,
    keepAliveTimeout: Math.min(5_000, idleTimeoutMs),
    connectionsCheckingInterval: 1_000,
  }, (req, res) => {
    handle(req, res, options).catch((err: unknown) => {
      log.error({ event: 'http_handler_failed', path: req.url, err: err instanceof Error ? err.message : String(err) }, 'health endpoint request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  // Socket inactivity: the one setting that closes a connection that never sends anything.
  server.timeout = idleTimeoutMs;
  server.maxConnections = options.maxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS;
  const refused = refusedCounter(options.registry);
  let refusedSinceLog = 0;
  let lastRefusedLog = 0;
  server.on('drop', () => {
    refused.inc();
    refusedSinceLog++;
    const now = Date.now();
    if (now - lastRefusedLog < REFUSED_LOG_INTERVAL_MS) return;
    log.warn(
      { event: 'http_connections_refused', refused: refusedSinceLog, max_connections: server.maxConnections },
      `health endpoint: ${server.maxConnections} connections open; closed ${refusedSinceLog} more (a scraper or probe that does not close its connections?)`,
    );
    lastRefusedLog = now;
    refusedSinceLog = 0;
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const code = err.code ?? 'ERROR';
      reject(new HealthServerError(`http.listen ${options.listen}: cannot listen (${code})`, HINTS[code] ?? err.message));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(address.port, address.host);
  });
  server.on('error', (err) => log.error({ event: 'http_error', err: err.message }, 'health endpoint error'));

  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `http://${host}:${bound.port}`;
  log.info({ event: 'http_listening', url, paths: ['/healthz', '/readyz', '/metrics'] }, `health and metrics endpoint on ${url}`);

  let closing: Promise<void> | null = null;
  return {
    url,
    connections: () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n)))),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The registry's refused-connections counter (one per registry, also when the server is started again). */
function refusedCounter(registry: Registry): Counter {
  const existing = registry.getSingleMetric(HTTP_REFUSED_METRIC);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name: HTTP_REFUSED_METRIC,
    help: 'Connections to the health and metrics endpoint closed on accept because maxConnections were open, since start',
    registers: [registry],
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, options: HealthServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  switch (path) {
    case '/healthz':
      sendJson(res, 200, { status: 'ok' });
      return;
    case '/readyz': {
      const r = readiness(options.view);
      sendJson(res, r.ready ? 200 : 503, r);
      return;
    }
    case '/metrics': {
      const body = await options.registry.metrics();
      send(res, 200, options.registry.contentType, body);
      return;
    }
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /healthz, /readyz or /metrics\n');
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
