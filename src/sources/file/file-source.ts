/**
 * The `file` source: tails every file matching its globs (minus `exclude`), picks up new files
 * as they appear, and follows each by identity (fingerprint.ts) from its committed position.
 *
 * Rotation: a file that stops matching (renamed away, deleted) is still followed through its
 * open handle until it has been quiet for `rotate_wait`, then read to its end, its last
 * unterminated line flushed, and closed. Truncation and copytruncate are handled by the tailer;
 * copies and gzip files of content already read continue where it was left (placement.ts).
 * At start, files that were followed before but were renamed out of the globs while the agent
 * was down are looked for by identity in their folder and read to their end (lost-files.ts).
 *
 * `start_at` applies at the first run of the source only (no positions yet): from then on,
 * every file that appears is new data and is read from its start, even if it appeared while
 * the agent was stopped.
 */
import { open } from 'node:fs/promises';
import { Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import type { FileSourceConfig } from '../../config/sources-schema.js';
import type { FileCheckpoint } from '../../outbox/types.js';
import type { ParserOptions } from '../../parse/parser.js';
import { FORMAT_FRAMING, FORMATS } from '../../parse/registry.js';
import { Sleeper } from '../sleeper.js';
import { InFlightLimit, deliver, type LineChunk, type Source } from '../source.js';
import { discover, toList, type FoundFile } from './discovery.js';
import { DocumentFiles } from './document-files.js';
import { FileChunkEmitter } from './emitter.js';
import { fileKey } from './fingerprint.js';
import { GzipFiles } from './gzip-files.js';
import { findLostFiles } from './lost-files.js';
import { placeFile } from './placement.js';
import { PositionBook, type Position } from './positions.js';
import { FileTailer, type TailerPosition } from './tailer.js';

export interface FileSourceOptions {
  config: FileSourceConfig;
  lane: number;
  /** Positions committed by earlier runs, keyed by file identity. */
  checkpoints: FileCheckpoint[];
  logger: Logger;
  parserOptions: ParserOptions;
  /** Chunks in flight (emitted, not yet committed) per source. */
  maxInFlight?: number;
  chunkBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 256 * 1024;

export class FileSource implements Source {
  readonly name: string;
  readonly chunks$: Observable<LineChunk>;
  private readonly tailers = new Map<string, FileTailer>();
  private readonly limit: InFlightLimit;
  get stalls$(): Observable<void> {
    return this.limit.waits$;
  }
  private readonly book: PositionBook;
  private readonly firstRun: boolean;
  private readonly log: Logger;
  private readonly gzip: GzipFiles;
  private readonly documents: DocumentFiles;
  private readonly documentFormat: boolean;
  private readonly emitter: FileChunkEmitter;
  /** Files not opened for now (a copy of a followed file): key → size and when it last changed. */
  private readonly waiting = new Map<string, { size: number; since: number }>();
  /** Paths that could not be opened: warned about once, retried at every scan. */
  private readonly unopenable = new Set<string>();
  private saidEmpty = false;
  private subscriber: Subscriber<LineChunk> | null = null;
  private stopping = false;
  private initialScanDone = false;
  private flushOnStop = false;
  private loop: Promise<void> | null = null;
  private readonly sleeper = new Sleeper();

  constructor(private readonly opts: FileSourceOptions) {
    const cfg = opts.config;
    this.name = cfg.name;
    this.limit = new InFlightLimit(opts.maxInFlight ?? 4);
    this.book = new PositionBook(opts.checkpoints);
    this.firstRun = opts.checkpoints.length === 0;
    this.log = opts.logger.child({ source: this.name });
    this.documentFormat = FORMAT_FRAMING[cfg.format] === 'document';
    this.emitter = new FileChunkEmitter({ source: this.name, lane: opts.lane, limit: this.limit, next: (c) => deliver(this.subscriber, c), book: this.book });
    const common = { book: this.book, emitter: this.emitter, parserFactory: FORMATS[cfg.format], parserOptions: opts.parserOptions, logger: this.log };
    this.gzip = new GzipFiles({ ...common, maxLineBytes: cfg.max_line_bytes, chunkBytes: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES });
    this.documents = new DocumentFiles({ ...common, settleMs: cfg.rotate_wait });
    this.chunks$ = new Observable<LineChunk>((subscriber) => {
      this.subscriber = subscriber;
      this.loop = this.run().then(
        () => subscriber.complete(),
        (err: unknown) => subscriber.error(err),
      );
      return () => {
        this.stopping = true;
        this.sleeper.wake();
      };
    });
  }

  isCaughtUp(): boolean {
    if (!this.initialScanDone || this.limit.count > 0 || this.gzip.pending > 0 || this.documents.pending > 0) return false;
    for (const t of this.tailers.values()) if (!t.atEof) return false;
    return true;
  }

  async drain(): Promise<void> {
    this.stopping = true;
    this.sleeper.wake();
    await this.loop;
  }

  /** The files are complete (a backfill): read them to their ends, flush last unterminated lines, then stop. */
  async finish(): Promise<void> {
    this.flushOnStop = true;
    await this.drain();
  }

  private readonly shouldStop = () => this.stopping;

  private async run(): Promise<void> {
    const { refresh_interval: refreshMs, poll_interval: pollMs } = this.opts.config;
    let lastScan = 0;
    let firstScan = true;
    while (!this.stopping) {
      if (firstScan || Date.now() - lastScan >= refreshMs) {
        await this.scan(firstScan);
        firstScan = false;
        lastScan = Date.now();
      }
      for (const tailer of [...this.tailers.values()]) {
        if (this.stopping) break;
        try {
          await tailer.readAvailable(this.shouldStop);
        } catch (err) {
          this.log.error({ event: 'file_read_failed', path: tailer.path, err }, 'reading file failed; will retry');
        }
      }
      await this.releaseGone();
      await this.gzip.readPending(this.shouldStop);
      await this.documents.readReady(this.shouldStop);
      this.initialScanDone = true;
      if (!this.stopping) await this.sleeper.sleep(pollMs);
    }
    if (this.flushOnStop) {
      for (const tailer of this.tailers.values()) {
        await tailer.readAvailable(() => false);
        await tailer.flushPartialLine();
      }
    }
    await this.limit.idle();
    for (const tailer of this.tailers.values()) await tailer.close();
    this.tailers.clear();
  }

  private async scan(first: boolean): Promise<void> {
    const cfg = this.opts.config;
    let found: FoundFile[];
    try {
      found = await discover(toList(cfg.path), toList(cfg.exclude));
    } catch (err) {
      this.log.error({ event: 'glob_failed', patterns: cfg.path, err }, 'listing files failed; will retry');
      return;
    }
    if (found.length === 0 && !this.saidEmpty) {
      this.log.info({ event: 'source_waiting', patterns: cfg.path }, 'no file matches the globs yet (folder not there or empty): looking again at every refresh_interval');
    }
    this.saidEmpty = found.length === 0;
    const present = new Set<string>();
    const gzipKeys = new Set<string>();
    const documentKeys = new Set<string>();
    for (const f of found) {
      if (this.documentFormat) {
        documentKeys.add(this.documents.note(f));
        continue;
      }
      if (f.path.endsWith('.gz')) {
        gzipKeys.add(this.gzip.note(f));
        continue;
      }
      const key = fileKey(f.stats);
      present.add(key);
      const known = this.tailers.get(key);
      if (known !== undefined) {
        known.path = f.path; // renamed but still matching: keep following it
        known.vanishedAt = null;
        continue;
      }
      await this.openFile(f.path, first);
    }
    this.gzip.forgetAllBut(gzipKeys);
    this.documents.forgetAllBut(documentKeys);
    const now = Date.now();
    for (const [key, tailer] of this.tailers) if (!present.has(key)) tailer.vanishedAt ??= now;
    if (first && !this.documentFormat) {
      for (const lost of await findLostFiles(this.book, present, this.log)) {
        if (this.tailers.has(lost.key)) continue;
        await this.openFile(lost.path, false, 0);
      }
    }
  }

  /** Lets go of files that stopped matching and have been quiet for rotate_wait. */
  private async releaseGone(): Promise<void> {
    const wait = this.opts.config.rotate_wait;
    const now = Date.now();
    for (const [key, tailer] of this.tailers) {
      if (this.stopping) return;
      if (tailer.vanishedAt === null || !tailer.atEof) continue;
      if (now - Math.max(tailer.vanishedAt, tailer.lastGrowthAt) < wait) continue;
      await tailer.readAvailable(this.shouldStop);
      if (this.stopping) return;
      await tailer.flushPartialLine();
      await tailer.close();
      this.tailers.delete(key);
      this.book.setLive(key, false);
      this.log.info({ event: 'file_released', path: tailer.path, ...tailer.position }, 'file rotated away or deleted: read to its end and closed');
    }
  }

  /** `vanishedAt` set: a file found outside the globs (rotated away while stopped), let go once read. */
  private async openFile(path: string, firstScan: boolean, vanishedAt: number | null = null): Promise<void> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (!this.unopenable.has(path)) this.log.warn({ event: 'file_open_failed', path, err }, 'cannot open file (permissions?); retried at every scan');
      this.unopenable.add(path);
      return;
    }
    this.unopenable.delete(path);
    let keep = false;
    try {
      const stats = await handle.stat();
      const key = fileKey(stats);
      const startAtEnd = firstScan && this.firstRun && this.opts.config.start_at === 'end';
      const wait = this.waiting.get(key);
      const now = Date.now();
      if (wait !== undefined && wait.size !== stats.size) Object.assign(wait, { size: stats.size, since: now });
      const patient = wait === undefined || now - wait.since < this.opts.config.rotate_wait;
      const { placement, replaced } = await placeFile({ key, size: stats.size, handle, book: this.book, startAtEnd, patient });
      if (replaced) await this.retireReplaced(key, path);
      if (placement.kind === 'defer') {
        if (wait === undefined) {
          this.waiting.set(key, { size: stats.size, since: now });
          this.log.info(
            { event: 'file_deferred', path, followed_as: placement.followedAs },
            placement.maybeCopy === true
              ? 'file starts like a file being read but is shorter: maybe a copy still being written; waiting while it grows'
              : 'file is a copy of a file being read: waiting until that one is rotated or released',
          );
        }
        return;
      }
      this.waiting.delete(key);
      const start = placement.kind === 'resume' ? placement.position : { offset: placement.offset, line: 0, parserState: null };
      if (placement.kind === 'resume' && placement.how === 'content') await this.adopt(placement.position, key, path);
      const tailer = this.newTailer(path, key, handle, start);
      tailer.vanishedAt = vanishedAt;
      keep = true;
      this.tailers.set(key, tailer);
      this.book.setLive(key, true);
      this.log.info(
        { event: 'file_opened', path, offset: start.offset, line: start.line, how: placement.kind === 'resume' ? placement.how : 'new' },
        placement.kind === 'resume' && placement.how === 'content' ? 'following file, a copy of content already read: continuing where it was left' : 'following file',
      );
    } finally {
      if (!keep) await handle.close().catch(() => undefined);
    }
  }

  private newTailer(path: string, key: string, handle: import('node:fs/promises').FileHandle, start: TailerPosition): FileTailer {
    const cfg = this.opts.config;
    return new FileTailer({
      source: this.name,
      lane: this.opts.lane,
      path,
      fileKey: key,
      handle,
      start,
      parserFactory: FORMATS[cfg.format],
      parserOptions: this.opts.parserOptions,
      limit: this.limit,
      emit: (chunk) => deliver(this.subscriber, chunk),
      logger: this.log,
      chunkBytes: this.opts.chunkBytes,
      maxLineBytes: cfg.max_line_bytes,
      onPosition: (p) => this.book.record(p),
      onRetire: () => this.book.retire(key),
    });
  }

  /**
   * A copy continues at a position of other content: record that position under the copy's own
   * identity at once (durably), so it is known by identity from now on, also after a restart.
   */
  private async adopt(position: Position, key: string, path: string): Promise<void> {
    const parser = FORMATS[this.opts.config.format](this.opts.parserOptions, position.parserState);
    await this.emitter.emit(path, { firstLine: position.line + 1, lines: [], refused: [] }, { ...position, key, path }, parser);
  }

  /** A known identity whose content was replaced while nobody watched: keep its old position for copies. */
  private async retireReplaced(key: string, path: string): Promise<void> {
    const retired = this.book.retire(key);
    if (retired === undefined) return;
    this.log.warn({ event: 'file_truncated', path, offset: retired.offset }, 'file was truncated or rewritten while the agent was not following it: reading it from the start');
    const parser = FORMATS[this.opts.config.format](this.opts.parserOptions, retired.parserState);
    await this.emitter.emit(path, { firstLine: retired.line + 1, lines: [], refused: [] }, retired, parser);
  }
}
