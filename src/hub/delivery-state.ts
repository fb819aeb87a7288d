/**
 * Whether delivery flows, and if not, why and until when. One value for the whole hub sink:
 * when the hub says "wait", every request waits, not just the one that was answered.
 */
export type DeliveryState =
  | { state: 'idle' | 'flowing' }
  | { state: 'throttled' | 'retrying'; until: number; reason: string }
  | { state: 'paused'; until: number; reason: string };

export function describeState(s: DeliveryState, now = Date.now()): string {
  switch (s.state) {
    case 'idle':
      return 'idle (outbox empty)';
    case 'flowing':
      return 'flowing';
    case 'throttled':
      return `throttled by the hub for ${Math.max(0, s.until - now)} ms: ${s.reason}`;
    case 'retrying':
      return `retrying in ${Math.max(0, s.until - now)} ms: ${s.reason}`;
    case 'paused':
      return `paused: ${s.reason}`;
  }
}
