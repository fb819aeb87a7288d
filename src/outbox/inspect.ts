/**
 * What the operator commands and the daemon read or do to the outbox database as a whole, kept
 * here so that src/outbox stays the only place that speaks SQL: its size on disk, every file
 * position, the hub's sensor ids, an integrity check, truncating the WAL, a probe write, writing
 * the open database back, and closing it at once.
 */
import { withoutFsync } from './db.js';
import type { Outbox } from './outbox.js';
import { writeBackCopy } from './write-back.js';
import { databaseOf } from './handle.js';

/** Bytes of the database file's pages (used and free). */
export function fileBytes(outbox: Outbox): number {
  const pageSize = databaseOf(outbox).pragma('page_size', { simple: true }) as number;
  const pages = databaseOf(outbox).pragma('page_count', { simple: true }) as number;
  return pageSize * pages;
}

/** Every committed file position, by source and path. */
export function allCheckpoints(outbox: Outbox): Array<{ source: string; path: string; offset: number; line: number; updatedAt: number }> {
  return databaseOf(outbox).prepare('SELECT source, path, offset, line, updated_at AS updatedAt FROM checkpoints ORDER BY source, path').all() as Array<{
    source: string;
    path: string;
    offset: number;
    line: number;
    updatedAt: number;
  }>;
}

/** Local sensor names, how they ingest, and the hub's id for each (null until created). */
export function hubSensors(outbox: Outbox): Array<{ name: string; ingest: string; hubId: string | null }> {
  return databaseOf(outbox).prepare('SELECT name, ingest, hub_id AS hubId FROM sensors ORDER BY name').all() as Array<{ name: string; ingest: string; hubId: string | null }>;
}

/** SQLite's full integrity check: "ok", or what is wrong. */
export function integrityCheck(outbox: Outbox): string {
  return String(databaseOf(outbox).pragma('integrity_check', { simple: true }));
}

/** Moves the WAL into the database and truncates it: the space deliveries freed goes back to the disk. */
export function truncateWal(outbox: Outbox): void {
  databaseOf(outbox).pragma('wal_checkpoint(TRUNCATE)');
}

/** A small write without its own fsync: throws while the disk is still full or failing. */
export function probeWrite(outbox: Outbox): void {
  withoutFsync(databaseOf(outbox), () => outbox.state.set('storage_probe', Date.now()));
}

/** Writes the open database to a temporary file beside `outbox.file` (write-back.ts). */
export function writeBackOpenOutbox(outbox: Outbox): { temp: string; movedAside: string | null } {
  return writeBackCopy(databaseOf(outbox), outbox.file);
}

/** Closes the connection at once, without a checkpoint (a second signal; a failed close). */
export function closeNow(outbox: Outbox): void {
  if (databaseOf(outbox).open) databaseOf(outbox).close();
}
