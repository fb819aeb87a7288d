/**
 * A listening stream socket (TCP, TLS or Unix) as a source: accepts connections, one
 * Connection each (connection.ts), all sharing the source's in-flight limit. Socket sources
 * have no file position: a chunk's origin is the peer; what was received but not committed
 * when the agent is killed is lost to the sender unless it sends again (plain TCP has no
 * application-level acknowledgement).
 *
 * Lifecycle: subscribing listens; `whenStarted()` resolves once listening, or rejects with a
 * SourceStartError (port in use, permission, certificate) and the source completes at once.
 * `drain()` stops accepting, closes connections (unfinished lines are dead-lettered), hands out
 * what was read and completes once it is all acknowledged.
 */
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { LogEvery } from '../../observability/log-every.js';
import type { TcpSourceConfig, UnixSourceConfig } from '../../config/sources-schema.js';
import type { ParserOptions } from '../../parse/parser.js';
import { FORMATS, type FormatName } from '../../parse/registry.js';
import { PushLifecycle } from '../push-lifecycle.js';
import { InFlightLimit, deliver, type LineChunk, type Source } from '../source.js';
import { SourceStartError } from '../start-error.js';
import { Connection } from './connection.js';

export interface StreamSourceOptions {
  name: string;
  format: FormatName;
  lane: number;
  logger: Logger;
  parserOptions: ParserOptions;
  maxLineBytes: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxInFlight?: number;
  /** Bytes gathered per connection while no slot is free, before its socket is paused. */
  maxPendingBytes?: number;
}

/** The stream settings TCP and Unix sources share, from their config. */
export function streamOptionsOf(
  config: TcpSourceConfig | UnixSourceConfig,
  ctx: { lane: number; logger: Logger; parserOptions: ParserOptions },
): StreamSourceOptions {
  return {
    name: config.name,
    format: config.format,
    lane: ctx.lane,
    logger: ctx.logger,
    parserOptions: ctx.parserOptions,
    maxLineBytes: config.max_line_bytes,
    idleTimeoutMs: config.idle_timeout,
    maxConnections: config.max_connections,
  };
}

/** What differs between TCP, TLS and Unix sockets. */
export interface Listener {
  /** Creates the server; `accept` is called with each new connection and its origin. */
  create(accept: (socket: Duplex, origin: string) => void): Server | Promise<Server>;
  /** Listens; resolves with the address to log. Throws SourceStartError when it cannot. */
  listen(server: Server): Promise<string>;
  /** Called after the server closed (e.g. to remove a socket file). */
  closed?(): Promise<void>;
}

export class StreamSource implements Source {
  readonly name: string;
  readonly chunks$: Observable<LineChunk>;
  private readonly life = new PushLifecycle({ start: () => this.start(), stop: () => this.stop(false) });
  private readonly limit: InFlightLimit;
  get stalls$(): Observable<void> {
    return this.limit.waits$;
  }
  private readonly log: Logger;
  private readonly connections = new Set<Connection>();
  private server: Server | null = null;
  private draining: Promise<void> | null = null;
  /** Bound address, once listening (useful with port 0). */
  address: string | null = null;

  constructor(
    private readonly opts: StreamSourceOptions,
    private readonly listener: Listener,
  ) {
    this.name = opts.name;
    this.limit = new InFlightLimit(opts.maxInFlight ?? 4);
    this.log = opts.logger.child({ source: this.name });
    this.chunks$ = this.life.chunks$;
  }

  whenStarted(): Promise<void> {
    return this.life.started;
  }

  isCaughtUp(): boolean {
    if (this.limit.count > 0) return false;
    for (const c of this.connections) if (!c.idle) return false;
    return true;
  }

  drain(): Promise<void> {
    return this.stop(true);
  }

  private async start(): Promise<void> {
    try {
      const server = await this.listener.create((socket, origin) => this.accept(socket, origin));
      server.maxConnections = this.opts.maxConnections;
      // A flood of connections must not become a flood of log lines: one line per 10 s, counted.
      const refused = new LogEvery(this.log, 'connection_refused', `too many connections (max_connections ${this.opts.maxConnections}): new one refused`);
      server.on('drop', (data?: { remoteAddress?: string }) => refused.hit({ peer: data?.remoteAddress, max_connections: this.opts.maxConnections }));
      server.on('error', (err) => this.log.error({ event: 'server_error', err }, 'listening socket failed'));
      this.server = server;
      this.address = await this.listener.listen(server);
      this.log.info({ event: 'source_listening', address: this.address }, `listening on ${this.address}`);
      this.life.startedOk();
    } catch (err) {
      const failure = err instanceof SourceStartError ? err : new SourceStartError(this.name, (err as Error).message, 'check the source settings');
      this.life.startFailed(failure);
      this.server?.close();
      this.server = null;
      this.life.finish();
    }
  }

  private accept(socket: Duplex, origin: string): void {
    if (this.draining !== null) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, origin, {
      source: this.name,
      lane: this.opts.lane,
      limit: this.limit,
      parserFactory: FORMATS[this.opts.format],
      parserOptions: this.opts.parserOptions,
      maxLineBytes: this.opts.maxLineBytes,
      maxPendingBytes: this.opts.maxPendingBytes ?? 256 * 1024,
      idleTimeoutMs: this.opts.idleTimeoutMs,
      emit: (chunk) => deliver(this.life.subscriber, chunk),
      logger: this.log,
    });
    this.connections.add(connection);
    this.log.debug({ event: 'connection_opened', peer: origin, connections: this.connections.size }, 'connection opened');
    void connection.finished.then(() => {
      this.connections.delete(connection);
      this.log.debug({ event: 'connection_closed', peer: origin }, 'connection closed');
    });
  }

  /** `graceful`: hand out what was read and wait for it to be committed. */
  private stop(graceful: boolean): Promise<void> {
    this.draining ??= (async () => {
      const server = this.server;
      this.server = null;
      const closed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
      const connections = [...this.connections];
      if (graceful) await Promise.all(connections.map((c) => c.close('agent stopping')));
      else for (const c of connections) void c.close('agent stopping');
      await closed;
      await this.listener.closed?.().catch(() => undefined);
      if (graceful) await this.limit.idle();
      this.life.finish();
    })();
    return this.draining;
  }
}
