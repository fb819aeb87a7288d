/**
 * Files of a whole-document format (senseye-json) in a `file` source: a document is only
 * meaningful complete, so a file is read once it has not been modified for `settleMs` (the
 * source's rotate_wait), whole, as one chunk whose position is its end. It is read again only
 * if it changes afterwards (it was rewritten: the hub overwrites repeated readings). Gzip files
 * are decompressed whole. For files dropped in complete, a `spool` source is the better fit.
 * A file is opened only with a free slot of the source (descriptors.ts); none free, or
 * EMFILE/ENFILE: it stays pending and is tried at the next round, never marked done.
 */
import type { SymlinkPolicy } from './symlinks.js';
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ParserFactory, ParserOptions } from '../../parse/parser.js';
import { isDescriptorExhaustion, type OpenFileSlots } from '../descriptors.js';
import type { FoundFile } from './discovery.js';
import type { FileChunkEmitter } from './emitter.js';
import { HEAD_BYTES, fileKey, hashHead } from './fingerprint.js';
import { gunzipChunks } from './gzip-reader.js';
import { invalidUtf8Reason, isUtf8 } from '../utf8.js';
import type { PositionBook } from './positions.js';

/** Largest document read whole. */
export const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

interface DocumentFile {
  path: string;
  size: number;
  mtimeMs: number;
  done: boolean;
}

export class DocumentFiles {
  private readonly files = new Map<string, DocumentFile>();

  constructor(
    private readonly o: {
      book: PositionBook;
      emitter: FileChunkEmitter;
      parserFactory: ParserFactory;
      parserOptions: ParserOptions;
      logger: Logger;
      settleMs: number;
      slots: OpenFileSlots;
      symlinks: SymlinkPolicy;
    },
  ) {}

  get pending(): number {
    let n = 0;
    for (const f of this.files.values()) if (!f.done) n++;
    return n;
  }

  note(found: FoundFile): string {
    const key = fileKey(found.stats);
    const { size, mtimeMs } = found.stats;
    const known = this.files.get(key);
    if (known !== undefined && known.size === size && known.mtimeMs === mtimeMs) known.path = found.path;
    else this.files.set(key, { path: found.path, size, mtimeMs, done: false });
    return key;
  }

  forgetAllBut(keys: Set<string>): void {
    for (const key of this.files.keys()) if (!keys.has(key)) this.files.delete(key);
  }

  async readReady(shouldStop: () => boolean): Promise<void> {
    for (const [key, file] of this.files) {
      if (shouldStop()) return;
      if (file.done || Date.now() - file.mtimeMs < this.o.settleMs) continue;
      try {
        const outcome = await this.read(key, file);
        if (outcome === 'no-descriptor') return; // the rest waits for the next round
        file.done = outcome;
      } catch (err) {
        file.done = true;
        this.o.logger.warn({ event: 'file_read_failed', path: file.path, err }, 'reading document failed; retried when the file changes');
      }
    }
  }

  /**
   * False when the file was not there under its path any more (looked at again at the next
   * scan); 'no-descriptor' when none could be had (no free slot, EMFILE/ENFILE).
   */
  private async read(key: string, file: DocumentFile): Promise<boolean | 'no-descriptor'> {
    if (!this.o.slots.tryTake()) return 'no-descriptor';
    let handle;
    try {
      handle = await open(file.path, this.o.symlinks.openFlags);
    } catch (err) {
      this.o.slots.give();
      if (isDescriptorExhaustion(err)) {
        this.o.slots.noteExhausted(file.path, err);
        return 'no-descriptor';
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    try {
      // The path may lead to another file by now, or the file changed since: read only the file noted, as noted.
      const now = await handle.stat();
      if (fileKey(now) !== key || now.size !== file.size || now.mtimeMs !== file.mtimeMs) return false;
      await this.readHandle(key, file, handle);
      return true;
    } finally {
      await handle.close().catch(() => undefined);
      this.o.slots.give();
    }
  }

  private async readHandle(key: string, file: DocumentFile, handle: FileHandle): Promise<void> {
    const gz = file.path.endsWith('.gz');
    const posKey = gz ? `gz:${key}` : key;
    let bytes: Buffer;
    if (gz) {
      const parts: Buffer[] = [];
      let total = 0;
      for await (const chunk of gunzipChunks(handle)) {
        total += chunk.length;
        if (total > MAX_DOCUMENT_BYTES) break;
        parts.push(chunk);
      }
      bytes = Buffer.concat(parts);
      if (total > MAX_DOCUMENT_BYTES) return this.refuse(posKey, file, total);
    } else {
      if (file.size > MAX_DOCUMENT_BYTES) return this.refuse(posKey, file, file.size);
      bytes = await handle.readFile();
    }
    const headLen = Math.min(bytes.length, HEAD_BYTES);
    const head = hashHead(bytes.subarray(0, headLen));
    const seen = this.o.book.get(posKey);
    if (seen !== undefined && seen.offset === bytes.length && seen.head === head && seen.headLen === headLen) return;
    const tail = hashHead(bytes.subarray(Math.max(0, bytes.length - HEAD_BYTES)));
    const parser = this.o.parserFactory(this.o.parserOptions, null);
    const position = { key: posKey, path: file.path, offset: bytes.length, line: 1, headLen, head, tail };
    if (!isUtf8(bytes)) {
      // Refused whole, as a document that is not JSON is: decoding would alter it (utf8.ts).
      const reason = invalidUtf8Reason(bytes, 0, bytes.length, undefined, 'document');
      this.o.logger.warn({ event: 'invalid_utf8', path: file.path }, reason);
      await this.o.emitter.emit(file.path, { firstLine: 2, lines: [], refused: [{ line: 1, raw: bytes.toString('utf8', 0, 4096), reason }] }, position, parser);
      return;
    }
    await this.o.emitter.emit(file.path, { firstLine: 1, lines: [bytes.toString('utf8')], refused: [] }, position, parser, true);
    this.o.logger.info({ event: 'document_read', path: file.path, bytes: bytes.length }, 'document read whole');
  }

  private async refuse(posKey: string, file: DocumentFile, bytes: number): Promise<void> {
    const seen = this.o.book.get(posKey);
    if (seen !== undefined && seen.offset === bytes) return;
    const parser = this.o.parserFactory(this.o.parserOptions, null);
    const reason = `document is ${bytes} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit for whole-document formats: split it, or use a spool source with a larger max_file_bytes`;
    this.o.logger.warn({ event: 'document_too_large', path: file.path, bytes }, reason);
    const position = { key: posKey, path: file.path, offset: bytes, line: 1, headLen: 0, head: hashHead(Buffer.alloc(0)), tail: null };
    await this.o.emitter.emit(file.path, { firstLine: 2, lines: [], refused: [{ line: 1, raw: '', reason }] }, position, parser);
  }
}
