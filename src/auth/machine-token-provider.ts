/**
 * Holds the machine token the agent uses now, and replaces it when a new one is put in place:
 * on SIGHUP (`reload()`), when the token file changes (fs.watch on its folder, which survives
 * editors and secret managers that replace the file), and at a periodic check (watch events
 * can be missed). A replacement that cannot be used (garbage, a JWT, a bad signature) is
 * refused loudly and the current token stays: a typo must not stop a working agent.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { TokenFormatError } from './claims.js';
import { importPublicKey, verifyV4Public } from './paseto-v4.js';
import { MachineToken } from './token.js';
import { findToken, type TokenSearch } from './token-sources.js';

export interface MachineTokenProviderOptions extends TokenSearch {
  /** A k4.public PASERK: when set, the token's signature must verify with it. */
  publicKey?: string | undefined;
  /** How often the token's source is read again, even without a change event. */
  checkIntervalMs?: number;
  logger: Logger;
}

export class TokenRejectedError extends Error {
  readonly code = 'SENSEYE_TOKEN_REJECTED';
}

export class MachineTokenProvider {
  private token: MachineToken;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private readonly listeners: Array<(token: MachineToken) => void> = [];

  private constructor(
    private readonly opts: MachineTokenProviderOptions,
    initial: MachineToken,
  ) {
    this.token = initial;
  }

  /** Loads and checks the token; throws (a configuration problem) when there is none usable. */
  static async create(opts: MachineTokenProviderOptions): Promise<MachineTokenProvider> {
    return new MachineTokenProvider(opts, await load(opts));
  }

  current(): MachineToken {
    return this.token;
  }

  onChange(listener: (token: MachineToken) => void): void {
    this.listeners.push(listener);
  }

  /** Watches the token file and re-reads the source periodically. */
  start(): void {
    const origin = this.token.origin;
    if (origin !== 'SENSEYE_TOKEN') {
      try {
        this.watcher = watch(path.dirname(origin), (_event, name) => {
          if (name === null || name === path.basename(origin) || name.startsWith('..')) this.scheduleReload('file changed');
        });
        this.watcher.on('error', () => undefined);
      } catch {
        // No watch possible (e.g. a read-only secret mount without inotify): the periodic check remains.
      }
    }
    this.timer = setInterval(() => void this.reload('periodic check'), this.opts.checkIntervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.timer = null;
  }

  /** Reads the source again; returns true when a different, usable token took over. */
  async reload(reason: string): Promise<boolean> {
    let next: MachineToken;
    try {
      next = await load(this.opts);
    } catch (err) {
      if (reason !== 'periodic check') {
        this.opts.logger.error(
          { event: 'token_reload_failed', reason, error: (err as Error).message, current: this.token.fingerprint },
          `the new token cannot be used; still using token ${this.token.fingerprint}`,
        );
      }
      return false;
    }
    if (next.fingerprint === this.token.fingerprint) return false;
    const previous = this.token.fingerprint;
    this.token = next;
    this.opts.logger.info(
      {
        event: 'token_reloaded',
        reason,
        previous,
        fingerprint: next.fingerprint,
        kind: next.claims.kind,
        expires_at: next.claims.expiresAt?.toISOString() ?? null,
        permissions: next.claims.permissions,
      },
      `token replaced (${previous} → ${next.fingerprint})`,
    );
    for (const listener of this.listeners) listener(next);
    return true;
  }

  private scheduleReload(reason: string): void {
    if (this.debounce) clearTimeout(this.debounce);
    // Writers replace files in steps (truncate, write; or write temp, rename): read once they settle.
    this.debounce = setTimeout(() => void this.reload(reason), 100);
  }
}

async function load(opts: MachineTokenProviderOptions): Promise<MachineToken> {
  const found = findToken(opts);
  if (found.looseMode !== undefined) {
    opts.logger.warn(
      { event: 'token_file_mode', file: found.origin, mode: found.looseMode },
      `token file ${found.origin} is readable by other users (${found.looseMode}); restrict it with chmod 600`,
    );
  }
  let token: MachineToken;
  try {
    token = new MachineToken(found.text, found.origin);
  } catch (err) {
    if (err instanceof TokenFormatError) throw new TokenRejectedError(`token from ${found.origin}: ${err.message}`);
    throw err;
  }
  if (token.claims.kind === 'jwt') {
    throw new TokenRejectedError(
      `token from ${found.origin} is a JWT (a user token); the agent expects a PASETO v4 machine token, or set hub.auth.type: user`,
    );
  }
  if (opts.publicKey !== undefined) {
    if (token.claims.kind !== 'v4.public') {
      throw new TokenRejectedError(`hub.token_public_key is set but the token from ${found.origin} is ${token.claims.kind}, which carries no signature to verify`);
    }
    const key = await importPublicKey(opts.publicKey);
    // The signature is checked before the claims: 'expired' means the signature is good (expiry pauses delivery instead).
    const result = await verifyV4Public(key, found.text);
    if (!result.ok && result.reason !== 'expired') {
      throw new TokenRejectedError(`token from ${found.origin} does not verify with hub.token_public_key (${result.reason})`);
    }
  }
  return token;
}
