/**
 * Writes the open outbox back to its path after `outbox.db` or its state directory was
 * deleted or replaced under the running agent (file-identity.ts). Invariant: what the agent
 * committed (readings, file positions, counters) ends up at the path, and nothing is
 * overwritten: a file that now stands there is moved aside with a timestamp (with its -wal and
 * -shm). The copy is made with `VACUUM INTO` a temporary file next to the path, synced, then
 * renamed into place, so a crash midway leaves either no outbox or a whole one. A state
 * directory that is gone is made again with mode 0700.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Database } from 'better-sqlite3';

/** Step 1 (before the open connection closes): the copy next to the path, and the stranger moved aside. */
export function writeBackCopy(db: Database, file: string, now = new Date()): { temp: string; movedAside: string | null } {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.restoring`;
  rmSync(temp, { force: true });
  db.prepare('VACUUM INTO ?').run(temp);
  fsyncFile(temp);
  let movedAside: string | null = null;
  if (existsSync(file)) {
    movedAside = `${file}.replaced-${now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(file, movedAside);
  }
  // The -wal / -shm at the path are the stranger's (or leftovers): they must not be applied to the copy.
  for (const suffix of ['-wal', '-shm']) {
    if (!existsSync(file + suffix)) continue;
    if (movedAside !== null) renameSync(file + suffix, movedAside + suffix);
    else rmSync(file + suffix, { force: true });
  }
  return { temp, movedAside };
}

/** Step 2 (after the open connection closed, so its close cannot touch the path's -wal): the copy into place. */
export function writeBackFinish(temp: string, file: string): void {
  renameSync(temp, file);
  fsyncFile(path.dirname(file));
}

function fsyncFile(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
