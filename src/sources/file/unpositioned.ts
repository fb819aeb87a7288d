/**
 * Which files of a file source have no committed position right now, and where the source will
 * start them: after file positions were lost with a damaged outbox, the operator is told how
 * many files are read again. Counted before the sources start (they commit positions as they
 * read), with the same globs, exclusions and identity (device:inode) the source uses.
 */
import { statSync } from 'node:fs';
import fg from 'fast-glob';
import type { FileSourceConfig } from '../../config/sources-schema.js';
import { ignorePatterns, toList } from './discovery.js';
import { fileKey } from './fingerprint.js';

export interface Unpositioned {
  source: string;
  files: number;
  /** `start_at` applies only to a source with no positions at all (file-source.ts). */
  from: 'beginning' | 'end';
}

export function unpositionedFiles(
  source: FileSourceConfig,
  positions: { count: number; has: (fileKey: string) => boolean },
): Unpositioned {
  const paths = fg.sync(toList(source.path), { absolute: true, onlyFiles: true, unique: true, suppressErrors: true, ignore: ignorePatterns(toList(source.exclude)) });
  let files = 0;
  for (const p of paths) {
    try {
      if (!positions.has(fileKey(statSync(p)))) files++;
    } catch {
      // vanished between listing and stat
    }
  }
  return { source: source.name, files, from: positions.count === 0 && source.start_at === 'end' ? 'end' : 'beginning' };
}
