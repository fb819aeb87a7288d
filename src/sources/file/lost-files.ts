/**
 * At start: files followed in an earlier run that no longer match the globs under any name
 * (rotated to a name outside the globs while the agent was stopped) are looked for by identity
 * in the folder they were last seen in. One that is found, is still the same content and has
 * unread bytes is read to its end, so lines written just before a rotation are not lost.
 * A file whose last path still leads to it was left out of the globs on purpose: not touched.
 *
 * While running, the same search is made for files the source closed at their end (to save
 * descriptors) that then stopped matching (`only` those keys): such a file is returned even
 * with nothing unread, to be followed for rotate_wait like a rotated file that was kept open.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { fileKey, isIdentityKey } from './fingerprint.js';
import type { PositionBook } from './positions.js';

export interface LostFile {
  key: string;
  path: string;
}

export async function findLostFiles(book: PositionBook, present: Set<string>, log: Logger, only?: ReadonlySet<string>): Promise<LostFile[]> {
  const wanted = new Map<string, string[]>();
  const positions = only === undefined ? [...book.all()] : [...only].flatMap((k) => book.get(k) ?? []);
  for (const p of positions) {
    if (!isIdentityKey(p.key) || present.has(p.key)) continue;
    try {
      if (fileKey(await stat(p.path)) === p.key) continue; // still there under its name: excluded on purpose
    } catch {
      // gone from its path: look for it
    }
    const dir = path.dirname(p.path);
    let keys = wanted.get(dir);
    if (keys === undefined) wanted.set(dir, (keys = []));
    keys.push(p.key);
  }
  const found: LostFile[] = [];
  for (const [dir, keys] of wanted) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    const want = new Set(keys);
    for (const name of names) {
      const full = path.join(dir, name);
      try {
        const s = await stat(full);
        const key = fileKey(s);
        const known = book.get(key);
        if (!s.isFile() || !want.has(key) || known === undefined || (only === undefined && s.size <= known.offset)) continue;
        found.push({ key, path: full });
        log.info({ event: 'file_found_rotated', path: full, was: known.path }, 'a file read before was rotated away (while the agent was stopped, or while the file was closed at its end): reading its rest');
      } catch {
        // vanished meanwhile
      }
    }
  }
  return found;
}
