/**
 * What a token lets the agent do, in words an operator can act on (`token inspect`, `config
 * check`). The daily expiry warning is the token_check job (src/jobs/token-check.ts).
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
