/**
 * How full the outbox may get. Two limits: its own size (`outbox.max_bytes`, live pages only:
 * delivered rows free their pages for reuse) and the free space left on the state directory's
 * filesystem (`outbox.min_free_disk`), because a full disk fails every write, the agent's and
 * everyone else's on the gateway. The free-disk guard is the first line of defence: it holds
 * commits before SQLite meets a full disk (which the writer then survives as a storage fault).
 * A state directory that is gone is a fault (`fault`), never an exception out of check().
 *
 * Once the disk was found full anyway (min_free_disk too low, or space taken by someone else),
 * the guard also keeps room to checkpoint the write-ahead log: free space of at least the WAL's
 * size plus CHECKPOINT_RESERVE. Without it, new readings refill whatever space returns, and
 * neither the checkpoint (which may grow the database by up to the WAL's size) nor deleting
 * delivered rows (which appends to the WAL) can run: the outbox would stay full for good.
 */
import type { Outbox } from './outbox.js';
import { statfsSync, statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { storageFaultOf, type StorageFaultKind } from './storage-fault.js';
import { databaseOf } from './handle.js';

export interface CapacityLimits {
  maxBytes: number;
  minFreeDiskBytes: number;
}

/** `fault`: not a limit reached but a storage fault met while checking (the directory is gone). */
export type CapacityCheck = { full: false } | { full: true; reason: string; fault?: StorageFaultKind };

/** Free space kept beyond the WAL's size after the disk was found full (room for deletions). */
export const CHECKPOINT_RESERVE = 1024 * 1024;

export class CapacityGuard {
  private keepRoom = false;

  constructor(
    private readonly db: Database,
    private readonly stateDir: string,
    private readonly limits: CapacityLimits,
  ) {}

  /** The guard of an outbox (callers outside src/outbox never hold the database itself). */
  static forOutbox(outbox: Outbox, stateDir: string, limits: CapacityLimits): CapacityGuard {
    return new CapacityGuard(databaseOf(outbox), stateDir, limits);
  }

  /** Bytes of pages in use (freed pages are reused before the file grows). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  freeDiskBytes(): number {
    const s = statfsSync(this.stateDir);
    return Number(s.bavail) * Number(s.bsize);
  }

  /** From now on keep room to checkpoint the WAL (called when a write met a full disk). */
  keepCheckpointRoom(): void {
    this.keepRoom = true;
  }

  get keepsCheckpointRoom(): boolean {
    return this.keepRoom;
  }

  /** Bytes of the write-ahead log file (0 when there is none). */
  walBytes(): number {
    try {
      return statSync(`${this.db.name}-wal`).size;
    } catch {
      return 0;
    }
  }

  check(): CapacityCheck {
    const used = this.usedBytes();
    if (used >= this.limits.maxBytes) {
      return { full: true, reason: `outbox holds ${used} bytes, at its outbox.max_bytes limit of ${this.limits.maxBytes}` };
    }
    let free: number;
    try {
      free = this.freeDiskBytes();
    } catch (err) {
      const fault = storageFaultOf(err) ?? 'io_error';
      return { full: true, fault, reason: `cannot read the free space of ${this.stateDir}: ${(err as Error).message}` };
    }
    if (free < this.limits.minFreeDiskBytes) {
      return {
        full: true,
        reason: `only ${free} bytes free on the filesystem of ${this.stateDir}, below outbox.min_free_disk (${this.limits.minFreeDiskBytes})`,
      };
    }
    if (this.keepRoom) {
      const wal = this.walBytes();
      if (free < wal + CHECKPOINT_RESERVE) {
        return {
          full: true,
          reason:
            `only ${free} bytes free on the filesystem of ${this.stateDir}: after the disk was full, the agent keeps room to checkpoint ` +
            `its write-ahead log (${wal} bytes) plus ${CHECKPOINT_RESERVE} (raise outbox.min_free_disk to keep the disk from filling)`,
        };
      }
    }
    return { full: false };
  }
}
