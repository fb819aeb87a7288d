/**
 * What the agent shows to its observers (health endpoint, metrics, hourly summary, jobs),
 * as one read-only interface, so those modules depend on this and not on the daemon's parts.
 * Every method is cheap and synchronous: it reads in-memory state or one small query.
 */
import type { DeliveryState } from '../hub/delivery-state.js';
import type { OutboxCounts } from '../outbox/outbox.js';

export interface TokenView {
  fingerprint: string;
  kind: 'v4.public' | 'v4.local' | 'jwt';
  /** null when permanent or unknown (opaque token). */
  expiresAt: Date | null;
  /** null when the token is opaque (v4.local): rights are learned from the hub's answers. */
  permissions: string[] | null;
}

export interface AgentView {
  /** Readings received and inputs refused, per source name (since the outbox was created). */
  sourceCounters(): Array<{ source: string; received: number; invalid: number }>;
  /** UDP sources: datagrams lost since start, by where (the kernel's receive buffer, or the source's backlog limit). */
  sourceDrops?(): Array<{ source: string; where: 'receive_buffer' | 'backlog'; count: number }>;
  outboxCounts(): OutboxCounts;
  /** Bytes of the outbox database in use. */
  outboxBytes(): number;
  /** Reading time (epoch ms) of the oldest waiting reading, or null. */
  oldestWaitingTs(): number | null;
  /** Why the outbox refuses new rows (full and blocking), or null when writable. */
  outboxBlocked(): string | null;
  /** Readings deleted unsent by drop_oldest since start. */
  dropped(): number;
  delivery(): DeliveryState;
  /** Hub requests by outcome label ("200", "429", "network", ...) since start. */
  hubRequests(): ReadonlyMap<string, number>;
  deliveryStats(): { delivered: number; spectraDelivered: number; rejected: number; retried: number; throttled: number };
  /** Current retry delay in ms (0 when flowing). */
  retryDelayMs(): number;
  waitingSensors(): ReadonlyMap<string, string>;
  token(): TokenView | null;
  /** Why the token cannot be used (expired, lacks Write, missing), or null. */
  tokenProblem(): string | null;
}
