/**
 * Commits groups of parsed chunks to the outbox and only then acknowledges them to their
 * sources. When the outbox is full it either holds the group (`block`: sources stop reading
 * once their in-flight limit is reached, sockets stop being read, TCP pushes back) or makes
 * room by deleting the oldest readings (`drop_oldest`: counted and logged, never silent). The commit is synchronous (better-sqlite3), which is the pipeline's backpressure:
 * nothing new is parsed while a transaction runs. A failed commit (disk full, a lock held too
 * long) is retried with backoff and nothing is acknowledged meanwhile, so sources stop reading
 * once their in-flight limit is reached, and no reading is lost or reported consumed early.
 */
import type { Logger } from 'pino';
import type { CapacityGuard } from '../outbox/capacity.js';
import type { Outbox } from '../outbox/outbox.js';
import type { ParsedChunk } from './parse-chunk.js';

export class OutboxWriter {
  private pending: ParsedChunk[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private idleWaiters: Array<() => void> = [];
  onCommitted: ((readings: number, deadLetters: number) => void) | null = null;
  /** Why commits are held (outbox full, `block`), or null. */
  blockedReason: string | null = null;
  /** Readings deleted unsent by `drop_oldest` since start. */
  dropped = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly logger: Logger,
    private readonly capacity?: { guard: CapacityGuard; whenFull: 'block' | 'drop_oldest'; retryMs?: number },
  ) {}

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

  /** Stops retrying (used at a forced exit); uncommitted chunks stay unacknowledged and are re-read next start. */
  abandon(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** False when the group must wait for space (block); makes room first under drop_oldest. */
  private makeRoom(group: ParsedChunk[]): boolean {
    if (this.capacity === undefined) return true;
    let check = this.capacity.guard.check();
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
      if (this.blockedReason === null) {
        this.logger.error({ event: 'outbox_full', reason: check.reason }, 'outbox full: reading paused until delivery makes room');
      }
      this.blockedReason = check.reason;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.commit();
      }, this.capacity.retryMs ?? 500);
      return false;
    }
    if (this.blockedReason !== null) {
      this.logger.info({ event: 'outbox_space_returned' }, 'outbox has room again: reading resumes');
      this.blockedReason = null;
    }
    return true;
  }

  private commit(): void {
    const group = this.pending;
    if (group.length === 0) return;
    if (!this.makeRoom(group)) return;
    try {
      this.outbox.append(group.map((g) => g.batch));
    } catch (err) {
      this.failures++;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7));
      this.logger.error(
        { event: 'outbox_write_failed', err, retry_in_ms: delay, chunks: group.length },
        'committing to the outbox failed; sources are held until it succeeds',
      );
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.commit();
      }, delay);
      return;
    }
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
