/**
 * The periodic summary line: what happened since the previous one (readings received, invalid,
 * delivered; hub requests) and where things stand (outbox depth and oldest age, delivery state,
 * token expiry). Built only from AgentView. Counts are differences of the view's totals; a total
 * that went down (the outbox was moved aside and started afresh) counts from zero, never negative.
 */
import type { AgentView } from '../daemon/agent-view.js';
import { describeState } from '../hub/delivery-state.js';
import { formatDuration } from '../config/units.js';

interface Totals {
  at: number;
  received: Map<string, number>;
  invalid: Map<string, number>;
  delivered: number;
  spectraDelivered: number;
  rejected: number;
  dropped: number;
  hubRequests: Map<string, number>;
}

export interface Summary {
  fields: Record<string, unknown>;
  message: string;
}

export class SummaryTracker {
  private previous: Totals | null = null;
  private readonly createdAt: number;

  constructor(
    private readonly view: AgentView,
    private readonly now: () => number = Date.now,
  ) {
    this.createdAt = now();
  }

  /** Takes the starting point (at the agent's start); without it the first summary counts from zero. */
  begin(): void {
    this.previous = this.totals();
  }

  /** The summary since the previous call (or since begin()), and a new starting point. */
  next(): Summary {
    const current = this.totals();
    const prev = this.previous ?? { ...current, received: new Map(), invalid: new Map(), delivered: 0, spectraDelivered: 0, rejected: 0, dropped: 0, hubRequests: new Map(), at: this.createdAt };
    this.previous = current;
    const view = this.view;
    const counts = view.outboxCounts();
    const oldest = view.oldestWaitingTs();
    const oldestAgeMs = oldest === null ? null : Math.max(0, current.at - oldest);
    const delivery = view.delivery();
    const expiresAt = view.token()?.expiresAt ?? null;

    const perSource: Record<string, { received: number; invalid: number }> = {};
    for (const [source, total] of current.received) {
      perSource[source] = { received: delta(total, prev.received.get(source)), invalid: delta(current.invalid.get(source) ?? 0, prev.invalid.get(source)) };
    }
    const sum = (o: Record<string, { received: number; invalid: number }>, k: 'received' | 'invalid') => Object.values(o).reduce((a, s) => a + s[k], 0);
    const hubRequests: Record<string, number> = {};
    for (const [status, total] of current.hubRequests) {
      const d = delta(total, prev.hubRequests.get(status));
      if (d > 0) hubRequests[status] = d;
    }
    const period = current.at - prev.at;
    const fields = {
      event: 'summary',
      period_ms: period,
      received: sum(perSource, 'received'),
      invalid: sum(perSource, 'invalid'),
      delivered: delta(current.delivered, prev.delivered),
      spectra_delivered: delta(current.spectraDelivered, prev.spectraDelivered),
      rejected: delta(current.rejected, prev.rejected),
      dropped: delta(current.dropped, prev.dropped),
      hub_requests: hubRequests,
      sources: perSource,
      outbox: { readings: counts.depth, spectra: counts.spectra.depth, bytes: view.outboxBytes(), oldest_age_ms: oldestAgeMs, blocked: view.outboxBlocked() },
      delivery: delivery.state,
      delivery_detail: describeState(delivery, current.at),
      token_expires_at: expiresAt?.toISOString() ?? null,
    };
    const parts = [
      `last ${formatDuration(period)}: ${fields.received} readings received${fields.invalid > 0 ? ` (${fields.invalid} invalid)` : ''}, ${fields.delivered} delivered`,
      `${counts.depth} waiting${oldestAgeMs === null ? '' : ` (oldest ${formatDuration(oldestAgeMs)} old)`}`,
      `delivery ${fields.delivery_detail}`,
    ];
    if (fields.rejected > 0) parts.push(`${fields.rejected} refused by the hub`);
    if (fields.dropped > 0) parts.push(`${fields.dropped} dropped (outbox full)`);
    return { fields, message: parts.join('; ') };
  }

  private totals(): Totals {
    const view = this.view;
    const sources = view.sourceCounters();
    const counts = view.outboxCounts();
    return {
      at: this.now(),
      received: new Map(sources.map((s) => [s.source, s.received])),
      invalid: new Map(sources.map((s) => [s.source, s.invalid])),
      delivered: counts.delivered,
      spectraDelivered: counts.spectra.delivered,
      rejected: counts.rejected + counts.spectra.rejected,
      dropped: counts.dropped,
      hubRequests: new Map(view.hubRequests()),
    };
  }
}

function delta(current: number, previous: number | undefined): number {
  const p = previous ?? 0;
  return current >= p ? current - p : current;
}
