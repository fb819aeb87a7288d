/**
 * One stream connection (TCP, TLS or Unix): newline-delimited records cut into lines and
 * handed to the pipeline as chunks, with the connection's own parser (a CSV header is per
 * connection) and line numbers, and the peer address as origin.
 *
 * Backpressure: a chunk needs a free in-flight slot of the source; while none is free, lines
 * gather (coalescing many small writes into one chunk), and beyond `maxPendingBytes` of complete
 * lines the socket is paused, so the kernel's buffers fill and TCP slows the sender down. It
 * resumes as soon as the gathered lines went out. Memory per connection is bounded by
 * `maxPendingBytes` + `maxLineBytes` (the unfinished line) + one read.
 *
 * Invariants: every complete line is emitted once, in order; a line over `maxLineBytes` is
 * dead-lettered (first 4 KiB) and the connection goes on; an unfinished line when the
 * connection ends is dead-lettered as such, never parsed as if it were whole.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { LineParser, ParserFactory, ParserOptions } from '../../parse/parser.js';
import { chunkParts, partLength } from '../chunk-parts.js';
import { LineSplitter, type SplitItem } from '../line-splitter.js';
import type { InFlightLimit, LineChunk } from '../source.js';

export interface ConnectionDeps {
  source: string;
  lane: number;
  limit: InFlightLimit;
  parserFactory: ParserFactory;
  parserOptions: ParserOptions;
  maxLineBytes: number;
  maxPendingBytes: number;
  idleTimeoutMs: number;
  emit: (chunk: LineChunk) => void;
  logger: Logger;
}

export class Connection {
  private readonly splitter: LineSplitter;
  private readonly parser: LineParser;
  private pending: SplitItem[] = [];
  private pendingBytes = 0;
  private nextLine = 1;
  private pumping: Promise<void> | null = null;
  private paused = false;
  private ended = false;
  /** Resolves once the connection closed and all its lines were handed out. */
  readonly finished: Promise<void>;
  private markFinished!: () => void;

  constructor(
    private readonly socket: Duplex,
    readonly origin: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.splitter = new LineSplitter(deps.maxLineBytes);
    this.parser = deps.parserFactory(deps.parserOptions, null);
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('end', () => this.finish('closed by the sender'));
    socket.on('close', () => this.finish('connection closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      deps.logger.info({ event: 'connection_error', peer: origin, code: err.code }, 'connection failed');
      this.finish(`connection failed (${err.code ?? err.message})`);
    });
    if (deps.idleTimeoutMs > 0 && 'setTimeout' in socket) {
      (socket as unknown as { setTimeout(ms: number, cb: () => void): void }).setTimeout(deps.idleTimeoutMs, () => {
        deps.logger.info({ event: 'connection_idle', peer: origin, idle_ms: deps.idleTimeoutMs }, 'closing idle connection');
        socket.destroy();
      });
    }
  }

  /** Nothing is waiting to be handed out. */
  get idle(): boolean {
    return this.pending.length === 0 && this.pumping === null;
  }

  /** Stops reading; an unfinished line is dead-lettered; resolves once all lines went out. */
  async close(why: string): Promise<void> {
    this.finish(why);
    this.socket.destroy();
    await this.finished;
  }

  private onData(data: Buffer): void {
    if (this.ended) return;
    const before = this.pending.length;
    this.splitter.push(data, this.pending);
    for (let i = before; i < this.pending.length; i++) this.pendingBytes += this.pending[i]!.bytes;
    // Only complete lines waiting for a slot count: they are what pumpLoop() hands out before it
    // resumes. An unfinished line (at most maxLineBytes, held by the splitter) or the skipped
    // rest of an over-long one (nothing held but its first 4 KiB) never makes a line to hand
    // out, so pausing for it would stop the connection for good.
    if (!this.paused && this.pendingBytes > this.deps.maxPendingBytes) {
      this.paused = true;
      this.socket.pause();
      this.deps.logger.debug({ event: 'connection_paused', peer: this.origin }, 'outbox not keeping up: reading paused');
    }
    if (this.pending.length > 0) this.pump();
  }

  private finish(why: string): void {
    if (this.ended) return;
    this.ended = true;
    const partial = this.splitter.takePending();
    if (partial !== null) {
      this.deps.logger.warn({ event: 'partial_record', peer: this.origin, bytes: partial.bytes }, `${why} in the middle of a record: dead-lettered`);
      this.pending.push({ refused: true, bytes: partial.bytes, raw: partial.raw, reason: `${why} before this record's newline (${partial.bytes} bytes): not parsed, it may be cut short` });
    }
    this.pump(); // its end marks the connection finished once everything went out
  }

  private pump(): void {
    if (this.pumping !== null) return;
    this.pumping = this.pumpLoop().finally(() => {
      this.pumping = null;
      if (this.pending.length > 0) this.pump();
      else if (this.ended) this.markFinished();
    });
  }

  private async pumpLoop(): Promise<void> {
    while (this.pending.length > 0) {
      await this.deps.limit.acquire();
      const items = this.pending;
      this.pending = [];
      this.pendingBytes = 0;
      const parts = chunkParts(items, this.nextLine, this.deps.maxLineBytes);
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await this.deps.limit.acquire();
        const part = parts[i]!;
        this.nextLine += partLength(part);
        this.deps.emit({
          source: this.deps.source,
          lane: this.deps.lane,
          origin: this.origin,
          lines: part.lines,
          firstLine: part.firstLine,
          parser: this.parser,
          refused: part.refused.length > 0 ? part.refused : undefined,
          checkpoint: undefined,
          ack: () => this.deps.limit.release(),
        });
      }
      if (this.paused && !this.ended) {
        this.paused = false;
        this.socket.resume();
      }
    }
  }
}
