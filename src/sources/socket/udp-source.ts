/**
 * `udp` source: each datagram holds one or more newline-separated records (the last may lack
 * its newline: the datagram's end ends it). Records are gathered per sender and handed out as
 * chunks with the sender's address as origin.
 *
 * UDP has no flow control: while the outbox is not taking more, datagrams are held up to
 * `max_pending_bytes`; beyond that they are dropped, counted and logged (never silently). Like
 * every socket source, what was received but not committed when the agent is killed is lost.
 */
import { isUtf8 } from 'node:buffer';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import type { UdpSourceConfig } from '../../config/sources-schema.js';
import type { LineParser, ParserOptions } from '../../parse/parser.js';
import { FORMATS } from '../../parse/registry.js';
import { chunkParts } from '../chunk-parts.js';
import type { SplitItem } from '../line-splitter.js';
import { InFlightLimit, deliver, type LineChunk, type Source } from '../source.js';
import { SourceStartError } from '../start-error.js';
import { invalidUtf8Reason } from '../utf8.js';
import { formatListen } from './listen-address.js';

interface PeerBacklog {
  /** Lines, and lines refused for not being valid UTF-8 (in order). */
  items: SplitItem[];
  bytes: number;
  nextLine: number;
}

const DROP_LOG_EVERY_MS = 10_000;

export class UdpSource implements Source {
  readonly name: string;
  readonly chunks$: Observable<LineChunk>;
  private readonly limit: InFlightLimit;
  get stalls$(): Observable<void> {
    return this.limit.waits$;
  }
  private readonly log: Logger;
  private readonly parser: LineParser;
  private readonly backlog = new Map<string, PeerBacklog>();
  private backlogBytes = 0;
  private socket: dgram.Socket | null = null;
  private subscriber: Subscriber<LineChunk> | null = null;
  private pumping: Promise<void> | null = null;
  private readonly started: Promise<void>;
  private startedOk!: () => void;
  private startedFailed!: (err: unknown) => void;
  private stopping: Promise<void> | null = null;
  private done!: () => void;
  private readonly completed = new Promise<void>((resolve) => (this.done = resolve));
  /** Datagrams dropped since the last log line, and in total. */
  private dropped = 0;
  droppedTotal = 0;
  private lastDropLog = 0;
  address: string | null = null;

  constructor(
    private readonly config: UdpSourceConfig,
    private readonly ctx: { lane: number; logger: Logger; parserOptions: ParserOptions; maxInFlight?: number },
  ) {
    this.name = config.name;
    this.limit = new InFlightLimit(ctx.maxInFlight ?? 4);
    this.log = ctx.logger.child({ source: this.name });
    // Formats allowed over UDP are stateless (no header): one parser serves every sender.
    this.parser = FORMATS[config.format](ctx.parserOptions, null);
    this.started = new Promise<void>((resolve, reject) => {
      this.startedOk = resolve;
      this.startedFailed = reject;
    });
    this.started.catch(() => undefined);
    this.chunks$ = new Observable<LineChunk>((subscriber) => {
      this.subscriber = subscriber;
      this.start();
      void this.completed.then(() => subscriber.complete());
      return () => void this.stop(false);
    });
  }

  whenStarted(): Promise<void> {
    return this.started;
  }

  isCaughtUp(): boolean {
    return this.limit.count === 0 && this.backlogBytes === 0 && this.pumping === null;
  }

  drain(): Promise<void> {
    return this.stop(true);
  }

  private start(): void {
    const { host, port } = this.config.listen;
    const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    const onBindError = (err: NodeJS.ErrnoException) => {
      const where = formatListen({ host, port });
      const hint = err.code === 'EADDRINUSE' ? 'another process listens there: stop it or choose another port' : err.code === 'EACCES' ? 'ports below 1024 need privileges' : 'check `listen`';
      this.startedFailed(new SourceStartError(this.name, `cannot listen on udp ${where}: ${err.code ?? err.message}`, hint));
      socket.close();
      this.socket = null;
      this.done();
    };
    socket.once('error', onBindError);
    socket.bind(port, host, () => {
      socket.off('error', onBindError);
      socket.on('error', (err) => this.log.error({ event: 'socket_error', err }, 'UDP socket error'));
      const a = socket.address();
      this.address = formatListen({ host: a.address, port: a.port });
      this.log.info({ event: 'source_listening', address: this.address }, `listening on udp ${this.address}`);
      this.startedOk();
    });
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.stopping !== null) return;
    if (this.backlogBytes + msg.length > this.config.max_pending_bytes) {
      this.dropped++;
      this.droppedTotal++;
      const now = Date.now();
      if (now - this.lastDropLog >= DROP_LOG_EVERY_MS) {
        this.log.warn(
          { event: 'datagrams_dropped', count: this.dropped, total: this.droppedTotal, max_pending_bytes: this.config.max_pending_bytes },
          'outbox not keeping up and the UDP backlog is full: datagrams dropped (UDP cannot slow the sender down)',
        );
        this.dropped = 0;
        this.lastDropLog = now;
      }
      return;
    }
    const peer = `udp://${rinfo.family === 'IPv6' ? `[${rinfo.address}]` : rinfo.address}:${rinfo.port}`;
    let b = this.backlog.get(peer);
    if (b === undefined) this.backlog.set(peer, (b = { items: [], bytes: 0, nextLine: 1 }));
    if (isUtf8(msg)) {
      const lines = msg.toString('utf8').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (const l of lines) b.items.push({ line: l.endsWith('\r') ? l.slice(0, -1) : l, bytes: 0 });
    } else {
      // Some line is not valid UTF-8: that one is refused (utf8.ts), the others go on.
      for (let start = 0; start < msg.length; ) {
        const found = msg.indexOf(0x0a, start);
        const nl = found === -1 ? msg.length : found;
        const end = nl > start && msg[nl - 1] === 0x0d ? nl - 1 : nl;
        const line = msg.toString('utf8', start, end);
        if (isUtf8(msg.subarray(start, end))) b.items.push({ line, bytes: 0 });
        else b.items.push({ refused: true, bytes: 0, raw: line.slice(0, 4096), reason: invalidUtf8Reason(msg, start, end) });
        start = nl + 1;
      }
    }
    b.bytes += msg.length;
    this.backlogBytes += msg.length;
    this.pump();
  }

  private pump(): void {
    if (this.pumping !== null) return;
    this.pumping = this.pumpLoop().finally(() => {
      this.pumping = null;
      if (this.backlogBytes > 0) this.pump();
    });
  }

  private async pumpLoop(): Promise<void> {
    while (this.backlog.size > 0) {
      await this.limit.acquire();
      const [peer, b] = this.backlog.entries().next().value as [string, PeerBacklog];
      this.backlog.delete(peer);
      this.backlogBytes -= b.bytes;
      const parts = chunkParts(b.items, b.nextLine, Infinity);
      if (parts.length === 0) parts.push({ firstLine: b.nextLine, lines: [], refused: [], bytes: 0 }); // the slot is acquired: release it by an ack
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await this.limit.acquire();
        const part = parts[i]!;
        deliver(this.subscriber, {
          source: this.name,
          lane: this.ctx.lane,
          origin: peer,
          lines: part.lines,
          firstLine: part.firstLine,
          parser: this.parser,
          refused: part.refused.length > 0 ? part.refused : undefined,
          checkpoint: undefined,
          ack: () => this.limit.release(),
        });
      }
    }
  }

  private stop(graceful: boolean): Promise<void> {
    this.stopping ??= (async () => {
      const socket = this.socket;
      this.socket = null;
      if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()));
      if (graceful) {
        while (this.pumping !== null) await this.pumping;
        await this.limit.idle();
      }
      if (this.droppedTotal > 0) this.log.warn({ event: 'datagrams_dropped', total: this.droppedTotal }, 'datagrams dropped while running');
      this.done();
    })();
    return this.stopping;
  }
}
