/**
 * What a token lets the agent do, in words an operator can act on. Used by `token inspect`, the
 * start-up log and the daily expiry check.
 */
import { formatDuration } from '../config/units.js';
import type { MachineToken } from './token.js';

export interface TokenReport {
  kind: string;
  fingerprint: string;
  origin: string;
  expiresAt: string | null;
  /** Milliseconds left; null when permanent or unknown; negative when expired. */
  timeLeftMs: number | null;
  permissions: string[] | null;
  canStoreData: boolean | null;
  canCreateSensors: boolean | null;
  expired: boolean;
}

export function reportToken(token: MachineToken, now = Date.now()): TokenReport {
  const exp = token.claims.expiresAt;
  return {
    kind: token.claims.kind,
    fingerprint: token.fingerprint,
    origin: token.origin,
    expiresAt: exp?.toISOString() ?? null,
    timeLeftMs: exp === null ? null : exp.getTime() - now,
    permissions: token.claims.permissions,
    canStoreData: token.isExpired(now) ? false : token.canWrite(),
    canCreateSensors: token.isExpired(now) ? false : token.canCreate(),
    expired: token.isExpired(now),
  };
}

const yesNo = (v: boolean | null) => (v === null ? 'unknown (the token is opaque; the hub decides)' : v ? 'yes' : 'no');

export function formatTokenReport(r: TokenReport): string {
  const expiry =
    r.expiresAt === null
      ? r.kind === 'v4.local'
        ? 'unknown (opaque token)'
        : 'never (permanent)'
      : r.expired
        ? `${r.expiresAt} (EXPIRED ${formatDuration(-r.timeLeftMs!)} ago)`
        : `${r.expiresAt} (in ${formatDuration(r.timeLeftMs!)})`;
  return [
    `kind             ${r.kind}`,
    `fingerprint      ${r.fingerprint}`,
    `from             ${r.origin}`,
    `expires          ${expiry}`,
    `permissions      ${r.permissions === null ? 'unknown (opaque token)' : r.permissions.length === 0 ? 'none' : r.permissions.join(', ')}`,
    `can store data   ${yesNo(r.canStoreData)}`,
    `can create sensors ${yesNo(r.canCreateSensors)}`,
  ].join('\n');
}

/** A warning when the token expires within `withinMs`, else null. */
export function expiryWarning(token: MachineToken, withinMs: number, now = Date.now()): string | null {
  const exp = token.claims.expiresAt;
  if (exp === null) return null;
  const left = exp.getTime() - now;
  if (left <= 0) return `machine token ${token.fingerprint} expired at ${exp.toISOString()}: delivery is paused until a new token is in place`;
  if (left <= withinMs) return `machine token ${token.fingerprint} expires at ${exp.toISOString()} (in ${formatDuration(left)}): ask Senseye support for a new one`;
  return null;
}
