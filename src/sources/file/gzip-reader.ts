/**
 * Gzip-compressed files (rotated logs, `*.gz`) are read whole, once, as a stream: never more
 * than a chunk of them in memory. Positions are offsets in the DECOMPRESSED content, with the
 * head and tail hashes of that content, so a gzip file is recognised as the compressed copy of
 * a file already (partly) read and continues where that one was left (fingerprint.ts).
 * An incomplete or corrupt stream throws (zlib's error); what was emitted before stays valid.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { chunkParts, partLength, type ChunkPart } from '../chunk-parts.js';
import { LineSplitter, type SplitItem } from '../line-splitter.js';
import { HEAD_BYTES, TAIL_BYTES, hashHead } from './fingerprint.js';
import type { Position } from './positions.js';

/** Decompressed chunks of the whole file behind `handle` (read from its start; the handle stays open). */
export async function* gunzipChunks(handle: FileHandle): AsyncGenerator<Buffer> {
  // Positioned reads through the handle: the stream never owns (or closes) the descriptor.
  const input = Readable.from(compressedChunks(handle));
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}

async function* compressedChunks(handle: FileHandle): AsyncGenerator<Buffer> {
  let position = 0;
  for (;;) {
    const buffer = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** Keeps the first HEAD_BYTES and the last TAIL_BYTES of a stream. */
class Window {
  head: Buffer = Buffer.alloc(0);
  recent: Buffer = Buffer.alloc(0);
  pos = 0;

  add(chunk: Buffer): void {
    if (this.head.length < HEAD_BYTES) this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    this.recent = lastBytes(Buffer.concat([this.recent, lastBytes(chunk, TAIL_BYTES)]), TAIL_BYTES);
    this.pos += chunk.length;
  }

  /** Tail hash at `at`, which lies in the chunk about to be added (pos ≤ at ≤ pos + chunk.length). */
  tailWithin(chunk: Buffer, at: number): string {
    const combined = Buffer.concat([this.recent, chunk.subarray(0, at - this.pos)]);
    return hashHead(lastBytes(combined, Math.min(at, TAIL_BYTES)));
  }

  headHash(len: number): string {
    return hashHead(this.head.subarray(0, len));
  }
}

function lastBytes(b: Buffer, n: number): Buffer {
  return b.length <= n ? b : b.subarray(b.length - n);
}

export interface GzipProbe {
  heads: Map<number, string>;
  tails: Map<number, string>;
}

/**
 * Hashes of the decompressed head (for each length in `headLens`) and of the bytes before each
 * offset `wanted(heads)` asks for; decompresses only as far as needed.
 */
export async function probeGzip(handle: FileHandle, headLens: number[], wanted: (heads: Map<number, string>) => number[]): Promise<GzipProbe> {
  const heads = new Map<number, string>();
  const tails = new Map<number, string>();
  const maxHead = Math.max(0, ...headLens);
  const w = new Window();
  let targets: number[] | null = null;
  for await (const chunk of gunzipChunks(handle)) {
    if (targets === null && w.pos + chunk.length >= maxHead) {
      const first = Buffer.concat([w.head, chunk.subarray(0, maxHead)]);
      for (const len of headLens) heads.set(len, hashHead(first.subarray(0, len)));
      targets = [...new Set(wanted(heads))].filter((x) => x > 0).sort((a, b) => a - b);
    }
    while (targets !== null && targets.length > 0 && targets[0]! <= w.pos + chunk.length) {
      const at = targets.shift()!;
      if (at >= w.pos) tails.set(at, w.tailWithin(chunk, at));
    }
    w.add(chunk);
    if (targets !== null && targets.length === 0) break;
  }
  if (targets === null) {
    // The whole content is shorter than the longest head: it is all in `w.head`.
    for (const len of headLens) if (w.pos >= len) heads.set(len, w.headHash(len));
    for (const at of wanted(heads)) if (at > 0 && at <= w.pos) tails.set(at, hashHead(w.head.subarray(Math.max(0, at - TAIL_BYTES), at)));
  }
  return { heads, tails };
}

/** Hash of the first `len` decompressed bytes, or null when the content is shorter. */
export async function gzipHead(handle: FileHandle, len: number): Promise<string | null> {
  const probe = await probeGzip(handle, [len], () => []);
  return probe.heads.get(len) ?? null;
}

export interface GzipEmit {
  part: ChunkPart;
  position: Omit<Position, 'parserState'>;
}

/**
 * Streams the decompressed lines after `start`, calling `emit` (which waits for a free slot)
 * with chunks of about `chunkBytes`; the last line without a newline is a line (the file is
 * complete). Returns false when `shouldStop` cut it short.
 */
export async function readGzipLines(opts: {
  handle: FileHandle;
  path: string;
  key: string;
  start: { offset: number; line: number };
  maxLineBytes: number;
  chunkBytes: number;
  shouldStop: () => boolean;
  emit: (e: GzipEmit) => Promise<void>;
}): Promise<boolean> {
  const w = new Window();
  const splitter = new LineSplitter(opts.maxLineBytes);
  let items: SplitItem[] = [];
  let itemBytes = 0;
  let offset = opts.start.offset;
  let line = opts.start.line;
  /** Tail hash at the end of `items` (the splitter's consumed boundary), when known. */
  let boundaryTail: string | null = null;
  const flush = async () => {
    const parts = chunkParts(items, line + 1, opts.maxLineBytes);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      offset += part.bytes;
      line += partLength(part);
      const headLen = Math.min(offset, HEAD_BYTES);
      // Only the end of the last part is a place whose tail is known; the others identify by key.
      const tail = i === parts.length - 1 ? boundaryTail : null;
      await opts.emit({ part, position: { key: opts.key, path: opts.path, offset, line, headLen, head: w.headHash(headLen), tail } });
    }
    items = [];
    itemBytes = 0;
  };
  for await (const raw of gunzipChunks(opts.handle)) {
    if (opts.shouldStop()) return false;
    let chunk = raw;
    if (w.pos + chunk.length <= opts.start.offset) {
      w.add(chunk);
      continue;
    }
    if (w.pos < opts.start.offset) {
      const skip = opts.start.offset - w.pos;
      w.add(chunk.subarray(0, skip));
      chunk = chunk.subarray(skip);
    }
    const before = items.length;
    splitter.push(chunk, items);
    const lastNl = chunk.lastIndexOf(0x0a);
    if (lastNl !== -1) boundaryTail = w.tailWithin(chunk, w.pos + lastNl + 1);
    w.add(chunk);
    for (let i = before; i < items.length; i++) itemBytes += items[i]!.bytes;
    if (itemBytes >= opts.chunkBytes) await flush();
  }
  const before = items.length;
  splitter.end(items);
  if (items.length > before) boundaryTail = hashHead(lastBytes(w.recent, Math.min(w.pos, TAIL_BYTES)));
  if (items.length > 0) await flush();
  return true;
}
