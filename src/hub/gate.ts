/**
 * The hub sink's gate: every request passes here first. It holds two things:
 * - the sink-wide pause: when the hub says "wait" (Retry-After, backoff), no request goes out
 *   until then, not only the one that was answered (peers keep hammering; we do not);
 * - an optional points-per-second cap (`hub.max_rate`, a token bucket with one second of
 *   burst), so a site with a thin uplink drains a backlog without saturating it;
 * - optionally, the request spacing learned after the hub throttled (RequestPacer).
 * A throttling pause can be shared through the outbox database, so a backfill and the daemon
 * running on the same state directory both respect a Retry-After that either of them was given.
 */
import { WakeableSleep } from '../async/wakeable-sleep.js';
import type { RequestPacer } from './pacer.js';

export interface SharedPause {
  /** Epoch ms until which every process must hold its requests (0 when none). */
  get(): number;
  set(until: number): void;
}

export class HubGate {
  private pausedUntil = 0;
  private tokens: number;
  private lastRefill = Date.now();
  private readonly alarm = new WakeableSleep();

  constructor(
    private maxRate: number | null,
    private readonly shared?: SharedPause,
    readonly pacer: RequestPacer | null = null,
  ) {
    this.tokens = maxRate ?? 0;
  }

  setMaxRate(maxRate: number | null): void {
    this.maxRate = maxRate;
    this.tokens = Math.min(this.tokens, maxRate ?? 0);
  }

  /** Holds every request until `until`; `share` also tells other processes (hub throttling). */
  pauseUntil(until: number, share = false): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
    if (share && this.shared !== undefined) {
      try {
        if (until > this.shared.get()) this.shared.set(until);
      } catch {
        // Sharing is a courtesy; a busy database must not stop this process.
      }
    }
  }

  private sharedUntil(): number {
    try {
      return this.shared?.get() ?? 0;
    } catch {
      return 0;
    }
  }

  /** Lifts a pause early (e.g. a new token arrived). */
  resume(): void {
    this.pausedUntil = 0;
    this.alarm.wake();
  }

  get pauseEnds(): number {
    return this.pausedUntil;
  }

  /**
   * Resolves when a request of `points` points may go out; rejects when either signal aborts (the
   * stop, or the round's failure), also while it waits.
   */
  async admit(points: number, signal?: AbortSignal, roundFailed?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      if (roundFailed?.aborted) throw roundFailed.reason ?? new Error('aborted');
      const now = Date.now();
      let wait = Math.max(this.pausedUntil, this.sharedUntil()) - now;
      if (wait <= 0 && this.pacer !== null) wait = this.pacer.delay();
      if (wait <= 0 && this.maxRate !== null) {
        this.refill(now);
        const need = Math.min(points, this.maxRate);
        if (this.tokens >= need) this.tokens -= points; // may go negative: a large batch borrows from the next seconds
        else wait = Math.ceil(((need - this.tokens) / this.maxRate) * 1000);
      }
      if (wait <= 0) {
        this.pacer?.book();
        return;
      }
      await this.alarm.sleep(wait, signal, roundFailed);
    }
  }

  private refill(now: number): void {
    if (this.maxRate === null) return;
    this.tokens = Math.min(this.maxRate, this.tokens + ((now - this.lastRefill) / 1000) * this.maxRate);
    this.lastRefill = now;
  }
}
