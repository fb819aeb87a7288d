/**
 * The `spool` source: a folder into which complete files are dropped (renamed in atomically).
 * Files are taken one at a time, oldest first; each is read to its end — its last line need
 * not end with a newline — and, once everything read from it is committed, deleted or moved to
 * `done/`. A file that cannot be read (I/O error, a document that is not valid JSON, too large)
 * goes to `failed/` with a `.error.txt`. Bad records in a readable file are dead letters, as
 * everywhere; the file itself is then done.
 *
 * Exactly once: positions commit with the rows, keyed by the file's identity (device, inode and
 * mtime: a spool file never changes, and a new file reusing an inode has another mtime), so a
 * restart mid-file continues after the last committed line, and a file whose end was committed
 * but which was not yet deleted is only disposed of. A missing folder (not mounted yet) is
 * waited for with backoff; it is not an error.
 *
 * Descriptors: one file is open at a time, and only with a slot of the process budget
 * (descriptors.ts), so a folder of thousands of files holds at most one. No slot, or
 * EMFILE/ENFILE (at open, or while listing the folder): the file is left where it is and the
 * round ends (backpressure, logged and counted) — never moved to failed/ for it.
 */
import { SymlinkPolicy } from '../file/symlinks.js';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import type { SpoolSourceConfig } from '../../config/sources-schema.js';
import type { FileCheckpoint } from '../../outbox/types.js';
import type { ParserOptions } from '../../parse/parser.js';
import { FORMAT_FRAMING, FORMATS } from '../../parse/registry.js';
import { isDescriptorExhaustion, OpenFileSlots } from '../descriptors.js';
import { ignorePatterns, toList, watchedReaddir } from '../file/discovery.js';
import { HEAD_BYTES, hashHead, readHead } from '../file/fingerprint.js';
import { toCheckpoint } from '../file/positions.js';
import { FileTailer } from '../file/tailer.js';
import { WakeableSleep } from '../../async/wakeable-sleep.js';
import { InFlightLimit, deliver, type LineChunk, type Source } from '../source.js';
import { invalidUtf8Reason } from '../utf8.js';
import { DONE_DIR, FAILED_DIR, disposeDone, disposeFailed } from './dispose.js';

export interface SpoolSourceOptions {
  config: SpoolSourceConfig;
  lane: number;
  /** A file's committed position, looked up when it is opened; deletes one (registry.ts, SourceContext). */
  checkpointOf: (fileKey: string) => FileCheckpoint | undefined;
  forgetCheckpoint?: ((fileKey: string) => void) | undefined;
  logger: Logger;
  parserOptions: ParserOptions;
  maxInFlight?: number;
}

const MAX_BACKOFF_MS = 60_000;

class Unreadable extends Error {}

export class SpoolSource implements Source {
  readonly name: string;
  readonly chunks$: Observable<LineChunk>;
  private readonly limit: InFlightLimit;
  get stalls$(): Observable<void> {
    return this.limit.waits$;
  }
  private readonly log: Logger;
  private subscriber: Subscriber<LineChunk> | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly sleeper = new WakeableSleep();
  private waitingForFolder = false;
  /** Files in the folder at the last look that are not finished (or could not be moved). */
  private backlog = -1;
  /** Files that could not be moved away: warned once, retried each round. */
  private readonly stuck = new Set<string>();
  private readonly slots: OpenFileSlots;

  private readonly symlinks: SymlinkPolicy;

  constructor(private readonly opts: SpoolSourceOptions) {
    this.name = opts.config.name;
    this.limit = new InFlightLimit(opts.maxInFlight ?? 4);
    this.log = opts.logger.child({ source: this.name });
    this.symlinks = new SymlinkPolicy(opts.config.follow_symlinks, this.log);
    this.slots = new OpenFileSlots(this.name, 1, this.log);
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
    return this.backlog === this.stuck.size && this.limit.count === 0;
  }

  async drain(): Promise<void> {
    this.stopping = true;
    this.sleeper.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    let backoff = 1000;
    while (!this.stopping) {
      const files = await this.list();
      if (files === null) {
        await this.sleeper.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      backoff = 1000;
      if (files !== 'exhausted') {
        for (const f of this.stuck) if (!files.includes(f)) this.stuck.delete(f);
        this.backlog = files.length;
        for (const file of files) {
          if (this.stopping) break;
          if ((await this.ingest(file)) === 'no-descriptor') break; // the rest waits for the next round
        }
      }
      if (!this.stopping) await this.sleeper.sleep(this.opts.config.poll_interval);
    }
    await this.limit.idle();
  }

  /** Eligible files, oldest first; null when the folder is not there (yet); 'exhausted' when it could not be listed for want of descriptors. */
  private async list(): Promise<string[] | null | 'exhausted'> {
    const cfg = this.opts.config;
    try {
      const s = await stat(cfg.path);
      if (!s.isDirectory()) throw Object.assign(new Error(`${cfg.path} is not a folder`), { code: 'ENOTDIR' });
    } catch (err) {
      if (!this.waitingForFolder) {
        this.waitingForFolder = true;
        this.log.warn(
          { event: 'source_waiting', path: cfg.path, code: (err as NodeJS.ErrnoException).code },
          'spool folder is not there (not mounted yet?): retrying with backoff',
        );
      }
      return null;
    }
    if (this.waitingForFolder) {
      this.waitingForFolder = false;
      this.log.info({ event: 'source_ready', path: cfg.path }, 'spool folder is there: ingesting');
    }
    let exhausted: NodeJS.ErrnoException | null = null;
    const names = await fg(cfg.pattern, {
      cwd: cfg.path,
      // Links must be seen to be reported: every entry but folders, each judged by lstat below.
      onlyFiles: false,
      markDirectories: true,
      dot: false,
      suppressErrors: true,
      followSymbolicLinks: this.symlinks.follow,
      ignore: [...ignorePatterns(toList(cfg.exclude)), `${DONE_DIR}/**`, `${FAILED_DIR}/**`],
      fs: { readdir: watchedReaddir((err) => (exhausted = err)) as never },
    });
    if (exhausted !== null) {
      this.slots.noteExhausted(cfg.path, exhausted);
      return 'exhausted';
    }
    const withTimes: Array<{ file: string; mtime: number }> = [];
    for (const name of names) {
      if (name.endsWith('/')) continue;
      const file = path.join(cfg.path, name);
      const s = await this.symlinks.regularFile(file); // null: taken away meanwhile, or a link not followed
      if (s !== null) withTimes.push({ file, mtime: s.mtimeMs });
    }
    return withTimes.sort((a, b) => a.mtime - b.mtime || (a.file < b.file ? -1 : 1)).map((f) => f.file);
  }

  private async ingest(file: string): Promise<'no-descriptor' | void> {
    if (!this.slots.tryTake()) return 'no-descriptor';
    let handle;
    try {
      handle = await open(file, this.symlinks.openFlags);
    } catch (err) {
      this.slots.give();
      if (isDescriptorExhaustion(err)) {
        this.slots.noteExhausted(file, err);
        return 'no-descriptor';
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      return this.fail(file, `cannot open: ${(err as Error).message}`, 0);
    }
    let lines = 0;
    try {
      const stats = await handle.stat();
      const key = `spool:${stats.dev}:${stats.ino}:${stats.mtimeMs}`;
      const saved = this.opts.checkpointOf(key);
      let start = { offset: 0, line: 0, parserState: null as string | null };
      if (saved !== undefined && saved.offset <= stats.size && (await readHead(handle, saved.headLen)).hash === saved.headHash.split('/')[0]) {
        start = { offset: saved.offset, line: saved.line, parserState: saved.parserState };
      }
      lines = start.line;
      if (start.offset === 0 || start.offset < stats.size) {
        if (FORMAT_FRAMING[this.opts.config.format] === 'document') await this.readDocument(file, key, handle, stats.size);
        else lines = await this.readLines(file, key, handle, start);
      }
      if (this.stopping) return;
      await this.limit.idle();
      // Stopping: leave it; the next start finds its end committed and only disposes of it.
      if (this.stopping) return;
      const to = await disposeDone(file, this.opts.config.after);
      // Gone from the folder: its position is of no more use. (A crash just before this leaves
      // one row behind, harmless. A file in failed/ keeps its position: moved back unchanged,
      // it goes on after the lines already ingested.)
      this.forget(file, key);
      this.stuck.delete(file);
      this.log.info({ event: 'spool_file_done', path: file, moved_to: to, lines }, to === null ? 'spool file ingested and deleted' : 'spool file ingested and moved');
    } catch (err) {
      await this.limit.idle();
      if (err instanceof Unreadable) return this.fail(file, err.message, lines);
      if (isDescriptorExhaustion(err)) {
        // Disposing needed a descriptor (a move's folder, failed/'s note): the file stays, what was read is committed.
        this.slots.noteExhausted(file, err);
        return 'no-descriptor';
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EBUSY' || code === 'EROFS') {
        if (!this.stuck.has(file)) this.log.error({ event: 'spool_dispose_failed', path: file, err }, 'ingested, but the file cannot be removed or moved: fix the folder permissions; retrying');
        this.stuck.add(file);
        return;
      }
      return this.fail(file, (err as Error).message, lines);
    } finally {
      await handle.close().catch(() => undefined);
      this.slots.give();
    }
  }

  private async readLines(file: string, key: string, handle: import('node:fs/promises').FileHandle, start: { offset: number; line: number; parserState: string | null }): Promise<number> {
    const cfg = this.opts.config;
    const tailer = new FileTailer({
      source: this.name,
      lane: this.opts.lane,
      path: file,
      fileKey: key,
      handle,
      start,
      parserFactory: FORMATS[cfg.format],
      parserOptions: this.opts.parserOptions,
      limit: this.limit,
      emit: (chunk) => deliver(this.subscriber, chunk),
      logger: this.log,
      maxLineBytes: cfg.max_line_bytes,
    });
    try {
      await tailer.readAvailable(() => this.stopping);
      if (!this.stopping) await tailer.flushPartialLine();
    } catch (err) {
      throw new Unreadable(`read failed after line ${tailer.position.line}: ${(err as Error).message}`);
    }
    return tailer.position.line;
  }

  private async readDocument(file: string, key: string, handle: import('node:fs/promises').FileHandle, size: number): Promise<void> {
    const cfg = this.opts.config;
    if (size > cfg.max_file_bytes) throw new Unreadable(`file is ${size} bytes, over max_file_bytes (${cfg.max_file_bytes}) for a whole document`);
    const bytes = Buffer.alloc(size);
    const { bytesRead } = await handle.read(bytes, 0, size, 0);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, bytesRead));
    } catch {
      throw new Unreadable(invalidUtf8Reason(bytes, 0, bytesRead, undefined, 'document'));
    }
    const parser = FORMATS[cfg.format](this.opts.parserOptions, null);
    const check = parser.parseWhole?.(text) ?? parser.parseLine(text);
    if (!check.ok) throw new Unreadable(check.reason);
    await this.limit.acquire();
    const headLen = Math.min(bytesRead, HEAD_BYTES);
    const position = { key, path: file, offset: bytesRead, line: 1, headLen, head: hashHead(bytes.subarray(0, headLen)), tail: null, parserState: null };
    deliver(this.subscriber, {
      source: this.name,
      lane: this.opts.lane,
      origin: file,
      lines: [text],
      firstLine: 1,
      whole: true,
      parser,
      checkpoint: toCheckpoint(this.name, position),
      ack: () => this.limit.release(),
    });
  }

  /** Failing to delete a position is no reason to treat an ingested file as failed: said, and left. */
  private forget(file: string, key: string): void {
    try {
      this.opts.forgetCheckpoint?.(key);
    } catch (err) {
      this.log.warn({ event: 'spool_position_kept', path: file, err }, 'spool file done, but its position could not be deleted from the outbox (harmless: one row)');
    }
  }

  private async fail(file: string, reason: string, linesCommitted: number): Promise<void> {
    try {
      const to = await disposeFailed(file, { source: this.name, reason, linesCommitted });
      this.log.error({ event: 'spool_file_failed', path: file, moved_to: to, reason }, `spool file could not be ingested: moved to ${FAILED_DIR}/ with an .error.txt`);
    } catch (err) {
      if (!this.stuck.has(file)) this.log.error({ event: 'spool_dispose_failed', path: file, reason, err }, 'spool file could not be ingested, nor moved to failed/: retrying');
      this.stuck.add(file);
    }
  }
}
