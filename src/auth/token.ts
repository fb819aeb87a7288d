/**
 * Finds and loads the machine token, and identifies it without revealing it. The token is
 * kept in one object whose toJSON/inspect never show it, so passing it to a logger by mistake
 * prints the fingerprint, not the secret.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { PERMISSION, hasPermission } from './permissions.js';
import { readClaims, type TokenClaims } from './claims.js';

export class TokenLoadError extends Error {
  readonly code = 'SENSEYE_TOKEN_MISSING';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message}. ${hint}`);
  }
}

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

export interface TokenSources {
  tokenFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** First found wins: hub.token_file, then the SENSEYE_TOKEN environment variable. */
export function loadToken(sources: TokenSources): MachineToken {
  const env = sources.env ?? process.env;
  if (sources.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(sources.tokenFile, 'utf8');
    } catch (err) {
      throw new TokenLoadError(
        `hub.token_file ${sources.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        'check the path and that the agent user may read it',
      );
    }
    const token = text.trim();
    if (token.length === 0) throw new TokenLoadError(`hub.token_file ${sources.tokenFile} is empty`, 'put the machine token from Senseye support in it');
    return new MachineToken(token, sources.tokenFile);
  }
  const fromEnv = env.SENSEYE_TOKEN?.trim();
  if (fromEnv !== undefined && fromEnv.length > 0) return new MachineToken(fromEnv, 'SENSEYE_TOKEN');
  throw new TokenLoadError('no machine token found', 'set hub.token_file in the config or the SENSEYE_TOKEN environment variable');
}
