/**
 * Whether a file or spool source reads what a symbolic link points to. By default it does not:
 * a link dropped into a watched folder could otherwise make the agent (often root on a gateway)
 * read a file it was never meant to, deliver its lines and put the rest into dead letters.
 * With `follow_symlinks: true` a link is followed only to a regular file. Every link skipped is
 * logged once, with where it points. Opening uses O_NOFOLLOW, so a file swapped for a link
 * between the listing and the open is refused too.
 */
import { constants } from 'node:fs';
import { lstat, readlink, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { Logger } from 'pino';

export class SymlinkPolicy {
  private readonly reported = new Set<string>();

  constructor(
    readonly follow: boolean,
    private readonly log: Logger,
  ) {}

  /** Flags for open(): without following, a link at the path fails with ELOOP. */
  get openFlags(): number {
    return constants.O_RDONLY | (this.follow ? 0 : constants.O_NOFOLLOW);
  }

  /** The stats of a regular file to read at `file`, or null when the policy skips it (or it is gone). */
  async regularFile(file: string): Promise<Stats | null> {
    let s: Stats;
    try {
      s = await lstat(file);
    } catch {
      return null; // vanished between listing and look
    }
    if (!s.isSymbolicLink()) return s.isFile() ? s : null;
    if (!this.follow) {
      await this.skipped(file, 'symbolic links are not followed (set follow_symlinks: true to read their targets)');
      return null;
    }
    try {
      const target = await stat(file);
      if (target.isFile()) return target;
      await this.skipped(file, 'it points to something that is not a regular file');
    } catch {
      await this.skipped(file, 'it points to nothing');
    }
    return null;
  }

  private async skipped(file: string, why: string): Promise<void> {
    if (this.reported.has(file)) return;
    this.reported.add(file);
    const target = await readlink(file).catch(() => null);
    this.log.warn({ event: 'symlink_skipped', path: file, target }, `skipped the symbolic link ${file}${target === null ? '' : ` -> ${target}`}: ${why}`);
  }
}
