/**
 * The agent's HTTP endpoint for orchestrators and Prometheus:
 *   GET /healthz  200 while the process serves requests (liveness; says nothing about the hub);
 *   GET /readyz   200, or 503 with every reason (outbox full, token unusable, delivery paused);
 *   GET /metrics  Prometheus text format from the registry.
 * Read-only: it sees the agent only through AgentView and the registry's collect() callbacks.
 * A failure to listen is a HealthServerError naming `http.listen` and the cause; close() is
 * idempotent and drops keep-alive connections so stopping the agent is never held up by a scraper.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentView } from '../daemon/agent-view.js';
import { parseListen } from '../sources/socket/listen-address.js';
import { readiness } from './readiness.js';

export interface HealthServerOptions {
  /** `host:port` as in `http.listen` (port 0 picks a free port; the bound one is in `url`). */
  listen: string;
  view: AgentView;
  registry: Registry;
  logger: Logger;
}

export interface HealthServer {
  /** e.g. http://127.0.0.1:9464 (the bound port when 0 was asked for). */
  readonly url: string;
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

  const server = createServer((req, res) => {
    handle(req, res, options).catch((err: unknown) => {
      log.error({ event: 'http_handler_failed', path: req.url, err: err instanceof Error ? err.message : String(err) }, 'health endpoint request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  // Scrapers are short; nothing here should hold a socket for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;

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
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
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
