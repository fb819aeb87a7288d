/**
 * Commits groups of parsed chunks to the outbox and only then acknowledges them to their
 * sources. When the outbox is full it either holds the group (`block`: sources stop reading
 * once their in-flight limit is reached, sockets stop being read, TCP pushes back) or makes
 * room by deleting the oldest readings (`drop_oldest`: counted and logged, never silent). The commit is synchronous (better-sqlite3), which is the pipeline's backpressure:
 * nothing new is parsed while a transaction runs. A failed commit (disk full, a lock held too
 * long) is retried with backoff and nothing is acknowledged meanwhile, so sources stop reading
 * once their in-flight limit is reached, and no reading is lost or reported consumed early.
 * While commits fail, `blockedReason` says why (so /readyz and `outbox_blocked` tell the truth)
 * and the failure is recorded as a storage fault; the first commit that succeeds clears both.
 * While a disk-full fault lasts, commits are not even tried: space that returns is left to the
 * checkpoint and to deleting delivered rows (which need it to make room) until the agent's
 * storage check (daemon/outbox-keeper.ts) finds a small write succeeds and asks for one try.
 * A capacity check that throws (the state directory deleted) holds commits the same way.
 */
import { backoffDelay } from '../net/retry-policy.js';
import type { Logger } from 'pino';
import type { CapacityGuard } from '../outbox/capacity.js';
import type { Outbox } from '../outbox/outbox.js';
import type { ParsedChunk } from './parse-chunk.js';

/** How failed commits are retried (the same policy as every retry: net/retry-policy.ts). */
const COMMIT_BACKOFF = { initialDelayMs: 500, maxDelayMs: 5_000 };

export class OutboxWriter {
  private pending: ParsedChunk[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private idleWaiters: Array<() => void> = [];
  onCommitted: ((readings: number, deadLetters: number) => void) | null = null;
  /** Why commits are held because the outbox is full (`block`), or null. */
  private fullReason: string | null = null;
  /** Why the last commit failed (disk full, I/O error), or null once one succeeds. */
  private failedReason: string | null = null;
  /** Readings deleted unsent by `drop_oldest` since start. */
  dropped = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly logger: Logger,
    private readonly capacity?: { guard: CapacityGuard; whenFull: 'block' | 'drop_oldest'; retryMs?: number },
  ) {}

  /** Why commits are held (outbox full, `block`; or commits failing), or null. */
  get blockedReason(): string | null {
    return this.fullReason ?? this.failedReason;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  write(group: ParsedChunk[]): void {
    for (const item of group) this.pending.push(item);
    if (this.retryTimer === null) this.commit();
  }

  /** Resolves once everything handed in has committed. */
  async flushed(): Promise<void> {
    while (this.pending.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** True while the last commit failed (a storage fault holds the group), false once one succeeds. */
  get commitFailing(): boolean {
    return this.failedReason !== null;
  }

  /**
   * A small write just succeeded (the agent's storage check): try the held group now, even
   * while a disk-full fault is recorded. Only this commit ends the fault: a probe that fits
   * where the group does not must not report the disk healthy while readings still wait.
   */
  retryHeldCommit(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.commit(true);
  }

  /** Stops retrying (used at a forced exit); uncommitted chunks stay unacknowledged and are re-read next start. */
  abandon(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** False when the group must wait for space (block); makes room first under drop_oldest. */
  private makeRoom(group: ParsedChunk[]): boolean {
    if (this.capacity === undefined) return true;
    let check = this.capacity.guard.check();
    if (check.full && check.fault !== undefined) {
      // Not a limit but a fault (the state directory is gone): held like a failed commit.
      this.outbox.storageFaults?.report(check.fault, check.reason);
      this.hold(check.reason, 500);
      return false;
    }
    if (check.full && this.capacity.whenFull === 'drop_oldest') {
      const incoming = group.reduce((n, g) => n + g.batch.readings.length, 0);
      const dropped = this.outbox.dropOldest(Math.max(1000, incoming));
      if (dropped > 0) {
        this.dropped += dropped;
        this.logger.warn(
          { event: 'outbox_dropped_oldest', dropped, dropped_total: this.dropped, reason: check.reason },
          `outbox full: deleted the ${dropped} oldest undelivered readings to make room (outbox.when_full: drop_oldest)`,
        );
        return true;
      }
      check = this.capacity.guard.check();
    }
    if (check.full) {
      if (this.fullReason === null) {
        this.logger.error({ event: 'outbox_full', reason: check.reason }, 'outbox full: reading paused until delivery makes room');
      }
      this.fullReason = check.reason;
      this.retryLater(this.capacity.retryMs ?? 500);
      return false;
    }
    if (this.fullReason !== null) {
      this.logger.info({ event: 'outbox_space_returned' }, 'outbox has room again: reading resumes');
      this.fullReason = null;
    }
    return true;
  }

  private retryLater(delayMs: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.commit();
    }, delayMs);
  }

  /** Commits are held for `reason` (a failure, not a full outbox); tried again in `delayMs`. */
  private hold(reason: string, delayMs: number): void {
    this.failedReason = `outbox writes fail: ${reason}`;
    this.retryLater(delayMs);
  }

  private commit(afterProbe = false): void {
    const group = this.pending;
    if (group.length === 0) return;
    let room: boolean;
    try {
      room = this.makeRoom(group);
    } catch (err) {
      // The capacity check itself failed (statfs, a pragma): a storage fault, held and retried.
      this.outbox.storageFaults?.writeFailed(err, 'commit');
      this.hold(`checking capacity failed: ${(err as Error).message}`, 1000);
      return;
    }
    if (!room) return;
    if (!afterProbe && this.failedReason !== null && this.outbox.storageFaults?.has('disk_full') === true) {
      // The disk is full: the space that returns goes to checkpointing and deleting delivered
      // rows first; the agent's storage check calls retryHeldCommit once a small write succeeds.
      this.retryLater(500);
      return;
    }
    try {
      this.outbox.append(group.map((g) => g.batch));
    } catch (err) {
      this.failures++;
      // Capped at 5 s: a disk that has room again is used within seconds, without a restart.
      // At least a quarter second: full jitter alone could retry a failing disk at once.
      const delay = Math.max(250, backoffDelay(this.failures, COMMIT_BACKOFF));
      const code = (err as { code?: string }).code ?? 'error';
      if (this.outbox.storageFaults?.writeFailed(err, 'commit') === 'disk_full') this.capacity?.guard.keepCheckpointRoom();
      this.logger.error(
        { event: 'outbox_write_failed', err, code, retry_in_ms: delay, chunks: group.length, failures: this.failures },
        'committing to the outbox failed; sources are held until it succeeds',
      );
      this.hold(`${code}: ${(err as Error).message}`, delay);
      return;
    }
    if (this.failedReason !== null) {
      this.logger.info({ event: 'outbox_write_recovered', failures: this.failures }, 'committing to the outbox succeeds again: reading resumes');
      this.failedReason = null;
    }
    this.outbox.storageFaults?.writeSucceeded();
    this.failures = 0;
    this.pending = [];
    let readings = 0;
    let deadLetters = 0;
    for (const item of group) {
      readings += item.batch.readings.length;
      deadLetters += item.batch.deadLetters.length;
      item.ack();
    }
    this.onCommitted?.(readings, deadLetters);
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
