/**
 * `udp` source: each datagram holds one or more newline-separated records (the last may lack
 * its newline: the datagram's end ends it). Records are gathered per sender and handed out as
 * chunks with the sender's address as origin.
 *
 * The socket is read by a thread of its own (udp-receiver.ts): the agent's thread may be busy
 * committing or sending for a while without the socket going unread. It hands over batches of a
 * few milliseconds of datagrams, so the pipeline's per-chunk and per-commit work is shared by many
 * datagrams instead of paid for each.
 *
 * UDP has no flow control, so losses are counted where they happen, never silent:
 * - in the kernel, when the socket's receive buffer (`receive_buffer`, SO_RCVBUF, capped by
 *   net.core.rmem_max) is full because it was not read in time: the kernel's own count for this
 *   socket is read from /proc (udp-drops.ts), exported and logged (`udp_drops`);
 * - in the agent, while the outbox is not taking more: datagrams are held up to
 *   `max_pending_bytes`, beyond that dropped, counted and logged (`datagrams_dropped`).
 * Like every socket source, what was received but not committed when the agent is killed is lost.
 */
import { isUtf8 } from 'node:buffer';
import { isIPv6 } from 'node:net';
import type { Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { UdpSourceConfig } from '../../config/sources-schema.js';
import { LogEvery } from '../../observability/log-every.js';
import type { LineParser, ParserOptions } from '../../parse/parser.js';
import { FORMATS } from '../../parse/registry.js';
import { chunkParts } from '../chunk-parts.js';
import type { SplitItem } from '../line-splitter.js';
import { PushLifecycle } from '../push-lifecycle.js';
import { InFlightLimit, deliver, type LineChunk, type Source } from '../source.js';
import { SourceStartError } from '../start-error.js';
import { invalidUtf8Reason } from '../utf8.js';
import { formatListen } from '../../config/listen-address.js';
import { readUdpSocketRow } from './udp-drops.js';
import { UdpReceiver, type ReceivedBatch, type ReceiverListening } from './udp-receiver.js';

interface PeerBacklog {
  origin: string;
  /** Lines, and lines refused for not being valid UTF-8 (in order). */
  items: SplitItem[];
  bytes: number;
}

const DROP_LOG_EVERY_MS = 10_000;
/** How often the kernel's drop count is read (and a warning considered). */
const KERNEL_DROPS_POLL_MS = 1_000;
/** How long the receiving thread gathers datagrams before handing them over. */
const FLUSH_MS = 50;

export class UdpSource implements Source {
  readonly name: string;
  readonly chunks$: Observable<LineChunk>;
  private readonly life = new PushLifecycle({ start: () => this.start(), stop: () => this.stop(false) });
  private readonly limit: InFlightLimit;
  get stalls$(): Observable<void> {
    return this.limit.waits$;
  }
  private readonly log: Logger;
  private readonly parser: LineParser;
  private readonly backlog = new Map<string, PeerBacklog>();
  private backlogBytes = 0;
  private receiver: UdpReceiver | null = null;
  private pumping: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  /** Datagrams dropped for max_pending_bytes: counted, logged at most every DROP_LOG_EVERY_MS. */
  private readonly backlogDrops: LogEvery;
  /** Datagrams that reached the agent (dropped for max_pending_bytes or not) since start. */
  datagrams = 0;
  /** The socket's inode, to find its row in /proc/net/udp{,6}; null where it cannot be found. */
  private inode: number | null = null;
  /** The kernel's drop count for the socket, as last read; null while unknown. */
  private kernelDrops: number | null = null;
  private kernelDropsUnlogged = 0;
  private lastKernelDropLog = 0;
  private dropsTimer: NodeJS.Timeout | null = null;
  /** SO_RCVBUF as the kernel reports it once set (Linux: twice the size asked for, for its bookkeeping). */
  receiveBufferBytes: number | null = null;
  address: string | null = null;

  constructor(
    private readonly config: UdpSourceConfig,
    private readonly ctx: { lane: number; logger: Logger; parserOptions: ParserOptions; maxInFlight?: number },
  ) {
    this.name = config.name;
    this.limit = new InFlightLimit(ctx.maxInFlight ?? 4);
    this.log = ctx.logger.child({ source: this.name });
    this.backlogDrops = new LogEvery(
      this.log,
      'datagrams_dropped',
      'outbox not keeping up and the UDP backlog is full: datagrams dropped (UDP cannot slow the sender down)',
      DROP_LOG_EVERY_MS,
    );
    // Formats allowed over UDP are stateless (no header): one parser serves every sender.
    this.parser = FORMATS[config.format](ctx.parserOptions, null);
    this.chunks$ = this.life.chunks$;
  }

  whenStarted(): Promise<void> {
    return this.life.started;
  }

  isCaughtUp(): boolean {
    return this.limit.count === 0 && this.backlogBytes === 0 && this.pumping === null;
  }

  drain(): Promise<void> {
    return this.stop(true);
  }

  private async start(): Promise<void> {
    const { host, port } = this.config.listen;
    const receiver = new UdpReceiver(
      { host, port, ipv6: isIPv6(host), recvBufferSize: this.config.receive_buffer, maxPendingBytes: this.config.max_pending_bytes, flushMs: FLUSH_MS },
      {
        batch: (b) => this.onBatch(b),
        socketError: (message) => this.log.error({ event: 'socket_error', err: message }, 'UDP socket error'),
      },
    );
    this.receiver = receiver;
    let listening: ReceiverListening;
    try {
      listening = await receiver.start();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const where = formatListen({ host, port });
      const hint = code === 'EADDRINUSE' ? 'another process listens there: stop it or choose another port' : code === 'EACCES' ? 'ports below 1024 need privileges' : 'check `listen`';
      this.life.startFailed(new SourceStartError(this.name, `cannot listen on udp ${where}: ${code ?? (err as Error).message}`, hint));
      this.receiver = null;
      this.life.finish();
      return;
    }
    if (this.stopping !== null) return;
    this.address = formatListen({ host: listening.address, port: listening.port });
    this.log.info({ event: 'source_listening', address: this.address }, `listening on udp ${this.address}`);
    this.reportReceiveBuffer(listening);
    this.watchKernelDrops(listening.inode);
    this.life.startedOk();
  }

  /** Logs what the kernel granted for SO_RCVBUF: it caps the size at net.core.rmem_max. */
  private reportReceiveBuffer(l: ReceiverListening): void {
    const requested = this.config.receive_buffer;
    if (l.granted === null) {
      this.log.warn({ event: 'udp_receive_buffer', requested_bytes: requested, err: l.bufferError }, 'could not set the UDP receive buffer: the system default applies');
      return;
    }
    this.receiveBufferBytes = l.granted;
    // Linux doubles the size asked for (the kernel's bookkeeping shares the buffer).
    const usable = process.platform === 'linux' ? l.granted / 2 : l.granted;
    const fields = { event: 'udp_receive_buffer', requested_bytes: requested, granted_bytes: l.granted };
    if (requested > 0 && usable < requested) {
      this.log.warn(
        { ...fields, hint: `raise net.core.rmem_max to at least ${requested} (sysctl -w net.core.rmem_max=${requested}; persist it in /etc/sysctl.d/)` },
        `UDP receive buffer capped by the kernel at ${usable} bytes (asked for ${requested}): bursts beyond it are dropped by the kernel`,
      );
    } else {
      this.log.info(fields, `UDP receive buffer ${l.granted} bytes`);
    }
  }

  private watchKernelDrops(inode: number | null): void {
    this.inode = inode;
    if (inode === null || this.readKernelDrops() === null) {
      this.inode = null;
      this.log.info({ event: 'udp_drops_unavailable' }, "the kernel's drop count for this socket cannot be read here (no /proc/net/udp or no socket fd): drops by the kernel are not counted");
      return;
    }
    this.dropsTimer = setInterval(() => this.readKernelDrops(), KERNEL_DROPS_POLL_MS);
    this.dropsTimer.unref();
  }

  /** Reads the kernel's drop count; warns (at most every 10 s, and at stop) when it moved. */
  private readKernelDrops(final = false): number | null {
    if (this.inode === null) return null;
    const row = readUdpSocketRow(this.inode);
    if (row === null) return this.kernelDrops;
    const before = this.kernelDrops ?? 0;
    this.kernelDrops = row.drops;
    this.kernelDropsUnlogged += row.drops - before;
    const now = Date.now();
    if (this.kernelDropsUnlogged > 0 && (final || now - this.lastKernelDropLog >= DROP_LOG_EVERY_MS)) {
      this.log.warn(
        {
          event: 'udp_drops',
          count: this.kernelDropsUnlogged,
          total: row.drops,
          receive_buffer_bytes: this.receiveBufferBytes,
          hint: 'raise receive_buffer (and net.core.rmem_max), give the agent more CPU, or have senders put more records in each datagram',
        },
        `the kernel dropped ${this.kernelDropsUnlogged} datagrams: the socket's receive buffer was full (they were not read in time)`,
      );
      this.kernelDropsUnlogged = 0;
      this.lastKernelDropLog = now;
    }
    return this.kernelDrops;
  }

  /** Datagrams lost so far: by the kernel (null where it cannot be read) and by the backlog limit. */
  drops(): { kernel: number | null; backlog: number } {
    return { kernel: this.readKernelDrops(), backlog: this.droppedTotal };
  }

  private onBatch(batch: ReceivedBatch): void {
    this.datagrams += batch.datagrams;
    if (batch.dropped > 0) this.countDropped(batch.dropped);
    const { data, ends, senders, origins } = batch;
    const valid = isUtf8(data);
    let start = 0;
    let b: PeerBacklog | undefined;
    let sender = -1;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i]!;
      if (senders[i] !== sender) {
        sender = senders[i]!;
        const origin = origins[sender]!;
        b = this.backlog.get(origin);
        if (b === undefined) this.backlog.set(origin, (b = { origin, items: [], bytes: 0 }));
      }
      // One check for the whole batch; only a batch that fails it is looked at datagram by datagram.
      pushLines(data, start, end, b!.items, valid || isUtf8(data.subarray(start, end))); // b is set on the first datagram: no sender is -1
      b!.bytes += end - start;
      start = end;
    }
    this.backlogBytes += start;
    this.pump();
  }

  private countDropped(n: number): void {
    this.backlogDrops.hit({ max_pending_bytes: this.config.max_pending_bytes }, n);
  }

  /** Datagrams dropped beyond `max_pending_bytes` since start. */
  get droppedTotal(): number {
    return this.backlogDrops.count;
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
      const [origin, b] = this.backlog.entries().next().value as [string, PeerBacklog];
      this.backlog.delete(origin);
      this.backlogBytes -= b.bytes;
      // Handed on: the receiving thread may take that much more before it drops.
      this.receiver?.credit(b.bytes);
      const parts = chunkParts(b.items, 1, Infinity);
      if (parts.length === 0) parts.push({ firstLine: 1, lines: [], refused: [], bytes: 0 }); // the slot is taken: its ack releases it
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await this.limit.acquire();
        const part = parts[i]!;
        deliver(this.life.subscriber, {
          source: this.name,
          lane: this.ctx.lane,
          origin,
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
      const receiver = this.receiver;
      this.receiver = null;
      if (this.dropsTimer !== null) clearInterval(this.dropsTimer);
      this.readKernelDrops(true);
      if (receiver !== null) {
        if (graceful) await receiver.stop();
        else receiver.terminate();
      }
      if (graceful) {
        this.pump();
        while (this.pumping !== null) await this.pumping;
        await this.limit.idle();
      }
      if (this.droppedTotal > 0) this.log.warn({ event: 'datagrams_dropped', total: this.droppedTotal }, 'datagrams dropped while running');
      this.log.info(
        { event: 'udp_source_stopped', datagrams: this.datagrams, kernel_drops: this.kernelDrops, backlog_drops: this.droppedTotal },
        `received ${this.datagrams} datagrams; dropped by the kernel: ${this.kernelDrops ?? 'unknown'}, by the backlog limit: ${this.droppedTotal}`,
      );
      this.life.finish();
    })();
    return this.stopping;
  }
}

/**
 * Appends the records of data[start, end): newline-separated, the last without one, '\r' before a
 * newline dropped. Unless the datagram is known to be valid UTF-8, each record is checked: one
 * that is not is refused with the byte offset (utf8.ts), never delivered altered.
 */
function pushLines(data: Buffer, start: number, end: number, out: SplitItem[], validUtf8: boolean): void {
  while (start < end) {
    let nl = data.indexOf(0x0a, start);
    if (nl === -1 || nl >= end) nl = end;
    const stop = nl > start && data[nl - 1] === 0x0d ? nl - 1 : nl;
    const line = data.toString('utf8', start, stop);
    if (validUtf8 || isUtf8(data.subarray(start, stop))) out.push({ line, bytes: 0 });
    else out.push({ refused: true, bytes: 0, raw: line.slice(0, 4096), reason: invalidUtf8Reason(data, start, stop) });
    start = nl + 1;
  }
}
