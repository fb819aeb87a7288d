/**
 * Space upkeep of the outbox file. Delivered rows are already gone (the outbox deletes a row in
 * the transaction that acknowledges it), so "removing delivered rows" leaves free pages behind:
 * SQLite reuses them for new readings but never gives them back to the filesystem on its own.
 * The outbox is created with auto_vacuum=INCREMENTAL, so `PRAGMA incremental_vacuum(N)` returns
 * up to N free pages from the end of the file.
 *
 * Bounds, because better-sqlite3 is synchronous and runs on the agent's event loop (measured
 * here: ~17 µs per page moved): pages are reclaimed in chunks with a yield to the event loop
 * between them, at most `maxPagesPerRun` per run, and a slack of free pages is kept for the
 * next readings so the file does not shrink only to grow again. Moving pages writes them to the
 * WAL, so a PASSIVE checkpoint follows (it never waits for readers such as `status`).
 */
import type { Database } from 'better-sqlite3';
import type { Outbox } from './outbox.js';
import { databaseOf } from './handle.js';

export interface ReclaimOptions {
  /** Free pages left in place for new readings (default 1024, 4 MiB at 4 KiB pages). */
  slackPages?: number;
  /** Pages per incremental_vacuum call (default 2048, ~35 ms). */
  chunkPages?: number;
  /** Pages per run at most (default 65536, 256 MiB at 4 KiB pages). */
  maxPagesPerRun?: number;
  /** Between chunks; yields to the event loop by default. */
  pause?: () => Promise<void>;
}

export interface ReclaimResult {
  pageSize: number;
  freePagesBefore: number;
  freePagesAfter: number;
  reclaimedBytes: number;
}

export interface CheckpointResult {
  /** 1 when a reader or writer kept the checkpoint from finishing (PASSIVE does not wait). */
  busy: number;
  /** Frames in the WAL. */
  walFrames: number;
  /** Frames copied into the database. */
  checkpointedFrames: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function reclaimFreePages(db: Database, options: ReclaimOptions = {}): Promise<ReclaimResult> {
  const slack = options.slackPages ?? 1024;
  const chunk = Math.max(1, options.chunkPages ?? 2048);
  const max = options.maxPagesPerRun ?? 65_536;
  const pause = options.pause ?? yieldToEventLoop;
  const pageSize = pragmaNumber(db, 'page_size');
  const before = pragmaNumber(db, 'freelist_count');
  let budget = Math.min(max, Math.max(0, before - slack));
  while (budget > 0 && db.open) {
    const n = Math.min(chunk, budget);
    db.pragma(`incremental_vacuum(${n})`);
    budget -= n;
    if (budget > 0) await pause();
  }
  const after = db.open ? pragmaNumber(db, 'freelist_count') : before;
  if (after < before && db.open) checkpointWal(db);
  return { pageSize, freePagesBefore: before, freePagesAfter: after, reclaimedBytes: Math.max(0, before - after) * pageSize };
}

export function checkpointWal(db: Database): CheckpointResult {
  const row = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
  const r = row[0] ?? { busy: 0, log: 0, checkpointed: 0 };
  return { busy: r.busy, walFrames: r.log, checkpointedFrames: r.checkpointed };
}

function pragmaNumber(db: Database, name: string): number {
  return Number(db.pragma(name, { simple: true }));
}

/** The same, for an Outbox: callers outside src/outbox never hold the database itself. */
export function reclaimOutbox(outbox: Outbox, options: ReclaimOptions = {}): Promise<ReclaimResult> {
  return reclaimFreePages(databaseOf(outbox), options);
}

export function checkpointOutbox(outbox: Outbox): CheckpointResult {
  return checkpointWal(databaseOf(outbox));
}
