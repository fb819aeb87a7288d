/**
 * A warning that may come in floods (a connection flood, a burst of refusals): the first is
 * logged at once, then at most one line per interval, carrying how many happened since the last
 * line (`count`) and in all (`total`). Nothing is dropped from the count, only from the log.
 */
import type { Logger } from 'pino';

export class LogEvery {
  private since = 0;
  private total = 0;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly log: Logger,
    private readonly event: string,
    private readonly message: string,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** `n` more occurrences (one by default); `fields` describe the latest one. */
  hit(fields: Record<string, unknown> = {}, n = 1): void {
    this.since += n;
    this.total += n;
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) return;
    this.lastAt = now;
    const count = this.since;
    this.since = 0;
    this.log.warn({ event: this.event, ...fields, count, total: this.total }, count === 1 ? this.message : `${this.message} (${count} times since the last line)`);
  }

  /** Occurrences so far. */
  get count(): number {
    return this.total;
  }
}
