/**
 * Learns a request rate the hub accepts, once it has throttled us. The hub documents no limit
 * (hub-api.md), so a fixed rate would be a guess; but every 429 costs a whole Retry-After of
 * silence, so after one the agent spaces its requests to the rate the hub actually accepted
 * since the previous throttle (pauses included: what it sustains, not what its burst allowed),
 * and then probes upward slowly while the hub keeps accepting (the spacing shrinks a little
 * with each accepted request), until the next throttle sets it again. Without throttling it
 * never spaces anything. `hub.pace_after_throttling: false` turns it off.
 */
export interface PacerOptions {
  now?: () => number;
  /** Spacing kept after each accepted request (0.99: 1 % shorter each time). */
  recovery?: number;
}

/** Below this spacing, pacing is off again. */
const OFF_BELOW_MS = 2;
/** Never space requests further apart than this, whatever was observed. */
const MAX_INTERVAL_MS = 10_000;
/** Throttles this close together, with nothing accepted in between, are one episode. */
const SAME_EPISODE_MS = 1000;
/** The rate is measured over at most this long before a throttle. */
const MAX_WINDOW_MS = 30_000;

export class RequestPacer {
  private intervalMs = 0;
  private nextAt = 0;
  private acceptedAt: number[] = [];
  private lastThrottle = 0;
  private readonly now: () => number;
  private readonly recovery: number;

  constructor(opts: PacerOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.recovery = opts.recovery ?? 0.99;
  }

  /** Current spacing between request starts in ms (0 = not pacing). */
  get spacingMs(): number {
    return this.intervalMs;
  }

  /** How long the next request must wait for its slot (0 = it may go now). */
  delay(): number {
    return Math.max(0, this.nextAt - this.now());
  }

  /** The next request goes now: the one after it waits the spacing. */
  book(): void {
    this.nextAt = this.now() + this.intervalMs;
  }

  /** The hub accepted a request. */
  onAccepted(): void {
    const t = this.now();
    this.acceptedAt.push(t);
    while (this.acceptedAt[0]! < t - MAX_WINDOW_MS) this.acceptedAt.shift();
    if (this.intervalMs === 0) return;
    this.intervalMs *= this.recovery;
    if (this.intervalMs < OFF_BELOW_MS) this.intervalMs = 0;
  }

  /** The hub answered 429 (or 503 with Retry-After): slow down to the rate it sustained. */
  onThrottled(): void {
    const t = this.now();
    // Since the previous throttle, or the first accepted request in the window if none.
    const since = Math.max(this.lastThrottle, t - MAX_WINDOW_MS, this.acceptedAt[0] ?? t);
    const accepted = this.acceptedAt.filter((at) => at >= since).length;
    // Other requests of the same round answered 429 too: one episode, not several.
    if (accepted === 0 && t - this.lastThrottle < SAME_EPISODE_MS) return;
    this.lastThrottle = t;
    // Nothing to learn from a hub that accepted (almost) nothing: it is down or refusing, not
    // pacing us; Retry-After and backoff handle that, and a learned crawl would slow the catch-up.
    const elapsed = t - since;
    if (accepted < 2 || elapsed <= 0) return;
    this.intervalMs = Math.min(MAX_INTERVAL_MS, Math.max(this.intervalMs, elapsed / accepted));
  }
}
