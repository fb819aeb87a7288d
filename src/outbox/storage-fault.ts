/**
 * Storage faults: the state directory's disk is full, a file size limit or an I/O error fails
 * writes, the state directory or `outbox.db` was deleted or replaced under the running agent.
 * Invariant: every such fault is a value here (its kind, its reason, when it began), logged
 * once when it begins (`storage_fault`) and once when it ends (`storage_fault_cleared`), counted
 * (write failures by operation), and shown by /readyz and the `storage_fault{reason}` metric
 * while it lasts; none is ever an uncaught exception. Whoever meets one reports it; whoever
 * sees a write succeed again clears the kinds a write can clear.
 */
import { statfsSync } from 'node:fs';
import type { Logger } from 'pino';

export type StorageFaultKind = 'disk_full' | 'io_error' | 'state_dir_missing' | 'outbox_replaced';

/**
 * Where a write failed: committing readings (the writer), deleting delivered ones (an
 * acknowledgement), or bookkeeping that may be skipped (in-flight ledger, informational state).
 */
export type WriteOperation = 'commit' | 'ack' | 'state';

const HINTS: Record<StorageFaultKind, string> = {
  disk_full: 'free space on the filesystem of state_dir; the agent goes on by itself',
  io_error: 'check the disk (dmesg) and any file size limit on the agent (ulimit -f, LimitFSIZE=); the agent retries by itself',
  state_dir_missing: 'the agent writes its open outbox back to state_dir and exits 75 to be restarted on it',
  outbox_replaced: 'the agent writes its open outbox back (the other file is moved aside) and exits 75 to be restarted on it',
};

/** The storage fault an error is, or null when it is not one (a programmer error, a constraint). */
export function storageFaultOf(err: unknown): StorageFaultKind | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  // IOERR_SHMSIZE: the -shm file could not be extended, which on a full disk is what SQLite says.
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_IOERR_SHMSIZE') return 'disk_full';
  if (code === 'SQLITE_READONLY_DBMOVED') return 'outbox_replaced';
  if (code === 'ENOENT') return 'state_dir_missing';
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO' || code === 'EFBIG' || code === 'SQLITE_CANTOPEN' || code === 'EROFS' || code === 'SQLITE_READONLY') {
    return 'io_error';
  }
  return null;
}

/** Fewer free bytes than this on the state directory's filesystem make an I/O error a full disk. */
const NEARLY_FULL = 256 * 1024;

/**
 * The fault `err` is, looking at the disk too: SQLite reports some writes on a full disk as
 * I/O errors (a -shm or -wal file that cannot grow).
 */
export function storageFaultAt(err: unknown, stateDir: string): StorageFaultKind | null {
  const kind = storageFaultOf(err);
  if (kind !== 'io_error') return kind;
  try {
    const s = statfsSync(stateDir);
    return Number(s.bavail) * Number(s.bsize) < NEARLY_FULL ? 'disk_full' : kind;
  } catch {
    return kind;
  }
}

/** One line for an operator at start: what failed and what to do (the agent exits 75 to be started again). */
export function describeStartupStorageError(err: unknown, stateDir: string): string {
  const kind = storageFaultAt(err, stateDir) ?? 'io_error';
  const e = err as { code?: string; message?: string };
  const what =
    kind === 'disk_full'
      ? `the filesystem of ${stateDir} is full`
      : kind === 'state_dir_missing'
        ? `${stateDir} is missing`
        : `the outbox in ${stateDir} cannot be written`;
  const todo =
    kind === 'disk_full'
      ? 'free space there (or raise outbox.min_free_disk so the outbox stops short of it)'
      : kind === 'state_dir_missing'
        ? 'create it, writable by the agent user'
        : 'check the disk (dmesg) and any file size limit on the agent (ulimit -f, LimitFSIZE=)';
  return `${what} (${e.code ?? 'error'}: ${e.message ?? String(err)}): ${todo}; then start the agent again (exit 75: systemd restarts it)`;
}

export interface ActiveFault {
  kind: StorageFaultKind;
  reason: string;
  since: number;
}

export class StorageFaults {
  private readonly active = new Map<StorageFaultKind, ActiveFault>();
  /** Failed writes since start, by operation. */
  readonly writeFailures: Record<WriteOperation, number> = { commit: 0, ack: 0, state: 0 };

  /** Called after every failed write (the agent then checks that outbox.db is still its file). */
  onWriteFailed: (() => void) | null = null;

  /** `stateDir`: where to look when SQLite says I/O error for what is a full disk. */
  constructor(
    private readonly log: Logger,
    private readonly stateDir?: string,
  ) {}

  /** A write failed with `err`; returns the fault kind it was recorded as (null: not a storage error). */
  writeFailed(err: unknown, operation: WriteOperation): StorageFaultKind | null {
    this.writeFailures[operation]++;
    const kind = this.stateDir === undefined ? storageFaultOf(err) : storageFaultAt(err, this.stateDir);
    if (kind !== null) this.report(kind, `${operation} failed: ${(err as { code?: string }).code}: ${(err as Error).message}`);
    this.onWriteFailed?.();
    return kind;
  }

  report(kind: StorageFaultKind, reason: string): void {
    if (this.active.has(kind)) return;
    this.active.set(kind, { kind, reason, since: Date.now() });
    this.log.error({ event: 'storage_fault', kind, reason, hint: HINTS[kind] }, `storage fault (${kind}): ${reason}; ${HINTS[kind]}`);
  }

  /** A write succeeded: the faults a write can show (disk full, I/O error) are over. */
  writeSucceeded(): void {
    for (const kind of ['disk_full', 'io_error'] as const) {
      const fault = this.active.get(kind);
      if (fault === undefined) continue;
      this.active.delete(kind);
      this.log.info({ event: 'storage_fault_cleared', kind, ms: Date.now() - fault.since }, `storage fault (${kind}) is over: writes succeed again`);
    }
  }

  has(kind: StorageFaultKind): boolean {
    return this.active.has(kind);
  }

  list(): ActiveFault[] {
    return [...this.active.values()];
  }

  /** The first active fault as one line (for /readyz), or null. */
  reason(): string | null {
    const first = this.active.values().next();
    return first.done === true ? null : `storage fault (${first.value.kind}): ${first.value.reason}`;
  }
}
