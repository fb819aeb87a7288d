/**
 * Commits groups of parsed chunks to the outbox and only then acknowledges them to their
 * sources. The commit is synchronous (better-sqlite3), which is the pipeline's backpressure:
 * nothing new is parsed while a transaction runs. A failed commit (disk full, a lock held too
 * long) is retried with backoff and nothing is acknowledged meanwhile, so sources stop reading
 * once their in-flight limit is reached, and no reading is lost or reported consumed early.
 */
import type { Logger } from 'pino';
import type { Outbox } from '../outbox/outbox.js';
import type { ParsedChunk } from './parse-chunk.js';

export class OutboxWriter {
  private pending: ParsedChunk[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private idleWaiters: Array<() => void> = [];
  onCommitted: ((readings: number, deadLetters: number) => void) | null = null;

  constructor(
    private readonly outbox: Outbox,
    private readonly logger: Logger,
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

  private commit(): void {
    const group = this.pending;
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
