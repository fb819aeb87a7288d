/**
 * The gzip files a file source's globs match: each is read whole, once, from where its content
 * was left (placement.ts), then remembered by identity, size and mtime so it is not read again
 * while it stays as it is. A stream that fails (still being written by logrotate, corrupt) is
 * retried when its size or mtime changes; what was read before the failure is committed and
 * not read again. A file is opened only with a free slot of the source (descriptors.ts); none
 * free, or EMFILE/ENFILE: it stays pending, never failed.
 */
import type { SymlinkPolicy } from './symlinks.js';
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ParserFactory, ParserOptions } from '../../parse/parser.js';
import { isDescriptorExhaustion, type OpenFileSlots } from '../descriptors.js';
import type { FoundFile } from './discovery.js';
import type { FileChunkEmitter } from './emitter.js';
import { fileKey } from './fingerprint.js';
import { readGzipLines } from './gzip-reader.js';
import { placeGzip } from './placement.js';
import type { PositionBook } from './positions.js';

interface GzipFile {
  path: string;
  size: number;
  mtimeMs: number;
  state: 'pending' | 'done' | 'failed';
  /** Waiting for the file its content is being read from; looked at again after this time. */
  deferredUntil?: number;
}

const DEFER_RECHECK_MS = 1000;

export interface GzipFilesOptions {
  book: PositionBook;
  emitter: FileChunkEmitter;
  parserFactory: ParserFactory;
  parserOptions: ParserOptions;
  maxLineBytes: number;
  chunkBytes: number;
  logger: Logger;
  slots: OpenFileSlots;
  symlinks: SymlinkPolicy;
}

export class GzipFiles {
  private readonly files = new Map<string, GzipFile>();

  constructor(private readonly o: GzipFilesOptions) {}

  get pending(): number {
    let n = 0;
    for (const f of this.files.values()) if (f.state === 'pending' && f.deferredUntil === undefined) n++;
    return n;
  }

  /** Called with every gzip file a scan found, then `forgetAllBut` with their keys. */
  note(found: FoundFile): string {
    const key = fileKey(found.stats);
    const known = this.files.get(key);
    const { size, mtimeMs } = found.stats;
    if (known !== undefined && known.size === size && known.mtimeMs === mtimeMs) {
      known.path = found.path;
      return key;
    }
    this.files.set(key, { path: found.path, size, mtimeMs, state: 'pending' });
    return key;
  }

  forgetAllBut(keys: Set<string>): void {
    for (const key of this.files.keys()) if (!keys.has(key)) this.files.delete(key);
  }

  async readPending(shouldStop: () => boolean): Promise<void> {
    const now = Date.now();
    const pending = [...this.files.entries()].filter(([, f]) => f.state === 'pending' && (f.deferredUntil ?? 0) <= now).sort(([, a], [, b]) => a.mtimeMs - b.mtimeMs);
    for (const [key, file] of pending) {
      if (shouldStop()) return;
      try {
        if (!(await this.read(key, file, shouldStop))) return; // no descriptor free: the rest waits for the next round
      } catch (err) {
        file.state = 'failed';
        this.o.logger.warn(
          { event: 'gzip_read_failed', path: file.path, err },
          'gzip file could not be read to its end (still being written, or corrupt): what was read is kept; retried when the file changes',
        );
      }
    }
  }

  /** False when no descriptor could be had (no free slot, EMFILE/ENFILE): the file stays pending. */
  private async read(key: string, file: GzipFile, shouldStop: () => boolean): Promise<boolean> {
    if (!this.o.slots.tryTake()) return false;
    let handle;
    try {
      handle = await open(file.path, this.o.symlinks.openFlags);
    } catch (err) {
      this.o.slots.give();
      if (isDescriptorExhaustion(err)) {
        this.o.slots.noteExhausted(file.path, err);
        return false;
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // renamed or removed since the scan: seen again at the next
      throw err;
    }
    try {
      // The path may lead to another file by now (rotations rename): read only the file noted.
      if (fileKey(await handle.stat()) !== key) return true;
      await this.readHandle(key, file, handle, shouldStop);
      return true;
    } finally {
      await handle.close().catch(() => undefined);
      this.o.slots.give();
    }
  }

  private async readHandle(key: string, file: GzipFile, handle: FileHandle, shouldStop: () => boolean): Promise<void> {
    const gzKey = `gz:${key}`;
    const placement = await placeGzip(handle, gzKey, this.o.book);
    if (placement.kind === 'defer') {
      if (file.deferredUntil === undefined) {
        this.o.logger.info({ event: 'file_deferred', path: file.path, followed_as: placement.followedAs }, 'gzip file holds content still being read from another file: waiting for that one');
      }
      file.deferredUntil = Date.now() + DEFER_RECHECK_MS;
      return;
    }
    file.deferredUntil = undefined;
    const start = placement.kind === 'resume' ? { offset: placement.position.offset, line: placement.position.line } : { offset: 0, line: 0 };
    const parser = this.o.parserFactory(this.o.parserOptions, placement.kind === 'resume' ? placement.position.parserState : null);
    if (placement.kind === 'resume' && placement.how === 'content') {
      // Known by its own key from now on (also after a restart), even if nothing is left to read.
      const p = placement.position;
      await this.o.emitter.emit(file.path, { firstLine: p.line + 1, lines: [], refused: [] }, { ...p, key: gzKey, path: file.path }, parser);
    }
    this.o.logger.info({ event: 'gzip_reading', path: file.path, from_offset: start.offset, how: placement.kind === 'resume' ? placement.how : 'new' }, 'reading gzip file');
    const done = await readGzipLines({
      handle,
      path: file.path,
      key: gzKey,
      start,
      maxLineBytes: this.o.maxLineBytes,
      chunkBytes: this.o.chunkBytes,
      shouldStop,
      emit: ({ part, position }) => this.o.emitter.emit(file.path, part, position, parser),
    });
    if (done) {
      file.state = 'done';
      this.o.logger.info({ event: 'gzip_read', path: file.path }, 'gzip file read to its end');
    }
  }
}
