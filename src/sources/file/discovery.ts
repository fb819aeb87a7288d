/**
 * Lists the files a file source follows: every match of its globs, minus `exclude`, with
 * their identity. Sorted by path, so files are opened in a stable order. A file that vanishes
 * between listing and stat is simply not there this time.
 */
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import fg from 'fast-glob';

export interface FoundFile {
  path: string;
  stats: Stats;
}

export function toList(p: string | string[] | undefined): string[] {
  return p === undefined ? [] : Array.isArray(p) ? p : [p];
}

/** Exclude patterns without "/" match file names in any folder. */
export function ignorePatterns(exclude: string[]): string[] {
  return exclude.map((g) => (g.includes('/') ? g : `**/${g}`));
}

export async function discover(patterns: string[], exclude: string[]): Promise<FoundFile[]> {
  const paths = await fg(patterns, {
    absolute: true,
    onlyFiles: true,
    unique: true,
    suppressErrors: true,
    ignore: ignorePatterns(exclude),
  });
  const found: FoundFile[] = [];
  for (const path of paths.sort()) {
    try {
      const stats = await stat(path);
      if (stats.isFile()) found.push({ path, stats });
    } catch {
      // vanished between listing and stat
    }
  }
  return found;
}
