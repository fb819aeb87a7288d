/**
 * Keeps the daemon's outbox file honest while it runs, and closes it at the end.
 * - Every few seconds (and after every failed write) it checks that `outbox.db` is still the
 *   file it opened (device and inode). When it is not (the file or the state directory was
 *   deleted or replaced), it reports a storage fault and asks for the ordered stop (`onLost`);
 *   the close at the end of that stop writes the open database back to its path (write-back.ts),
 *   so a restart goes on from the committed positions.
 * - While a disk-full or I/O fault lasts it tries a WAL checkpoint and a small write: once one
 *   succeeds, the writer tries the readings it holds, and the fault is over when they commit
 *   (or at once when none wait), so /readyz and the metric never call a full disk healthy.
 * - close() never throws: a full disk or an I/O error while closing is logged and the stop goes
 *   on (without the clean mark the next start runs an integrity check; the WAL keeps what committed).
 */
import type { Logger } from 'pino';
import { identityOf, OutboxFileWatch, type IdentityLoss } from '../outbox/file-identity.js';
import { closeNow, probeWrite, truncateWal, writeBackOpenOutbox } from '../outbox/inspect.js';
import { markCleanShutdown } from '../outbox/integrity.js';
import type { Outbox, OutboxCounts } from '../outbox/outbox.js';
import { StorageFaults } from '../outbox/storage-fault.js';
import { writeBackFinish } from '../outbox/write-back.js';

export interface OutboxKeeperOptions {
  outbox: Outbox;
  stateDir: string;
  logger: Logger;
  /** The capacity guard keeps room for a checkpoint after a full disk (capacity.ts). */
  keepsCheckpointRoom: () => boolean;
  /** Why the writer holds its commits, or null. */
  writerBlocked: () => string | null;
  /** The writer's last commit failed: it holds a group until one succeeds. */
  commitFailing: () => boolean;
  /** Try the held group now (a small write just succeeded). */
  retryHeldCommit: () => void;
  /** The outbox file was lost: the owner stops in order (exit 75). */
  onLost: (reason: string) => void;
}

export class OutboxKeeper {
  readonly faults: StorageFaults;
  /** After a stop asked for here: the one line that says why, and what became of the outbox. */
  stopReason: string | null = null;
  private readonly watch: OutboxFileWatch;
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(private readonly o: OutboxKeeperOptions) {
    this.log = o.logger.child({ component: 'agent' });
    this.faults = new StorageFaults(o.logger.child({ component: 'storage' }), o.stateDir);
    o.outbox.storageFaults = this.faults;
    this.watch = new OutboxFileWatch(o.outbox.file, identityOf(o.outbox.file), (loss) => this.lost(loss));
    this.faults.onWriteFailed = () => this.watch.check();
  }

  start(everyMs: number): void {
    this.timer = setInterval(() => this.look(), everyMs);
    this.timer.unref();
  }

  stopWatching(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Is outbox.db still our file; while a disk-full or I/O fault lasts, do a checkpoint and a small write succeed again? */
  private look(): void {
    const { outbox } = this.o;
    if (this.watch.check() !== null) return;
    const failing = this.faults.has('disk_full') || this.faults.has('io_error');
    if (failing || (this.o.keepsCheckpointRoom() && this.o.writerBlocked() !== null)) {
      try {
        // The WAL holds the space that deliveries freed inside the database: truncate it.
        truncateWal(outbox);
      } catch {
        // Still no room for the checkpoint: the probe below fails too.
      }
    }
    if (!failing) return;
    try {
      probeWrite(outbox); // throws while still failing
    } catch {
      return; // still failing: the fault stays as reported
    }
    // Readings wait: only their commit ends the fault (a small write can fit where they do not).
    if (this.o.commitFailing()) this.o.retryHeldCommit();
    else this.faults.writeSucceeded();
  }

  private lost(loss: IdentityLoss): void {
    this.faults.report(loss.kind, loss.reason);
    this.log.fatal(
      { event: 'outbox_lost', kind: loss.kind, reason: loss.reason },
      `${loss.reason}: stopping in order, writing the open outbox back to its path, then exiting 75 to be restarted on it`,
    );
    this.stopReason = `${loss.reason}; the agent stopped to write its outbox back`;
    this.o.onLost(this.stopReason);
  }

  /** Marks the clean stop, writes the database back if its file was lost, checkpoints and closes. */
  close(): OutboxCounts | null {
    const { outbox } = this.o;
    const attempt = <T>(step: string, work: () => T): T | null => {
      try {
        return work();
      } catch (err) {
        this.log.error({ event: 'outbox_close_step_failed', step, code: (err as { code?: string }).code, err }, `stopping: ${step} failed; the stop goes on`);
        return null;
      }
    };
    const counts = attempt('reading the outbox counts', () => outbox.counts());
    const loss = this.watch.check();
    attempt('marking the clean stop', () => markCleanShutdown(outbox));
    const copy = loss === null ? null : attempt('writing the outbox back', () => writeBackOpenOutbox(outbox));
    if (attempt('checkpointing and closing the outbox', () => outbox.close()) === null && outbox.isOpen) {
      attempt('closing the outbox', () => closeNow(outbox));
    }
    if (copy !== null && attempt('putting the written-back outbox in place', () => writeBackFinish(copy.temp, outbox.file)) !== null) {
      this.stopReason = `${loss!.reason}; the outbox was written back to its path: restart the agent (exit 75)`;
      this.log.warn(
        { event: 'outbox_written_back', file: outbox.file, moved_aside: copy.movedAside },
        `the open outbox was written back to ${outbox.file}` + (copy.movedAside === null ? '' : `; the file found there was moved to ${copy.movedAside}`),
      );
    } else if (loss !== null) {
      this.stopReason = `${loss.reason}; writing the outbox back to ${outbox.file} failed (see the log): a restart will not find what this run committed`;
      this.log.fatal({ event: 'outbox_write_back_failed', file: outbox.file }, `the outbox could not be written back to ${outbox.file}`);
    }
    return counts;
  }
}
