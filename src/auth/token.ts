/**
 * A bearer credential, identified without revealing it. The token is
 * kept in one object whose toJSON/inspect never show it, so passing it to a logger by mistake
 * prints the fingerprint, not the secret.
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { PERMISSION, hasPermission } from './permissions.js';
import { readClaims, type TokenClaims } from './claims.js';

export function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8);
}

export class MachineToken {
  readonly fingerprint: string;
  readonly claims: TokenClaims;
  readonly #value: string;

  constructor(
    value: string,
    readonly origin: string,
  ) {
    this.#value = value;
    this.fingerprint = fingerprint(value);
    this.claims = readClaims(value);
  }

  /** The only way to the secret: for the Authorization header and nothing else. */
  bearer(): string {
    return `Bearer ${this.#value}`;
  }

  /** True/false when the claims say; null when the token is opaque (learned from the hub's answers). */
  can(permission: string): boolean | null {
    const granted = this.claims.permissions;
    return granted === null ? null : hasPermission(granted, permission);
  }

  canWrite(): boolean | null {
    return this.can(PERMISSION.hubWrite);
  }

  canCreate(): boolean | null {
    return this.can(PERMISSION.hubCreate);
  }

  isExpired(now = Date.now()): boolean {
    return this.claims.expiresAt !== null && this.claims.expiresAt.getTime() <= now;
  }

  toJSON(): object {
    return { fingerprint: this.fingerprint, origin: this.origin, kind: this.claims.kind };
  }

  [inspect.custom](): string {
    return `MachineToken(${this.fingerprint} from ${this.origin})`;
  }

  toString(): string {
    return `[token ${this.fingerprint}]`;
  }
}
