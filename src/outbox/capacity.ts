/**
 * How full the outbox may get. Two limits: its own size (`outbox.max_bytes`, live pages only:
 * delivered rows free their pages for reuse) and the free space left on the state directory's
 * filesystem (`outbox.min_free_disk`), because a full disk fails every write, the agent's and
 * everyone else's on the gateway.
 */
import { statfsSync } from 'node:fs';
import type { Database } from 'better-sqlite3';

export interface CapacityLimits {
  maxBytes: number;
  minFreeDiskBytes: number;
}

export type CapacityCheck = { full: false } | { full: true; reason: string };

export class CapacityGuard {
  constructor(
    private readonly db: Database,
    private readonly stateDir: string,
    private readonly limits: CapacityLimits,
  ) {}

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

  check(): CapacityCheck {
    const used = this.usedBytes();
    if (used >= this.limits.maxBytes) {
      return { full: true, reason: `outbox holds ${used} bytes, at its outbox.max_bytes limit of ${this.limits.maxBytes}` };
    }
    const free = this.freeDiskBytes();
    if (free < this.limits.minFreeDiskBytes) {
      return {
        full: true,
        reason: `only ${free} bytes free on the filesystem of ${this.stateDir}, below outbox.min_free_disk (${this.limits.minFreeDiskBytes})`,
      };
    }
    return { full: false };
  }
}
