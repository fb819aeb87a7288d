/**
 * Lists the files a file source follows: every match of its globs, minus `exclude`, with
 * their identity. Sorted by path, so files are opened in a stable order. A file that vanishes
 * between listing and stat is simply not there this time.
 *
 * A listing during which a folder could not be read for want of file descriptors
 * (EMFILE/ENFILE) is incomplete, and says so (`exhausted`): the caller must not take the files
 * it lacks for gone, nor an empty result for "nothing matches". fast-glob suppresses such
 * errors (it has to: a folder may vanish while it walks), so its readdir is wrapped to see them.
 */
import { readdir as fsReaddir, type Dirent } from 'node:fs';
import type { Stats } from 'node:fs';
import fg from 'fast-glob';
import { isDescriptorExhaustion } from '../descriptors.js';
import { eachConcurrently } from '../each-concurrently.js';
import type { SymlinkPolicy } from './symlinks.js';

export interface FoundFile {
  path: string;
  stats: Stats;
}

export interface Listing {
  found: FoundFile[];
  /** Set when a folder could not be listed for want of descriptors: the listing is incomplete. */
  exhausted: NodeJS.ErrnoException | null;
}

export function toList(p: string | string[] | undefined): string[] {
  return p === undefined ? [] : Array.isArray(p) ? p : [p];
}

/** Exclude patterns without "/" match file names in any folder. */
export function ignorePatterns(exclude: string[]): string[] {
  return exclude.map((g) => (g.includes('/') ? g : `**/${g}`));
}

type ReaddirCallback = (err: NodeJS.ErrnoException | null, entries: Dirent[] | string[]) => void;

/** fast-glob's readdir, noting a failure for want of descriptors before passing it on. */
export function watchedReaddir(onExhausted: (err: NodeJS.ErrnoException) => void) {
  return (dir: string, ...rest: unknown[]): void => {
    const callback = rest.pop() as ReaddirCallback;
    const done: ReaddirCallback = (err, entries) => {
      if (err !== null && isDescriptorExhaustion(err)) onExhausted(err);
      callback(err, entries);
    };
    if (rest.length === 0) fsReaddir(dir, done as (err: NodeJS.ErrnoException | null, files: string[]) => void);
    else fsReaddir(dir, { withFileTypes: true }, done as (err: NodeJS.ErrnoException | null, files: Dirent[]) => void);
  };
}

export async function listFiles(patterns: string[], exclude: string[], symlinks: SymlinkPolicy): Promise<Listing> {
  let exhausted: NodeJS.ErrnoException | null = null;
  // Links must be seen to be reported: every entry but folders, each judged by lstat below.
  const entries = await fg(patterns, {
    absolute: true,
    onlyFiles: false,
    markDirectories: true,
    unique: true,
    suppressErrors: true,
    followSymbolicLinks: symlinks.follow,
    ignore: ignorePatterns(exclude),
    fs: { readdir: watchedReaddir((err) => (exhausted = err)) as never },
  });
  const paths = entries.filter((e) => !e.endsWith('/')).sort();
  // stat() takes no descriptor; many at once hide the thread pool's latency (20,000 files one
  // after the other took seconds per look on a busy machine).
  const stats: Array<Stats | null> = new Array<Stats | null>(paths.length).fill(null);
  await eachConcurrently(
    paths.map((p, i) => [p, i] as const),
    STAT_CONCURRENCY,
    async ([p, i]) => {
      stats[i] = await symlinks.regularFile(p);
    },
  );
  const found: FoundFile[] = [];
  for (let i = 0; i < paths.length; i++) if (stats[i] !== null) found.push({ path: paths[i]!, stats: stats[i]! });
  return { found, exhausted };
}

const STAT_CONCURRENCY = 16;
