/**
 * Opens the outbox database with the pragmas durability depends on, and reads each one back:
 * SQLite ignores a pragma it cannot apply (WAL on some filesystems, for one) without an error,
 * so trusting the request would be trusting a silent no-op (Litestream does the same check).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate, requireCurrentSchema } from './migrations.js';

export type Synchronous = 'full' | 'normal';

export interface OpenOptions {
  synchronous?: Synchronous;
  readonly?: boolean;
  /** How long to wait for another process's write lock (backfill and daemon share a state dir). */
  busyTimeoutMs?: number;
}

export class OutboxOpenError extends Error {
  readonly code = 'SENSEYE_OUTBOX_OPEN';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message} (${hint})`);
  }
}

export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  const readonly = options.readonly ?? false;
  if (!readonly) mkdirSync(path.dirname(file), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly });
  } catch (err) {
    throw new OutboxOpenError(
      `cannot open outbox ${file}: ${(err as Error).message}`,
      'check that state_dir exists and is writable by the agent user',
    );
  }
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  if (readonly) {
    try {
      requireCurrentSchema(db, file);
    } catch (err) {
      db.close();
      throw err;
    }
    return db;
  }

  // auto_vacuum only takes effect before the first table exists; on an existing file it is a no-op.
  db.pragma('auto_vacuum = INCREMENTAL');
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (String(mode).toLowerCase() !== 'wal') {
    db.close();
    throw new OutboxOpenError(
      `outbox ${file} could not be switched to WAL (journal_mode is ${String(mode)})`,
      'put state_dir on a local filesystem; network filesystems do not support WAL',
    );
  }
  const wanted = options.synchronous ?? 'full';
  db.pragma(`synchronous = ${wanted.toUpperCase()}`);
  const sync = db.pragma('synchronous', { simple: true });
  const expected = wanted === 'full' ? 2 : 1;
  if (sync !== expected) {
    db.close();
    throw new OutboxOpenError(`outbox ${file}: synchronous=${wanted} did not take (read back ${String(sync)})`, 'report this as a bug');
  }
  // A bounded page cache keeps memory flat however large the backlog grows.
  db.pragma('cache_size = -8000');
  db.pragma('temp_store = MEMORY');
  migrate(db);
  return db;
}

/**
 * Runs `work` (one transaction) without the fsync of synchronous=FULL, for commits whose loss
 * in a power failure costs duplicates, never readings: acknowledgements. In WAL mode such a
 * commit is in the log in order, made durable by the next FULL commit or checkpoint; a process
 * that is killed loses nothing (the OS holds it). An fsync here costs ~2 ms (measured), one per
 * request answered, on the thread that also ingests.
 */
export function withoutFsync<T>(db: Database.Database, work: () => T): T {
  if (db.pragma('synchronous', { simple: true }) !== 2 || db.inTransaction) return work();
  db.pragma('synchronous = NORMAL');
  try {
    return work();
  } finally {
    db.pragma('synchronous = FULL');
  }
}
