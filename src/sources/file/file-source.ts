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
 *
 * Descriptors: at most `max_open_files` files are open at once (and all sources together stay
 * inside the process budget, descriptors.ts). Files beyond that wait in `queued`, in path
 * order. A file at its end that still matches is closed — at once when others wait for a slot
 * (least recently grown first), else after IDLE_CLOSE_MS without growth — and kept dormant
 * (dormant-files.ts) with the size and mtime it had: a scan that sees them change queues it again, and it is
 * placed by identity like at a restart (placement.ts), from the position in the book, which
 * is never behind what was handed out. A dormant file that stops matching is looked for by
 * identity in its folder (lost-files.ts) and followed like a rotated file. No slot, or
 * EMFILE/ENFILE at open(): the file stays queued (backpressure), never failed nor dropped.
 * Opening one file and placing it is file-opener.ts; this module keeps the sets of files.
 */
import { SymlinkPolicy } from './symlinks.js';
import type { FileHandle } from 'node:fs/promises';
import { Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import type { FileSourceConfig } from '../../config/sources-schema.js';
import type { FileCheckpoint } from '../../outbox/types.js';
import type { ParserOptions } from '../../parse/parser.js';
import { FORMAT_FRAMING, FORMATS } from '../../parse/registry.js';
import { eachConcurrently } from '../each-concurrently.js';
import { WakeableSleep } from '../../async/wakeable-sleep.js';
import { InFlightLimit, deliver, type LineChunk, type Source } from '../source.js';
import { isDescriptorExhaustion, OpenFileSlots } from '../descriptors.js';
import { FileOpener } from './file-opener.js';
import { DormantFiles } from './dormant-files.js';
import { listFiles, toList, type Listing } from './discovery.js';
import { DocumentFiles } from './document-files.js';
import { FileChunkEmitter } from './emitter.js';
import { fileKey } from './fingerprint.js';
import { GzipFiles } from './gzip-files.js';
import { findLostFiles } from './lost-files.js';
import { PositionBook } from './positions.js';
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
  /** A file at its end that has not grown this long is closed even if no other file waits (default IDLE_CLOSE_MS). */
  idleCloseMs?: number;
}

const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** A file at its end that has not grown for a minute is closed, its descriptor given back. */
export const IDLE_CLOSE_MS = 60_000;
/** Files opened at once (then placed one by one). */
const OPEN_BATCH = 16;
/**
 * The largest share of the time spent looking at the globs: with tens of thousands of files a
 * look (a stat per file) takes longer than refresh_interval allows for, and would keep a core busy.
 */
const SCAN_SHARE = 0.1;
/** Files read at once: their reads wait on the thread pool, not on each other. */
const READ_CONCURRENCY = 8;

/** A file that matches but is not open yet (no free slot, or not looked at yet). */
interface QueuedFile {
  path: string;
  /** Found at the first scan (start_at applies). */
  firstScan: boolean;
  /** Found outside the globs (rotated away): let go once read. */
  vanishedAt: number | null;
}

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
  private readonly opener: FileOpener;
  private readonly queued = new Map<string, QueuedFile>();
  private readonly dormant: DormantFiles;
  private readonly slots: OpenFileSlots;
  private saidEmpty = false;
  private saidQueued = false;
  private subscriber: Subscriber<LineChunk> | null = null;
  private stopping = false;
  private initialScanDone = false;
  private flushOnStop = false;
  private loop: Promise<void> | null = null;
  private readonly sleeper = new WakeableSleep();

  private readonly symlinks: SymlinkPolicy;

  constructor(private readonly opts: FileSourceOptions) {
    const cfg = opts.config;
    this.name = cfg.name;
    this.limit = new InFlightLimit(opts.maxInFlight ?? 4);
    this.book = new PositionBook(opts.checkpoints);
    this.firstRun = opts.checkpoints.length === 0;
    this.log = opts.logger.child({ source: this.name });
    this.slots = new OpenFileSlots(this.name, cfg.max_open_files, this.log);
    this.symlinks = new SymlinkPolicy(cfg.follow_symlinks, this.log);
    this.dormant = new DormantFiles(this.book, this.log);
    this.documentFormat = FORMAT_FRAMING[cfg.format] === 'document';
    this.emitter = new FileChunkEmitter({ source: this.name, lane: opts.lane, limit: this.limit, next: (c) => deliver(this.subscriber, c), book: this.book });
    const common = { book: this.book, emitter: this.emitter, slots: this.slots, symlinks: this.symlinks, parserFactory: FORMATS[cfg.format], parserOptions: opts.parserOptions, logger: this.log };
    this.gzip = new GzipFiles({ ...common, maxLineBytes: cfg.max_line_bytes, chunkBytes: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES });
    this.documents = new DocumentFiles({ ...common, settleMs: cfg.rotate_wait });
    this.opener = new FileOpener({
      ...common,
      config: cfg,
      firstRun: this.firstRun,
      tailers: this.tailers,
      wake: (key) => this.dormant.wake(key),
      newTailer: (path, key, handle, start) => this.newTailer(path, key, handle, start),
    });
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
    if (!this.initialScanDone || this.queued.size > 0 || this.limit.count > 0 || this.gzip.pending > 0 || this.documents.pending > 0) return false;
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
    let nextScan = 0;
    let firstScan = true;
    while (!this.stopping) {
      if (firstScan || Date.now() >= nextScan) {
        const started = Date.now();
        await this.scan(firstScan);
        firstScan = false;
        // A look at 20,000 files takes a few hundred ms: at most SCAN_SHARE of the time goes to it.
        nextScan = Date.now() + Math.max(refreshMs - (Date.now() - started), (Date.now() - started) * (1 / SCAN_SHARE - 1));
      }
      await eachConcurrently([...this.tailers.values()], READ_CONCURRENCY, async (tailer) => {
        if (this.stopping) return;
        try {
          await tailer.readAvailable(this.shouldStop);
        } catch (err) {
          this.log.error({ event: 'file_read_failed', path: tailer.path, err }, 'reading file failed; will retry');
        }
      });
      await this.releaseGone();
      await this.closeIdle();
      const opened = await this.openQueued(this.shouldStop);
      await this.gzip.readPending(this.shouldStop);
      await this.documents.readReady(this.shouldStop);
      this.initialScanDone = true;
      // Files wait for a slot and some were just opened: read them now, not after a poll interval.
      if (!this.stopping && !(opened > 0 && this.queued.size > 0)) await this.sleeper.sleep(pollMs);
    }
    if (this.flushOnStop) await this.finishFiles();
    await this.limit.idle();
    await this.closeAll();
  }

  private async closeAll(): Promise<void> {
    for (const tailer of this.tailers.values()) await this.closeTailer(tailer);
    this.tailers.clear();
  }

  private async closeTailer(tailer: FileTailer): Promise<void> {
    if (tailer.closed) return;
    await tailer.close();
    this.slots.give();
  }

  /**
   * A backfill's end: every file read to its end and its unterminated last line flushed —
   * also files closed at their end with such a line, and files still waiting for a slot,
   * opened in turn within the same cap.
   */
  private async finishFiles(): Promise<void> {
    for (const [key, path] of this.dormant.withPartialLine()) this.queue(key, path, false, null);
    for (;;) {
      for (const tailer of this.tailers.values()) {
        await tailer.readAvailable(() => false);
        await tailer.flushPartialLine();
      }
      await this.limit.idle();
      await this.closeAll();
      if (this.queued.size === 0) return;
      if ((await this.openQueued(() => false)) === 0) {
        if (this.queued.size > 0) {
          this.log.warn({ event: 'files_left_unread', files: this.queued.size }, 'stopping with files that could not be opened (no descriptor free): they are read at the next run');
        }
        return;
      }
    }
  }

  private async scan(first: boolean): Promise<void> {
    const cfg = this.opts.config;
    let listing: Listing;
    try {
      listing = await listFiles(toList(cfg.path), toList(cfg.exclude), this.symlinks);
    } catch (err) {
      if (isDescriptorExhaustion(err)) this.slots.noteExhausted(String(cfg.path), err);
      else this.log.error({ event: 'glob_failed', patterns: cfg.path, err }, 'listing files failed; will retry');
      return;
    }
    if (listing.exhausted !== null) {
      // Incomplete: the files it lacks are not gone, and "nothing matches" would be untrue.
      this.slots.noteExhausted(String(cfg.path), listing.exhausted);
      return;
    }
    const found = listing.found;
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
      if (this.dormant.unchanged(key, f.path, f.stats)) continue; // closed at its end, unchanged since
      this.queue(key, f.path, first, null);
    }
    this.gzip.forgetAllBut(gzipKeys);
    this.documents.forgetAllBut(documentKeys);
    const now = Date.now();
    for (const [key, tailer] of this.tailers) if (!present.has(key)) tailer.vanishedAt ??= now;
    // Gone before it was opened (deleted, or renamed out of the globs): as for a file deleted while the agent was stopped.
    for (const [key, q] of this.queued) if (q.vanishedAt === null && !present.has(key)) this.queued.delete(key);
    await this.dormant.lookForGone(present, (key, path) => this.queue(key, path, false, now));
    if (first && !this.documentFormat) {
      for (const lost of await findLostFiles(this.book, present, this.log)) {
        if (!this.tailers.has(lost.key)) this.queue(lost.key, lost.path, false, 0);
      }
    }
  }

  private queue(key: string, path: string, firstScan: boolean, vanishedAt: number | null): void {
    const q = this.queued.get(key);
    if (q === undefined) this.queued.set(key, { path, firstScan, vanishedAt });
    else q.path = path;
  }

  /**
   * Closes files at their end that still match: as many as wait for a slot (least recently
   * grown first), and any that has not grown for the idle time.
   */
  private async closeIdle(): Promise<void> {
    const waiting = this.queued.size + (this.gzip.pending > 0 ? 1 : 0) + (this.documents.pending > 0 ? 1 : 0);
    this.slots.waiting = this.queued.size;
    let toFree = waiting - this.slots.free();
    const idleMs = this.opts.idleCloseMs ?? IDLE_CLOSE_MS;
    const now = Date.now();
    const atEnd = [...this.tailers.values()].filter((t) => t.atEof && t.vanishedAt === null && !t.closed).sort((a, b) => a.lastGrowthAt - b.lastGrowthAt);
    for (const tailer of atEnd) {
      if (toFree <= 0 && now - tailer.lastGrowthAt < idleMs) break;
      this.dormant.add(tailer);
      this.tailers.delete(tailer.fileKey);
      await this.closeTailer(tailer);
      toFree--;
      this.log.debug({ event: 'file_closed_idle', path: tailer.path, ...tailer.position }, 'file at its end closed (found again by identity when it changes)');
    }
  }

  /** Opens queued files while slots are free; returns how many were opened. */
  private async openQueued(shouldStop: () => boolean): Promise<number> {
    let opened = 0;
    const batch: Array<[string, QueuedFile]> = [];
    for (const entry of this.queued) {
      if (shouldStop() || batch.length >= OPEN_BATCH || !this.slots.tryTake()) break;
      batch.push(entry);
    }
    // open() and fstat() of the batch at once (they wait on the thread pool, not on each other);
    // each file is then placed in turn, since placing compares it with what the book holds.
    const handles = await Promise.all(batch.map(([, q]) => this.opener.open(q.path)));
    for (let i = 0; i < batch.length; i++) {
      const [key, q] = batch[i]!;
      const h = handles[i]!;
      if (h === 'exhausted') continue; // stays queued: retried at the next round
      this.queued.delete(key);
      if (typeof h !== 'string' && (await this.opener.follow(h, q.path, q.firstScan, q.vanishedAt)) === 'opened') opened++;
    }
    this.slots.waiting = this.queued.size;
    if (this.queued.size > 0 && !this.saidQueued) {
      this.log.info(
        { event: 'files_queued', files: this.queued.size, open_files: this.slots.open, max_open_files: this.slots.max },
        'more files match than may be open at once: the others are read in turn (files at their end are closed to make room)',
      );
    }
    this.saidQueued = this.queued.size > 0;
    return opened;
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
      await this.closeTailer(tailer);
      this.tailers.delete(key);
      this.book.setLive(key, false);
      this.log.info({ event: 'file_released', path: tailer.path, ...tailer.position }, 'file rotated away or deleted: read to its end and closed');
    }
  }

  private newTailer(path: string, key: string, handle: FileHandle, start: TailerPosition): FileTailer {
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
}
