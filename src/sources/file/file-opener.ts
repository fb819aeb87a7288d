/**
 * Opening one file of the `file` source and deciding where to read it from: open() and fstat()
 * within a descriptor slot, then placement by identity or content (placement.ts). A copy of a
 * file being read waits; a copy of content already read continues where it was left (its
 * position adopted under its own identity at once); a known identity rewritten while nobody
 * watched is read from its start. The file source keeps the sets of files (queued, open,
 * dormant); this module only turns one path into a tailer, or says why not.
 */
import type { Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { FileSourceConfig } from '../../config/sources-schema.js';
import type { ParserOptions } from '../../parse/parser.js';
import { FORMATS } from '../../parse/registry.js';
import { isDescriptorExhaustion, type OpenFileSlots } from '../descriptors.js';
import type { FileChunkEmitter } from './emitter.js';
import { fileKey } from './fingerprint.js';
import { placeFile } from './placement.js';
import type { PositionBook, Position } from './positions.js';
import type { SymlinkPolicy } from './symlinks.js';
import type { FileTailer, TailerPosition } from './tailer.js';

export type OpenResult = 'opened' | 'deferred' | 'failed' | 'exhausted' | 'gone';
export interface OpenedFile {
  handle: FileHandle;
  stats: Stats;
}

export interface FileOpenerOptions {
  config: FileSourceConfig;
  parserOptions: ParserOptions;
  /** The source has no committed positions yet: `start_at` applies to files found at its first scan. */
  firstRun: boolean;
  book: PositionBook;
  slots: OpenFileSlots;
  symlinks: SymlinkPolicy;
  emitter: FileChunkEmitter;
  logger: Logger;
  /** The file source's open files, by identity. */
  tailers: Map<string, FileTailer>;
  /** Forgets a file closed at its end (dormant); true when it was one. */
  wake(key: string): boolean;
  newTailer(path: string, key: string, handle: FileHandle, start: TailerPosition): FileTailer;
}

export class FileOpener {
  /** Files not opened for now (a copy of a followed file): key → size and when it last changed. */
  private readonly waiting = new Map<string, { size: number; since: number }>();
  /** Paths that could not be opened: warned about once, retried at every scan. */
  private readonly unopenable = new Set<string>();

  constructor(private readonly opts: FileOpenerOptions) {}

  /** Opens a file; the caller took a slot: kept with the handle, or given back here or in follow(). */
  async open(path: string): Promise<OpenedFile | Exclude<OpenResult, 'opened' | 'deferred'>> {
    const { slots, logger: log } = this.opts;
    let handle;
    try {
      handle = await open(path, this.opts.symlinks.openFlags);
    } catch (err) {
      slots.give();
      if (isDescriptorExhaustion(err)) {
        slots.noteExhausted(path, err);
        return 'exhausted';
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      if (!this.unopenable.has(path)) log.warn({ event: 'file_open_failed', path, err }, 'cannot open file (permissions?); retried at every scan');
      this.unopenable.add(path);
      return 'failed';
    }
    this.unopenable.delete(path);
    try {
      return { handle, stats: await handle.stat() };
    } catch (err) {
      await handle.close().catch(() => undefined);
      slots.give();
      log.warn({ event: 'file_open_failed', path, err }, 'cannot read the attributes of an open file; retried at the next scan');
      return 'failed';
    }
  }

  /**
   * Decides where to read an opened file from (placement.ts) and follows it, or closes it.
   * `vanishedAt` set: a file found outside the globs (rotated away), let go once read.
   */
  async follow({ handle, stats }: OpenedFile, path: string, firstScan: boolean, vanishedAt: number | null): Promise<OpenResult> {
    const { book, config, logger: log, tailers } = this.opts;
    let keep = false;
    try {
      const key = fileKey(stats);
      if (tailers.has(key)) return 'gone'; // the path leads to a file followed already by now
      const reopened = this.opts.wake(key);
      // Live again only if followed again below (a file not followed must not hold back its copies).
      if (reopened) book.setLive(key, false);
      const startAtEnd = firstScan && this.opts.firstRun && config.start_at === 'end';
      const wait = this.waiting.get(key);
      const now = Date.now();
      if (wait !== undefined && wait.size !== stats.size) Object.assign(wait, { size: stats.size, since: now });
      const patient = wait === undefined || now - wait.since < config.rotate_wait;
      const { placement, replaced } = await placeFile({ key, size: stats.size, handle, book, startAtEnd, patient });
      if (replaced) await this.retireReplaced(key, path);
      if (placement.kind === 'defer') {
        if (wait === undefined) {
          this.waiting.set(key, { size: stats.size, since: now });
          log.info(
            { event: 'file_deferred', path, followed_as: placement.followedAs },
            placement.maybeCopy === true
              ? 'file starts like a file being read but is shorter: maybe a copy still being written; waiting while it grows'
              : 'file is a copy of a file being read: waiting until that one is rotated or released',
          );
        }
        return 'deferred';
      }
      this.waiting.delete(key);
      const start = placement.kind === 'resume' ? placement.position : { offset: placement.offset, line: 0, parserState: null };
      if (placement.kind === 'resume' && placement.how === 'content') await this.adopt(placement.position, key, path);
      const tailer = this.opts.newTailer(path, key, handle, start);
      tailer.vanishedAt = vanishedAt;
      keep = true;
      tailers.set(key, tailer);
      book.setLive(key, true);
      const how = placement.kind === 'resume' ? placement.how : 'new';
      // Opened again after being closed at its end: routine, not worth a line per file at info.
      log[reopened && how === 'identity' ? 'debug' : 'info'](
        { event: 'file_opened', path, offset: start.offset, line: start.line, how },
        placement.kind === 'resume' && placement.how === 'content' ? 'following file, a copy of content already read: continuing where it was left' : 'following file',
      );
      return 'opened';
    } finally {
      if (!keep) {
        await handle.close().catch(() => undefined);
        this.opts.slots.give();
      }
    }
  }

  /**
   * A copy continues at a position of other content: record that position under the copy's own
   * identity at once (durably), so it is known by identity from now on, also after a restart.
   */
  private async adopt(position: Position, key: string, path: string): Promise<void> {
    const parser = FORMATS[this.opts.config.format](this.opts.parserOptions, position.parserState);
    await this.opts.emitter.emit(path, { firstLine: position.line + 1, lines: [], refused: [] }, { ...position, key, path }, parser);
  }

  /** A known identity whose content was replaced while nobody watched: keep its old position for copies. */
  private async retireReplaced(key: string, path: string): Promise<void> {
    const retired = this.opts.book.retire(key);
    if (retired === undefined) return;
    this.opts.logger.warn({ event: 'file_truncated', path, offset: retired.offset }, 'file was truncated or rewritten while the agent was not following it: reading it from the start');
    const parser = FORMATS[this.opts.config.format](this.opts.parserOptions, retired.parserState);
    await this.opts.emitter.emit(path, { firstLine: retired.line + 1, lines: [], refused: [] }, retired, parser);
  }
}
