/**
 * Turns the PATH arguments of `backfill` into files: a file is itself, a folder means every
 * file below it (recursively), anything else is a glob. `.gz` files are included (read whole,
 * decompressed). Without --format, each file's format comes from its extension; an extension
 * that does not say is an argument error naming the file, never a guess.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';

export interface InputFile {
  path: string;
  format: string;
  bytes: number;
}

export class InputError extends Error {
  readonly code = 'SENSEYE_BACKFILL_INPUT';
}

const BY_EXTENSION: Record<string, string> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'senseye-json',
  '.csv': 'senseye-csv',
  '.lp': 'influx',
  '.influx': 'influx',
};

export function formatFor(file: string, explicit: string | null): string | null {
  if (explicit !== null) return explicit;
  const name = file.endsWith('.gz') ? file.slice(0, -3) : file;
  return BY_EXTENSION[path.extname(name).toLowerCase()] ?? null;
}

export async function expandInputs(args: readonly string[], format: string | null, cwd = process.cwd()): Promise<InputFile[]> {
  const found = new Map<string, InputFile>();
  const problems: string[] = [];
  for (const arg of args) {
    const absolute = path.resolve(cwd, arg);
    let paths: string[];
    let isDir = false;
    try {
      const st = statSync(absolute);
      isDir = st.isDirectory();
      paths = isDir ? await fg('**/*', { cwd: absolute, absolute: true, onlyFiles: true, dot: false }) : [absolute];
    } catch {
      paths = await fg(fg.convertPathToPattern(path.dirname(absolute)) + '/' + path.basename(absolute), { absolute: true, onlyFiles: true });
    }
    if (paths.length === 0) {
      problems.push(`${arg}: ${isDir ? 'folder holds no files' : 'no such file, and no file matches it as a pattern'}`);
      continue;
    }
    for (const p of paths.sort()) {
      const f = formatFor(p, format);
      if (f === null) {
        problems.push(`${p}: cannot tell its format from the extension; pass --format`);
        continue;
      }
      found.set(p, { path: p, format: f, bytes: statSync(p).size });
    }
  }
  if (problems.length > 0) throw new InputError(problems.join('\n'));
  return [...found.values()];
}
