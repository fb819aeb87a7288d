/**
 * Opens the outbox database with the pragmas durability depends on, and reads each one back:
 * SQLite ignores a pragma it cannot apply (WAL on some filesystems, for one) without an error,
 * so trusting the request would be trusting a silent no-op (Litestream does the same check).
 * A read-only open works on a full disk too (openWithoutSharedMemory), so `status` and
 * `outbox doctor` can say what is in the outbox when the agent cannot start.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isAlive } from './liveness.js';
import { migrate, requireCurrentSchema, SCHEMA_VERSION } from './migrations.js';

export type Synchronous = 'full' | 'normal';

export interface OpenOptions {
  synchronous?: Synchronous;
  readonly?: boolean;
  /** How long to wait for another process's write lock (backfill and daemon share a state dir). */
  busyTimeoutMs?: number;
  /**
   * Upgrade the schema even if an agent seems to be running on this outbox. The daemon (`run`)
   * does: it owns the outbox. Other commands refuse, since an agent of the older version still
   * running would fail on the new schema (upgradingIsSafe).
   */
  upgradeInUse?: boolean;
  /** SQLite's page cache for this connection, in bytes (outbox.cache_size; default 8,000 KiB). */
  cacheBytes?: number;
}

/** The page cache of each outbox connection unless outbox.cache_size says otherwise. */
export const DEFAULT_CACHE_BYTES = 8000 * 1024;

/**
 * The outbox's own refusals (SENSEYE_OUTBOX_*: cannot open, schema too old or too new, a failed
 * upgrade, an agent running on it): each says what to do, and none means the file is damaged.
 */
export function isOutboxRefusal(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('SENSEYE_OUTBOX_');
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

/**
 * The state holds raw input (dead letters) and the hub's sensor ids: only the agent's user may
 * read it, whatever the umask. A folder or file someone else owns is left as it is (chmod would
 * fail); the agent only tightens, never loosens.
 */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  tighten(dir, 0o700);
}

function createPrivateFile(file: string): void {
  try {
    closeSync(openSync(file, 'a', 0o600));
  } catch {
    return; // the open below reports why
  }
  makePrivateFile(file);
}

export function makePrivateFile(file: string): void {
  if (existsSync(file)) tighten(file, 0o600);
}

function tighten(target: string, mode: number): void {
  try {
    const current = statSync(target).mode & 0o777;
    if ((current & ~mode) !== 0) chmodSync(target, current & mode);
  } catch {
    // Not ours to change (another owner) or gone: the open that follows says what matters.
  }
}

export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  const readonly = options.readonly ?? false;
  if (!readonly && file !== ':memory:' && file !== '') {
    makePrivateDir(path.dirname(file));
    // Created here, 0600, before SQLite opens it: SQLite gives its journal, -wal and -shm files
    // the database file's mode, so none of them is ever readable by others, even for a moment.
    createPrivateFile(file);
  }
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
      if (!sharedMemoryFailed(err)) throw err;
      db = openWithoutSharedMemory(file);
      try {
        requireCurrentSchema(db, file);
      } catch (again) {
        db.close();
        throw again;
      }
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
  // A bounded page cache keeps memory flat however large the backlog grows (negative: KiB).
  db.pragma(`cache_size = -${Math.max(64, Math.round((options.cacheBytes ?? DEFAULT_CACHE_BYTES) / 1024))}`);
  db.pragma('temp_store = MEMORY');
  try {
    if (options.upgradeInUse !== true) upgradingIsSafe(db, file);
    const { from, to } = migrate(db);
    // An upgrade may have rewritten a table (version 4 copies the readings): its pages are in
    // the WAL, which would otherwise keep that size until the next clean stop.
    if (from > 0 && to > from) db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (err) {
    db.close();
    throw err;
  }
  for (const suffix of ['-wal', '-shm']) makePrivateFile(file + suffix);
  return db;
}

/**
 * A read-only reader of a WAL database needs its -shm file, and creates it when no process has
 * the database open; on a full disk that fails (SQLITE_IOERR_SHMSIZE, or SQLITE_FULL).
 */
function sharedMemoryFailed(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_IOERR_SHM') || code === 'SQLITE_FULL' || code === 'SQLITE_READONLY_CANTINIT');
}

/**
 * Reads a WAL database without a -shm file: in exclusive locking mode SQLite keeps the WAL
 * index in memory instead. A read-only connection cannot take that mode, so the connection is
 * opened for writing and made `query_only` (SQLite refuses every write on it). Only for a
 * database no process has open (its -shm could not even be made): the exclusive lock would
 * hold a running agent's writes up for as long as the reader runs.
 */
function openWithoutSharedMemory(file: string): Database.Database {
  const db = new Database(file, { fileMustExist: true });
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('query_only = 1');
  return db;
}

/**
 * Refuses to upgrade the schema under what looks like a running agent of an older version: the
 * last one to start has not stopped cleanly and its pid (recorded with its delivery state) is
 * alive. Best effort (an agent that has recorded no pid yet is not seen); docs/operations.md,
 * "Upgrading", says to restart the agent before other commands.
 */
function upgradingIsSafe(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version < 2 || version >= SCHEMA_VERSION) return; // a new file, or nothing to upgrade (the state table came with 2)
  const value = (key: string) => db.prepare('SELECT value FROM state WHERE key = ?').pluck().get(key) as string | undefined;
  if (value('clean_shutdown') !== 'false') return;
  const pid = (JSON.parse(value('delivery.0') ?? '{}') as { pid?: unknown }).pid;
  if (typeof pid !== 'number' || pid === process.pid || !isAlive(pid)) return;
  throw Object.assign(
    new Error(
      `outbox ${file} has schema version ${version} and an agent (pid ${pid}) seems to run on it: restart that agent on this ` +
        `version first (it upgrades the outbox to version ${SCHEMA_VERSION}), then run this command again`,
    ),
    { code: 'SENSEYE_OUTBOX_IN_USE' },
  );
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
