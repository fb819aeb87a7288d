/**
 * The `file` source: tails every file matching its globs, picks up new files as they appear,
 * and follows each file by identity (see fingerprint.ts) from its committed position.
 *
 * Files found at the first scan with no checkpoint start at `start_at`; files that appear
 * later are new data and are read from their beginning. A file whose path no longer leads to
 * it (rotated away, deleted) is read to its end, its last unterminated line flushed, and closed.
 */
import { open, stat } from 'node:fs/promises';
import fg from 'fast-glob';
import { Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import type { FileSourceConfig } from '../../config/schema.js';
import type { FileCheckpoint } from '../../outbox/types.js';
import { FORMATS } from '../../parse/registry.js';
import { InFlightLimit, type LineChunk, type Source } from '../source.js';
import { fileKey, readHead } from './fingerprint.js';
import { FileTailer, type TailerPosition } from './tailer.js';

export interface FileSourceOptions {
  config: FileSourceConfig;
  lane: number;
  /** Positions committed by earlier runs, keyed by file identity. */
  checkpoints: FileCheckpoint[];
  logger: Logger;
  /** Chunks in flight (emitted, not yet committed) per source. */
  maxInFlight?: number;
}

export class FileSource implements Source {
  readonly name: string;
  readonly chunks$: Observable<LineChunk>;
  private readonly tailers = new Map<string, FileTailer>();
  private readonly limit: InFlightLimit;
  private readonly checkpoints: Map<string, FileCheckpoint>;
  private readonly log: Logger;
  private subscriber: Subscriber<LineChunk> | null = null;
  private stopping = false;
  private initialScanDone = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly opts: FileSourceOptions) {
    this.name = opts.config.name;
    this.limit = new InFlightLimit(opts.maxInFlight ?? 4);
    this.checkpoints = new Map(opts.checkpoints.map((c) => [c.fileKey, c]));
    this.log = opts.logger.child({ source: this.name });
    this.chunks$ = new Observable<LineChunk>((subscriber) => {
      this.subscriber = subscriber;
      this.loop = this.run().then(
        () => subscriber.complete(),
        (err: unknown) => subscriber.error(err),
      );
      return () => {
        this.stopping = true;
        this.wake?.();
      };
    });
  }

  isCaughtUp(): boolean {
    if (!this.initialScanDone || this.limit.count > 0) return false;
    for (const t of this.tailers.values()) if (!t.atEof) return false;
    return true;
  }

  async drain(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private get patterns(): string[] {
    const p = this.opts.config.path;
    return Array.isArray(p) ? p : [p];
  }

  private async run(): Promise<void> {
    const { refresh_interval: refreshMs, poll_interval: pollMs } = this.opts.config;
    let lastScan = 0;
    let firstScan = true;
    while (!this.stopping) {
      if (Date.now() - lastScan >= refreshMs || firstScan) {
        await this.scan(firstScan);
        firstScan = false;
        lastScan = Date.now();
      }
      for (const tailer of [...this.tailers.values()]) {
        if (this.stopping) break;
        try {
          await tailer.readAvailable(() => this.stopping);
        } catch (err) {
          this.log.error({ event: 'file_read_failed', path: tailer.path, err }, 'reading file failed; will retry');
        }
      }
      this.initialScanDone = true;
      if (!this.stopping) await this.sleep(pollMs);
    }
    await this.limit.idle();
    for (const tailer of this.tailers.values()) await tailer.close();
    this.tailers.clear();
  }

  private async scan(first: boolean): Promise<void> {
    let paths: string[];
    try {
      paths = await fg(this.patterns, { absolute: true, onlyFiles: true, unique: true, suppressErrors: true });
    } catch (err) {
      this.log.error({ event: 'glob_failed', patterns: this.patterns, err }, 'listing files failed; will retry');
      return;
    }
    const present = new Set<string>();
    for (const path of paths.sort()) {
      let key: string;
      try {
        key = fileKey(await stat(path));
      } catch {
        continue; // vanished between listing and stat
      }
      present.add(key);
      const known = this.tailers.get(key);
      if (known) {
        known.path = path; // renamed but still matching: keep following it
        continue;
      }
      await this.openTailer(path, first);
    }
    // Files no longer reachable through the globs: finish them, then let go.
    for (const [key, tailer] of this.tailers) {
      if (present.has(key) || !tailer.atEof) continue;
      await tailer.readAvailable(() => this.stopping);
      await tailer.flushPartialLine();
      await tailer.close();
      this.tailers.delete(key);
      this.log.info({ event: 'file_released', path: tailer.path, ...tailer.position }, 'file rotated away or deleted: finished and closed');
    }
  }

  private async openTailer(path: string, firstScan: boolean): Promise<void> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      this.log.warn({ event: 'file_open_failed', path, err }, 'cannot open file; will retry at the next scan');
      return;
    }
    const stats = await handle.stat();
    const key = fileKey(stats);
    const start = await this.startPosition(key, path, stats.size, firstScan, handle);
    const cfg = this.opts.config;
    const tailer = new FileTailer({
      source: this.name,
      lane: this.opts.lane,
      path,
      fileKey: key,
      handle,
      start,
      parserFactory: FORMATS[cfg.format],
      parserOptions: { sensor: cfg.sensor },
      limit: this.limit,
      emit: (chunk) => this.subscriber?.next(chunk),
      logger: this.log,
    });
    this.tailers.set(key, tailer);
    this.log.info({ event: 'file_opened', path, offset: start.offset, line: start.line }, 'following file');
  }

  private async startPosition(
    key: string,
    path: string,
    size: number,
    firstScan: boolean,
    handle: import('node:fs/promises').FileHandle,
  ): Promise<TailerPosition> {
    const saved = this.checkpoints.get(key);
    if (saved) {
      const head = await readHead(handle, saved.headLen);
      if (head.hash === saved.headHash && saved.offset <= size) {
        return { offset: saved.offset, line: saved.line, parserState: saved.parserState };
      }
      this.log.warn(
        { event: 'checkpoint_mismatch', path, saved_path: saved.path },
        'file has the identity of a known file but different content or is shorter: reading it from the start',
      );
      return { offset: 0, line: 0, parserState: null };
    }
    if (firstScan && this.opts.config.start_at === 'end') {
      // Start after the last complete line, so the first line read is a whole one.
      const offset = await lastLineStart(handle, size);
      return { offset: offset.offset, line: 0, parserState: null };
    }
    return { offset: 0, line: 0, parserState: null };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

async function lastLineStart(handle: import('node:fs/promises').FileHandle, size: number): Promise<{ offset: number }> {
  const window = Math.min(size, 64 * 1024);
  const buffer = Buffer.alloc(window);
  await handle.read(buffer, 0, window, size - window);
  const nl = buffer.lastIndexOf(0x0a);
  return { offset: nl === -1 ? (size === window ? 0 : size) : size - window + nl + 1 };
}
