/**
 * A fake AgentView for tests of the health endpoint, metrics and jobs: plain mutable state
 * behind the real interface, so a test sets "the outbox is full" or "the token expired" and
 * observes what the observers make of it.
 */
import pino from 'pino';
import type { AgentView, TokenView } from '../../src/daemon/agent-view.js';
import type { DeliveryState } from '../../src/hub/delivery-state.js';
import type { OutboxCounts } from '../../src/outbox/outbox.js';
import type { SourceHealth } from '../../src/sources/supervised-source.js';
import type { ActiveFault } from '../../src/outbox/storage-fault.js';

export interface FakeViewState {
  sources: Array<{ source: string; received: number; invalid: number }>;
  counts: OutboxCounts;
  bytes: number;
  oldestTs: number | null;
  blocked: string | null;
  storageFaults: ActiveFault[];
  writeFailures: { commit: number; ack: number; state: number };
  dropped: number;
  delivery: DeliveryState;
  hubRequests: Map<string, number>;
  hubUnexpected: Map<string, number>;
  sourceHealth: Array<{ source: string; health: SourceHealth }>;
  sourceUnreadyAfterMs: number;
  unreadyAfterMs: number;
  stats: { delivered: number; spectraDelivered: number; rejected: number; retried: number; throttled: number };
  retryDelayMs: number;
  waitingSensors: Map<string, string>;
  token: TokenView | null;
  tokenProblem: string | null;
}

export function fakeState(): FakeViewState {
  return {
    sources: [
      { source: 'press-line', received: 120, invalid: 3 },
      { source: 'pump-7', received: 40, invalid: 0 },
    ],
    counts: {
      appended: 160,
      delivered: 150,
      rejected: 2,
      expired: 0,
      dropped: 0,
      invalid: 3,
      depth: 8,
      spectra: { appended: 5, delivered: 4, rejected: 1, depth: 0 },
    },
    bytes: 4096 * 10,
    oldestTs: null,
    blocked: null,
    storageFaults: [],
    writeFailures: { commit: 0, ack: 0, state: 0 },
    dropped: 0,
    delivery: { state: 'flowing' },
    hubRequests: new Map([
      ['200', 30],
      ['429', 2],
    ]),
    hubUnexpected: new Map(),
    sourceHealth: [
      { source: 'press-line', health: { state: 'running', restarts: 0 } },
      { source: 'pump-7', health: { state: 'running', restarts: 0 } },
    ],
    sourceUnreadyAfterMs: 30_000,
    unreadyAfterMs: 30_000,
    stats: { delivered: 150, spectraDelivered: 4, rejected: 2, retried: 3, throttled: 2 },
    retryDelayMs: 0,
    waitingSensors: new Map(),
    token: { fingerprint: 'abcd1234', kind: 'v4.public', expiresAt: new Date(Date.UTC(2027, 0, 1)), permissions: ['Internal Hub Write'] },
    tokenProblem: null,
  };
}

/** The view reads `state` at every call; `throwing` names methods that throw instead. */
export function fakeView(state: FakeViewState = fakeState(), throwing: Set<keyof AgentView> = new Set()): AgentView & { state: FakeViewState; throwing: Set<keyof AgentView> } {
  const guard = <T>(name: keyof AgentView, value: () => T): T => {
    if (throwing.has(name)) throw new Error(`${name} failed (test)`);
    return value();
  };
  return {
    state,
    throwing,
    sourceHealth: () => guard('sourceHealth', () => state.sourceHealth),
    sourceUnreadyAfterMs: () => guard('sourceUnreadyAfterMs', () => state.sourceUnreadyAfterMs),
    sourceCounters: () => guard('sourceCounters', () => state.sources),
    outboxCounts: () => guard('outboxCounts', () => state.counts),
    outboxBytes: () => guard('outboxBytes', () => state.bytes),
    oldestWaitingTs: () => guard('oldestWaitingTs', () => state.oldestTs),
    outboxBlocked: () => guard('outboxBlocked', () => state.blocked),
    storageFaultsActive: () => guard('storageFaultsActive', () => state.storageFaults),
    writeFailures: () => guard('writeFailures', () => state.writeFailures),
    dropped: () => guard('dropped', () => state.dropped),
    delivery: () => guard('delivery', () => state.delivery),
    hubRequests: () => guard('hubRequests', () => state.hubRequests),
    hubUnexpectedAnswers: () => guard('hubUnexpectedAnswers', () => state.hubUnexpected),
    deliveryUnreadyAfterMs: () => guard('deliveryUnreadyAfterMs', () => state.unreadyAfterMs),
    deliveryStats: () => guard('deliveryStats', () => state.stats),
    retryDelayMs: () => guard('retryDelayMs', () => state.retryDelayMs),
    waitingSensors: () => guard('waitingSensors', () => state.waitingSensors),
    token: () => guard('token', () => state.token),
    tokenProblem: () => guard('tokenProblem', () => state.tokenProblem),
  };
}

/** A pino logger whose lines are kept as objects. */
export function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}
