/**
 * How close the machine token is to its expiry, as a value (pure: the job decides what to log,
 * the caller's callback what else to do). A token without an expiry claim, or an opaque one,
 * is "no_expiry": nothing to warn about, and nothing is guessed.
 */
import type { AgentView } from '../daemon/agent-view.js';
import { formatDuration } from '../config/units.js';

export type TokenCheck =
  | { state: 'missing' }
  | { state: 'no_expiry'; fingerprint: string }
  | { state: 'ok' | 'expiring' | 'expired'; fingerprint: string; expiresAt: Date; remainingMs: number };

export function checkToken(view: AgentView, warnWithinMs: number, now = Date.now()): TokenCheck {
  const token = view.token();
  if (token === null) return { state: 'missing' };
  if (token.expiresAt === null) return { state: 'no_expiry', fingerprint: token.fingerprint };
  const remainingMs = token.expiresAt.getTime() - now;
  const state = remainingMs <= 0 ? 'expired' : remainingMs <= warnWithinMs ? 'expiring' : 'ok';
  return { state, fingerprint: token.fingerprint, expiresAt: token.expiresAt, remainingMs };
}

/** The operator's sentence for a check result, or null when there is nothing to say. */
export function describeTokenCheck(check: TokenCheck): string | null {
  switch (check.state) {
    case 'expiring':
      return (
        `the machine token ${check.fingerprint} expires in ${formatDuration(check.remainingMs)} (${check.expiresAt.toISOString()}): ` +
        'ask Senseye support for a new one, put it where this one is, then send SIGHUP or restart the agent'
      );
    case 'expired':
      return `the machine token ${check.fingerprint} expired at ${check.expiresAt.toISOString()}: delivery is paused until a new token is installed`;
    case 'missing':
      return 'no machine token is loaded';
    default:
      return null;
  }
}
