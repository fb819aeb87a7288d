/**
 * Files of the `file` source closed at their end while they still match (to give their
 * descriptor back): kept with the size and mtime they had, so a scan that sees them change
 * queues them again (placed by identity, like at a restart), and one that no longer finds them
 * looks for them by identity in their folder, like a file rotated away while the agent was down.
 */
import type { Stats } from 'node:fs';
import type { Logger } from 'pino';
import { findLostFiles } from './lost-files.js';
import type { PositionBook } from './positions.js';
import type { FileTailer } from './tailer.js';

interface DormantFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** It ended with an unterminated line (flushed by a backfill's finish). */
  partial: boolean;
}

export class DormantFiles {
  private readonly files = new Map<string, DormantFile>();

  constructor(
    private readonly book: PositionBook,
    private readonly log: Logger,
  ) {}

  /** A tailer at its end, about to be closed. */
  add(tailer: FileTailer): void {
    const { size, mtimeMs } = tailer.lastSeen;
    this.files.set(tailer.fileKey, { path: tailer.path, size, mtimeMs, partial: tailer.partialBytes > 0 });
  }

  /** Forgets a file (it is opened again); true when it was dormant. */
  wake(key: string): boolean {
    return this.files.delete(key);
  }

  /** Seen by a scan at `path`: true when it has not changed since it was closed (stays dormant). */
  unchanged(key: string, path: string, stats: Stats): boolean {
    const file = this.files.get(key);
    if (file === undefined || file.size !== stats.size || file.mtimeMs !== stats.mtimeMs) return false;
    file.path = path;
    return true;
  }

  /** Files that ended with an unterminated line, to be flushed at a backfill's end. */
  *withPartialLine(): Iterable<[key: string, path: string]> {
    for (const [key, f] of this.files) if (f.partial) yield [key, f.path];
  }

  /**
   * Dormant files a scan did not find (`present` holds what it found): looked for by identity
   * in their folder; found ones are handed to `queue`, the rest forgotten as deleted.
   */
  async lookForGone(present: Set<string>, queue: (key: string, path: string) => void): Promise<void> {
    const gone = new Set<string>();
    for (const key of this.files.keys()) if (!present.has(key)) gone.add(key);
    if (gone.size === 0) return;
    const found = new Set<string>();
    for (const lost of await findLostFiles(this.book, present, this.log, gone)) {
      queue(lost.key, lost.path);
      found.add(lost.key);
    }
    for (const key of gone) {
      this.files.delete(key);
      if (!found.has(key)) this.book.setLive(key, false); // deleted: a copy of it is no longer a copy of a followed file
    }
  }
}
