/**
 * Whether delivery flows, and if not, why, since when and until when. One value for the whole
 * hub sink: when the hub says "wait", every request waits, not just the one that was answered.
 * `since` is when delivery last succeeded before this streak of failures began (the first
 * failure's time): readiness turns false once it is older than `hub.unready_after`.
 */
export type DeliveryState =
  | { state: 'idle' | 'flowing' }
  | { state: 'throttled' | 'retrying'; until: number; reason: string; since?: number }
  | { state: 'paused'; until: number; reason: string; since?: number };

export function describeState(s: DeliveryState, now = Date.now()): string {
  switch (s.state) {
    case 'idle':
      return 'idle (nothing to send)';
    case 'flowing':
      return 'flowing';
    case 'throttled':
      return `throttled by the hub${sinceText(s.since)}, next try in ${nextTry(s.until, now)}: ${s.reason}`;
    case 'retrying':
      return `retrying${sinceText(s.since)}, next try in ${nextTry(s.until, now)}: ${s.reason}`;
    case 'paused':
      return `paused${sinceText(s.since)}: ${s.reason}`;
  }
}

/** How long delivery has failed without a success in between, or 0 while it flows. */
export function failingForMs(s: DeliveryState, now = Date.now()): number {
  return 'since' in s && s.since !== undefined ? Math.max(0, now - s.since) : 0;
}

function sinceText(since: number | undefined): string {
  return since === undefined ? '' : ` since ${new Date(since).toISOString()}`;
}

function nextTry(until: number, now: number): string {
  const ms = Math.max(0, until - now);
  return ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
