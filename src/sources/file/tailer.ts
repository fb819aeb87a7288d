/**
 * Follows one file (one identity) from a position, emitting complete lines in chunks.
 *
 * Invariants:
 * - `offset` only ever moves past complete lines ('\n'); a last line without its newline is
 *   re-read on the next poll until it is completed, so a line is never split or duplicated;
 * - the position travels with the chunk and becomes durable with its readings (the outbox
 *   transaction), so a crash resumes exactly after the last committed chunk;
 * - a file that shrinks below the position was truncated (copytruncate): it is read again
 *   from the start, with a fresh parser (a CSV header is read again).
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { LineParser, ParserFactory, ParserOptions } from '../../parse/parser.js';
import type { InFlightLimit, LineChunk, RefusedLine } from '../source.js';
import { HEAD_BYTES, readHead, type Head } from './fingerprint.js';

export interface TailerPosition {
  offset: number;
  line: number;
  parserState: string | null;
}

export interface TailerOptions {
  source: string;
  lane: number;
  path: string;
  fileKey: string;
  handle: FileHandle;
  start: TailerPosition;
  parserFactory: ParserFactory;
  parserOptions: ParserOptions;
  limit: InFlightLimit;
  emit: (chunk: LineChunk) => void;
  logger: Logger;
  chunkBytes?: number;
  maxLineBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 256 * 1024;
const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
const RAW_KEEP_CHARS = 4096;

export class FileTailer {
  path: string;
  readonly fileKey: string;
  private offset: number;
  private line: number;
  private parser: LineParser;
  private head: Head | null = null;
  private buffer: Buffer;
  private readonly maxLineBytes: number;
  /** True when the last read found no complete line past `offset`. */
  atEof = false;
  /** Bytes past `offset` that are not yet a complete line. */
  partialBytes = 0;
  closed = false;

  constructor(private readonly opts: TailerOptions) {
    this.path = opts.path;
    this.fileKey = opts.fileKey;
    this.offset = opts.start.offset;
    this.line = opts.start.line;
    this.parser = opts.parserFactory(opts.parserOptions, opts.start.parserState);
    this.buffer = Buffer.allocUnsafe(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  get position(): { offset: number; line: number } {
    return { offset: this.offset, line: this.line };
  }

  /** Reads and emits everything complete that is there now. `shouldStop` is checked between chunks. */
  async readAvailable(shouldStop: () => boolean): Promise<void> {
    while (!shouldStop() && !this.closed) {
      const { size } = await this.opts.handle.stat();
      if (size < this.offset) this.restartAfterTruncation(size);
      if (size === this.offset) {
        this.atEof = true;
        this.partialBytes = 0;
        return;
      }
      const want = Math.min(this.buffer.length, size - this.offset);
      const { bytesRead } = await this.opts.handle.read(this.buffer, 0, want, this.offset);
      if (bytesRead === 0) {
        this.atEof = true;
        return;
      }
      const lastNewline = this.buffer.lastIndexOf(0x0a, bytesRead - 1);
      if (lastNewline === -1) {
        if (bytesRead < this.buffer.length) {
          // An incomplete last line: hold it until its newline arrives.
          this.atEof = true;
          this.partialBytes = bytesRead;
          return;
        }
        if (this.buffer.length < this.maxLineBytes) {
          this.buffer = Buffer.allocUnsafe(Math.min(this.buffer.length * 2, this.maxLineBytes));
          continue;
        }
        await this.skipOverlongLine();
        continue;
      }
      this.atEof = false;
      await this.emitLines(this.buffer.toString('utf8', 0, lastNewline), lastNewline + 1, []);
    }
  }

  /**
   * The file was rotated away or deleted and is fully read: a last line without a newline will
   * never be completed, so it is emitted as it is rather than lost.
   */
  async flushPartialLine(): Promise<void> {
    const { size } = await this.opts.handle.stat();
    const rest = size - this.offset;
    if (rest <= 0 || rest > this.maxLineBytes) return;
    const tail = Buffer.allocUnsafe(rest);
    const { bytesRead } = await this.opts.handle.read(tail, 0, rest, this.offset);
    if (bytesRead === 0) return;
    await this.emitLines(tail.toString('utf8', 0, bytesRead), bytesRead, []);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opts.handle.close().catch(() => undefined);
  }

  private async emitLines(text: string, consumedBytes: number, refused: RefusedLine[]): Promise<void> {
    const lines = text.length === 0 && consumedBytes > 0 && refused.length > 0 ? [] : text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    const firstLine = this.line + 1;
    const nextOffset = this.offset + consumedBytes;
    const nextLine = this.line + lines.length + refused.length;
    const head = await this.currentHead(nextOffset);
    await this.opts.limit.acquire();
    this.offset = nextOffset;
    this.line = nextLine;
    this.opts.emit({
      source: this.opts.source,
      lane: this.opts.lane,
      origin: this.path,
      lines,
      firstLine,
      parser: this.parser,
      refused: refused.length > 0 ? refused : undefined,
      checkpoint: {
        source: this.opts.source,
        fileKey: this.fileKey,
        path: this.path,
        offset: nextOffset,
        line: nextLine,
        headLen: head.len,
        headHash: head.hash,
      },
      ack: () => this.opts.limit.release(),
    });
  }

  /** A line longer than max_line_bytes: keep its beginning as a dead letter and skip to its end. */
  private async skipOverlongLine(): Promise<void> {
    const raw = this.buffer.toString('utf8', 0, RAW_KEEP_CHARS);
    let scanned = this.buffer.length;
    for (;;) {
      const { bytesRead } = await this.opts.handle.read(this.buffer, 0, this.buffer.length, this.offset + scanned);
      if (bytesRead === 0) {
        // The over-long line has no end yet: wait for it without holding the big buffer.
        this.atEof = true;
        return;
      }
      const nl = this.buffer.indexOf(0x0a);
      if (nl !== -1 && nl < bytesRead) {
        scanned += nl + 1;
        break;
      }
      scanned += bytesRead;
    }
    this.opts.logger.warn(
      { event: 'line_too_long', path: this.path, line: this.line + 1, bytes: scanned - 1, max_line_bytes: this.maxLineBytes },
      'line longer than the limit: dead-lettered',
    );
    await this.emitLines('', scanned, [
      { line: this.line + 1, raw, reason: `line is ${scanned - 1} bytes, over the ${this.maxLineBytes}-byte limit` },
    ]);
  }

  private restartAfterTruncation(size: number): void {
    this.opts.logger.warn(
      { event: 'file_truncated', path: this.path, offset: this.offset, size },
      'file shrank below the read position (truncated or copytruncate rotation): reading it again from the start',
    );
    this.offset = 0;
    this.line = 0;
    this.head = null;
    this.parser = this.opts.parserFactory(this.opts.parserOptions, null);
  }

  /** The head hash covers up to HEAD_BYTES; while the file is shorter it grows with the file. */
  private async currentHead(upTo: number): Promise<Head> {
    if (this.head === null || (this.head.len < HEAD_BYTES && this.head.len < upTo)) {
      this.head = await readHead(this.opts.handle, Math.min(upTo, HEAD_BYTES));
    }
    return this.head;
  }
}
