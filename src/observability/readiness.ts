/**
 * Whether the agent is ready, and if not, every reason why: the outbox accepts new readings,
 * the token can be used, delivery is not paused, and delivery has not failed without a success
 * for longer than `hub.unready_after` (a hub outage, a wrong URL answering 404, TLS refused:
 * each is retried forever without loss, and readiness is where it shows), and no source has
 * been down (failing and restarted) for longer than `supervision.unready_after`. Read only through AgentView, at the moment
 * of asking. A check that throws counts as failed with the error as its reason, so a broken
 * view makes the agent "not ready", never an HTTP 500 or a crash.
 */
import type { AgentView } from '../daemon/agent-view.js';
import { describeState, failingForMs } from '../hub/delivery-state.js';

export type ReadinessCheck = 'outbox' | 'token' | 'delivery' | 'sources';

export interface Readiness {
  ready: boolean;
  /** One entry per failed check, in a stable order (outbox, token, delivery, sources). */
  reasons: Array<{ check: ReadinessCheck; reason: string }>;
}

const CHECKS: Array<[ReadinessCheck, (view: AgentView) => string | null]> = [
  ['outbox', (view) => view.outboxBlocked()],
  ['token', (view) => view.tokenProblem()],
  [
    'delivery',
    (view) => {
      const d = view.delivery();
      if (d.state === 'paused') return `delivery ${describeState(d)}`;
      const limit = view.deliveryUnreadyAfterMs();
      const failing = failingForMs(d);
      return failing > limit ? `delivery has failed for ${Math.round(failing / 1000)} s (over hub.unready_after, ${Math.round(limit / 1000)} s): ${describeState(d)}` : null;
    },
  ],
  [
    'sources',
    (view) => {
      const limit = view.sourceUnreadyAfterMs();
      const now = Date.now();
      const down = view.sourceHealth().flatMap(({ source, health }) =>
        health.state !== 'running' && now - health.downSince > limit
          ? [`source ${source} down since ${new Date(health.downSince).toISOString()} (${health.restarts} restarts): ${health.reason}`]
          : [],
      );
      return down.length === 0 ? null : down.join('; ');
    },
  ],
];

export function readiness(view: AgentView): Readiness {
  const reasons: Readiness['reasons'] = [];
  for (const [check, failure] of CHECKS) {
    let reason: string | null;
    try {
      reason = failure(view);
    } catch (err) {
      reason = `check failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (reason !== null) reasons.push({ check, reason });
  }
  return { ready: reasons.length === 0, reasons };
}
