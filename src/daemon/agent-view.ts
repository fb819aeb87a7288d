/**
 * What the agent shows to its observers (health endpoint, metrics, hourly summary, jobs),
 * as one read-only interface, so those modules depend on this and not on the daemon's parts.
 * Every method is cheap and synchronous: it reads in-memory state or one small query.
 */
import type { DeliveryState } from '../hub/delivery-state.js';
import type { OutboxCounts } from '../outbox/outbox.js';
import type { SourceHealth } from '../sources/supervised-source.js';
import type { SlotStats } from '../sources/descriptors.js';
import type { ActiveFault, WriteOperation } from '../outbox/storage-fault.js';

export interface TokenView {
  fingerprint: string;
  kind: 'v4.public' | 'v4.local' | 'jwt';
  /** null when permanent or unknown (opaque token). */
  expiresAt: Date | null;
  /** null when the token is opaque (v4.local): rights are learned from the hub's answers. */
  permissions: string[] | null;
}

export interface AgentView {
  /** Each source's supervision state: running, or down since when and why. */
  sourceHealth(): Array<{ source: string; health: SourceHealth }>;
  /** How long a source may be down before /readyz says not ready (supervision.unready_after). */
  sourceUnreadyAfterMs(): number;
  /** Readings received and inputs refused, per source name (since the outbox was created). */
  sourceCounters(): Array<{ source: string; received: number; invalid: number }>;
  /**
   * UDP sources: datagrams lost since start, by where (the kernel's receive buffer, or the source's backlog limit);
   * MQTT sources (`mqtt: true`): QoS 0 messages dropped beyond max_pending_messages (`backlog`).
   */
  sourceDrops?(): Array<{ source: string; where: 'receive_buffer' | 'backlog'; count: number; mqtt?: boolean }>;
  /** File and spool sources' descriptors: each source's slots, and the budget all share (sources/descriptors.ts). */
  openFiles?(): { sources: SlotStats[]; budget: number };
  outboxCounts(): OutboxCounts;
  /** Bytes of the outbox database in use. */
  outboxBytes(): number;
  /** Reading time (epoch ms) of the oldest waiting reading, or null. */
  oldestWaitingTs(): number | null;
  /** Why the outbox refuses new rows (full and blocking, writes failing, a storage fault), or null when writable. */
  outboxBlocked(): string | null;
  /** Storage faults in effect now (disk full, I/O error, state dir or outbox.db gone). */
  storageFaultsActive(): ActiveFault[];
  /** Outbox writes that failed since start, by operation (commit of readings, ack of delivered ones). */
  writeFailures(): Readonly<Record<WriteOperation, number>>;
  /** Readings deleted unsent by drop_oldest since start. */
  dropped(): number;
  delivery(): DeliveryState;
  /** Hub requests by outcome label ("200", "429", "network", "timeout", "tls", "oversized") since start, every endpoint. */
  hubRequests(): ReadonlyMap<string, number>;
  /** Hub answers outside the contract (a `200 {}`, a 404 page, an oversized body), by "endpoint status". */
  hubUnexpectedAnswers(): ReadonlyMap<string, number>;
  /** How long delivery may fail without a success before /readyz says not ready (hub.unready_after). */
  deliveryUnreadyAfterMs(): number;
  deliveryStats(): { delivered: number; spectraDelivered: number; rejected: number; retried: number; throttled: number };
  /** Current retry delay in ms (0 when flowing). */
  retryDelayMs(): number;
  waitingSensors(): ReadonlyMap<string, string>;
  token(): TokenView | null;
  /** Why the token cannot be used (expired, lacks Write, missing), or null. */
  tokenProblem(): string | null;
}
