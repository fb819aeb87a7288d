/**
 * Whether `outbox.db` on disk is still the file the agent has open. SQLite keeps writing to an
 * open file that was deleted or replaced, without an error: every commit from then on goes to a
 * file nobody will open again, and a restart starts from nothing (every input read again).
 * Invariant: the path's device and inode are compared with those taken right after opening,
 * every few seconds and whenever a write fails; the first difference is reported once.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { StorageFaultKind } from './storage-fault.js';

export interface FileIdentity {
  dev: number;
  ino: number;
}

export type IdentityLoss = { kind: Extract<StorageFaultKind, 'state_dir_missing' | 'outbox_replaced'>; reason: string };

export function identityOf(file: string): FileIdentity {
  const s = statSync(file);
  return { dev: s.dev, ino: s.ino };
}

/** What happened to `file` since it was `opened`, or null when it is still the same file. */
export function identityLoss(file: string, opened: FileIdentity): IdentityLoss | null {
  let now: FileIdentity;
  try {
    now = identityOf(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return null; // cannot tell (EACCES, EIO): not a loss
    const dir = path.dirname(file);
    let dirThere = true;
    try {
      dirThere = statSync(dir).isDirectory();
    } catch {
      dirThere = false;
    }
    return dirThere
      ? { kind: 'outbox_replaced', reason: `${file} was deleted while the agent had it open` }
      : { kind: 'state_dir_missing', reason: `state_dir ${dir} was deleted while the agent had its outbox open` };
  }
  if (now.dev === opened.dev && now.ino === opened.ino) return null;
  return { kind: 'outbox_replaced', reason: `${file} was replaced by another file while the agent had it open` };
}

/** Remembers the first loss, so it is reported once. */
export class OutboxFileWatch {
  private lost: IdentityLoss | null = null;

  constructor(
    private readonly file: string,
    private readonly opened: FileIdentity,
    private readonly onLost: (loss: IdentityLoss) => void,
  ) {}

  /** The loss seen, if any. */
  get loss(): IdentityLoss | null {
    return this.lost;
  }

  /** Compares now; reports (once) and returns the loss, or null. */
  check(): IdentityLoss | null {
    if (this.lost !== null) return this.lost;
    const loss = identityLoss(this.file, this.opened);
    if (loss === null) return null;
    this.lost = loss;
    this.onLost(loss);
    return loss;
  }
}
