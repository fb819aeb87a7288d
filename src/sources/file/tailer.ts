/**
 * Follows one file (one identity) from a position, emitting complete lines in chunks.
 *
 * Invariants:
 * - `offset` only ever moves past complete lines ('\n'); a last line without its newline is
 *   re-read on the next poll until it is completed, so a line is never split or duplicated;
 *   only when the file is let go (rotated away, deleted, or a spool file read to its end) is
 *   such a line emitted as it is (`flushPartialLine`);
 * - the position travels with the chunk and becomes durable with its readings (the outbox
 *   transaction), so a crash resumes exactly after the last committed chunk;
 * - a file whose content was replaced — it shrank below the position (truncation,
 *   copytruncate) or its first bytes changed (truncated and rewritten between two looks, or
 *   during a read: those bytes are dropped, never emitted as lines of the old content) — is
 *   read again from the start with a fresh parser; the old content's last position is kept
 *   under a `retired:` key first, so a copy of it (copytruncate's copy) continues from there;
 * - a line that is not valid UTF-8 is dead-lettered with its file offset, never decoded with
 *   U+FFFD and parsed (utf8.ts); each chunk is checked whole once, lines only when it fails.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { LineParser, ParserFactory, ParserOptions } from '../../parse/parser.js';
import { chunkParts } from '../chunk-parts.js';
import { overLongReason, type SplitItem } from '../line-splitter.js';
import type { InFlightLimit, LineChunk, RefusedLine } from '../source.js';
import { INVALID_UTF8, invalidUtf8Reason, isUtf8 } from '../utf8.js';
import { ContentHashes } from './content-hashes.js';
import { toCheckpoint, type Position } from './positions.js';

export interface TailerPosition {
  offset: number;
  line: number;
  parserState: string | null;
  /** The head the position was read with, when known: checked from the first read on. */
  headLen?: number;
  head?: string;
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
  /** Every position handed out (and a retired one after a truncation). */
  onPosition?: (p: Position) => void;
  /** The content is being replaced: returns the old content's last position, to be kept durably. */
  onRetire?: () => Position | undefined;
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
  private readonly hashes: ContentHashes;
  private readonly chunkBytes: number;
  private readonly maxLineBytes: number;
  /** True when the last read found no complete line past `offset`. */
  atEof = false;
  /** Bytes past `offset` that are not yet a complete line. */
  partialBytes = 0;
  closed = false;
  /** When the file stopped matching the globs (rotated away, deleted); null while it matches. */
  vanishedAt: number | null = null;
  /** When the file's size last changed. */
  lastGrowthAt = Date.now();
  private lastSize = -1;
  private lastMtime = -1;

  constructor(private readonly opts: TailerOptions) {
    this.path = opts.path;
    this.fileKey = opts.fileKey;
    this.offset = opts.start.offset;
    this.line = opts.start.line;
    this.parser = opts.parserFactory(opts.parserOptions, opts.start.parserState);
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    const { headLen, head } = opts.start;
    this.hashes = new ContentHashes(opts.handle, this.offset, headLen !== undefined && head !== undefined ? { len: headLen, hash: head } : undefined);
  }

  get position(): { offset: number; line: number } {
    return { offset: this.offset, line: this.line };
  }

  /** Size and mtime at the last look (-1 before the first): a file closed at its end is opened again when they change. */
  get lastSeen(): { size: number; mtimeMs: number } {
    return { size: this.lastSize, mtimeMs: this.lastMtime };
  }

  /** Reads and emits everything complete that is there now. `shouldStop` is checked between chunks. */
  async readAvailable(shouldStop: () => boolean): Promise<void> {
    let readSize = this.chunkBytes;
    while (!shouldStop() && !this.closed) {
      const { size, mtimeMs } = await this.opts.handle.stat();
      const changed = size !== this.lastSize || mtimeMs !== this.lastMtime;
      if (changed) {
        this.lastSize = size;
        this.lastMtime = mtimeMs;
        this.lastGrowthAt = Date.now();
      }
      if (size < this.offset) await this.restart(`file shrank below the read position (truncated or copytruncate rotation)`, size);
      // Truncated and rewritten between two looks (even to the same size): its first bytes changed.
      else if (changed && (await this.hashes.changed())) await this.restart('the first bytes of the file changed (truncated and rewritten)', size);
      const available = size - this.offset;
      if (available <= 0) {
        this.atEof = true;
        this.partialBytes = 0;
        return;
      }
      const want = Math.min(available, readSize);
      const buffer = Buffer.allocUnsafe(want);
      const { bytesRead } = await this.opts.handle.read(buffer, 0, want, this.offset);
      // Truncated and rewritten between the stat above and this read (copytruncate under a busy
      // writer): the bytes at the old offset belong to the new content. Drop them and look again.
      if (this.offset > 0 && (await this.replacedDuringRead(size, mtimeMs))) continue;
      if (bytesRead === 0) {
        this.atEof = true;
        return;
      }
      const lastNewline = buffer.lastIndexOf(0x0a, bytesRead - 1);
      if (lastNewline === -1) {
        if (bytesRead >= available && bytesRead <= this.maxLineBytes) {
          // An incomplete last line: hold it until its newline arrives.
          this.atEof = true;
          this.partialBytes = bytesRead;
          return;
        }
        if (readSize <= this.maxLineBytes) {
          readSize = Math.min(readSize * 2, this.maxLineBytes + 1);
          continue;
        }
        await this.skipOverlongLine(buffer.toString('utf8', 0, RAW_KEEP_CHARS));
        continue;
      }
      this.atEof = false;
      readSize = this.chunkBytes;
      const complete = buffer.subarray(0, lastNewline + 1);
      if ((complete.length > this.maxLineBytes && hasLineOver(complete, this.maxLineBytes)) || !isUtf8(complete)) {
        await this.emitItems(complete);
        continue;
      }
      await this.emitLines(decodeLines(buffer, lastNewline), lastNewline + 1, [], complete);
    }
  }

  /**
   * The file was let go and is fully read: a last line without a newline will never be
   * completed, so it is emitted as it is rather than lost.
   */
  async flushPartialLine(): Promise<void> {
    const { size } = await this.opts.handle.stat();
    const rest = size - this.offset;
    if (rest <= 0) return;
    if (rest > this.maxLineBytes) {
      const head = Buffer.alloc(RAW_KEEP_CHARS);
      const { bytesRead } = await this.opts.handle.read(head, 0, head.length, this.offset);
      const raw = head.toString('utf8', 0, bytesRead);
      await this.emitLines([], rest, [{ line: this.line + 1, raw, reason: overLongReason(rest, this.maxLineBytes) }], null);
      return;
    }
    const tail = Buffer.allocUnsafe(rest);
    const { bytesRead } = await this.opts.handle.read(tail, 0, rest, this.offset);
    if (bytesRead === 0) return;
    if (!isUtf8(tail.subarray(0, bytesRead))) return this.emitItems(tail.subarray(0, bytesRead));
    await this.emitLines(splitLines(tail.toString('utf8', 0, bytesRead)), bytesRead, [], tail.subarray(0, bytesRead));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opts.handle.close().catch(() => undefined);
  }

  private async emitLines(lines: string[], consumedBytes: number, refused: RefusedLine[], bytes: Buffer | null): Promise<void> {
    const firstLine = this.line + 1 + refused.length;
    const nextOffset = this.offset + consumedBytes;
    const nextLine = this.line + lines.length + refused.length;
    const { head, tail } = await this.hashes.after(bytes, nextOffset);
    await this.opts.limit.acquire();
    this.offset = nextOffset;
    this.line = nextLine;
    const position: Position = { key: this.fileKey, path: this.path, offset: nextOffset, line: nextLine, headLen: head.len, head: head.hash, tail, parserState: null };
    this.emit(lines, firstLine, refused, position, this.parser);
  }

  private emit(lines: string[], firstLine: number, refused: RefusedLine[], position: Position, parser: LineParser): void {
    this.opts.emit({
      source: this.opts.source,
      lane: this.opts.lane,
      origin: this.path,
      lines,
      firstLine,
      parser,
      refused: refused.length > 0 ? refused : undefined,
      checkpoint: toCheckpoint(this.opts.source, position),
      ack: () => this.opts.limit.release(),
    });
    // The pipeline parses synchronously on emit, so the parser's state now matches the position.
    position.parserState = parser.saveState();
    this.opts.onPosition?.(position);
  }

  /**
   * Lines of which some are over max_line_bytes or not valid UTF-8: those are dead-lettered, in
   * order. The last line may lack its newline (a file let go).
   */
  private async emitItems(complete: Buffer): Promise<void> {
    const items: SplitItem[] = [];
    const base = this.offset;
    for (let start = 0; start < complete.length; ) {
      const found = complete.indexOf(0x0a, start);
      const nl = found === -1 ? complete.length : found;
      const bytes = nl - start + (found === -1 ? 0 : 1);
      const end = nl > start && complete[nl - 1] === 0x0d ? nl - 1 : nl;
      if (nl - start > this.maxLineBytes) items.push({ refused: true, bytes, raw: complete.toString('utf8', start, start + RAW_KEEP_CHARS) });
      else if (!isUtf8(complete.subarray(start, end))) {
        items.push({ refused: true, bytes, raw: complete.toString('utf8', start, Math.min(end, start + RAW_KEEP_CHARS)), reason: invalidUtf8Reason(complete, start, end, base + start) });
      } else items.push({ line: complete.toString('utf8', start, end), bytes });
      start = nl + 1;
    }
    let at = 0;
    for (const part of chunkParts(items, this.line + 1, this.maxLineBytes)) {
      for (const r of part.refused) {
        if (r.reason.startsWith(INVALID_UTF8)) this.opts.logger.warn({ event: 'invalid_utf8', path: this.path, line: r.line }, 'line is not valid UTF-8: dead-lettered');
        else this.opts.logger.warn({ event: 'line_too_long', path: this.path, line: r.line, max_line_bytes: this.maxLineBytes }, 'line longer than the limit: dead-lettered');
      }
      await this.emitLines(part.lines, part.bytes, part.refused, complete.subarray(at, at + part.bytes));
      at += part.bytes;
    }
  }

  /** A line longer than max_line_bytes: keep its beginning as a dead letter and skip to its end. */
  private async skipOverlongLine(raw: string): Promise<void> {
    const buffer = Buffer.allocUnsafe(this.chunkBytes);
    let scanned = 0;
    for (;;) {
      const { bytesRead } = await this.opts.handle.read(buffer, 0, buffer.length, this.offset + scanned);
      if (bytesRead === 0) {
        // The over-long line has no end yet: wait for it without holding a big buffer.
        this.atEof = true;
        return;
      }
      const nl = buffer.indexOf(0x0a);
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
    await this.emitLines([], scanned, [{ line: this.line + 1, raw, reason: overLongReason(scanned - 1, this.maxLineBytes) }], null);
  }

  /**
   * True when the file shrank below the position or its first bytes changed since the stat
   * that sized the read; the next look then starts it over. Costs one fstat per read, and a
   * read of the head only when the file changed meanwhile (a growing file does, every time).
   */
  private async replacedDuringRead(size: number, mtimeMs: number): Promise<boolean> {
    const now = await this.opts.handle.stat();
    if (now.size === size && now.mtimeMs === mtimeMs) return false;
    return now.size < this.offset || (await this.hashes.changed());
  }

  private async restart(why: string, size: number): Promise<void> {
    this.opts.logger.warn(
      { event: 'file_truncated', path: this.path, offset: this.offset, size },
      `${why}: reading it again from the start`,
    );
    const retired = this.opts.onRetire?.();
    if (retired !== undefined) {
      // Keep where the old content was left, durably, for a copy of it to continue from.
      await this.opts.limit.acquire();
      this.emit([], this.line + 1, [], { ...retired }, this.parser);
    }
    this.offset = 0;
    this.line = 0;
    this.hashes.reset();
    this.atEof = false;
    this.parser = this.opts.parserFactory(this.opts.parserOptions, null);
  }
}

function hasLineOver(complete: Buffer, max: number): boolean {
  for (let start = 0; start < complete.length; ) {
    const nl = complete.indexOf(0x0a, start);
    if (nl - start > max) return true;
    start = nl + 1;
  }
  return false;
}

/**
 * The lines of `bytes[0, end)`, where `bytes[end]` is a newline: splitLines of the whole, decoded
 * piece by piece. A string of more than 128 KiB goes to V8's large-object space, where only a
 * full collection frees it, and every line sliced from it keeps it alive; pieces of at most
 * DECODE_PIECE_BYTES die young with their lines. (Measured: docs/performance.md, item 22.)
 */
export function decodeLines(bytes: Buffer, end: number): string[] {
  if (end <= DECODE_PIECE_BYTES) return splitLines(bytes.toString('utf8', 0, end));
  const lines: string[] = [];
  for (let start = 0; ; ) {
    let cut = start + DECODE_PIECE_BYTES >= end ? end : bytes.lastIndexOf(0x0a, start + DECODE_PIECE_BYTES);
    if (cut < start) cut = bytes.indexOf(0x0a, start + DECODE_PIECE_BYTES); // a line longer than a piece: at most `end`
    for (const line of splitLines(bytes.toString('utf8', start, cut))) lines.push(line);
    if (cut >= end) return lines;
    start = cut + 1;
  }
}

/** Below V8's large-object threshold (128 KiB) with room to spare for a long last line. */
export const DECODE_PIECE_BYTES = 64 * 1024;

/** Splits complete text into lines, dropping a '\r' before each '\n'. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  return lines;
}
