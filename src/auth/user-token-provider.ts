/**
 * User-token auth (secondary to machine tokens): the OAuth password grant at
 * `POST /oauth/token`. The access token is cached in memory and in `state_dir/user-token.json`
 * (mode 0600), so a restart loop does not hammer the rate-limited endpoint; it is reused for its
 * lifetime and refreshed one minute before `expires_in` runs out. A 429 (or 5xx, or a network
 * error) from the token endpoint is retried with jittered backoff; wrong credentials are retried
 * slowly and reported, since only an operator can fix them. The token endpoint is the hub, so
 * it is reached with the same `hub.tls` (CA, client certificate) as the data requests.
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Agent, request, type Dispatcher } from 'undici';
import { describeNetworkError } from '../net/network-error.js';
import { parseRetryAfter, retryDelay } from '../net/retry-policy.js';
import type { HubTlsMaterial } from '../net/tls.js';
import { MachineToken } from './token.js';

export interface UserTokenProviderOptions {
  hubUrl: string;
  tokenPath: string;
  username: string;
  passwordFile: string;
  clientId?: string | undefined;
  stateDir: string;
  logger: Logger;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  /** hub.tls as read at start (readHubTls); used when no dispatcher is given. */
  tls?: HubTlsMaterial | undefined;
  /** Backoff for retryable token-endpoint failures. */
  retry?: { initialDelayMs: number; maxDelayMs: number };
}

interface Cached {
  accessToken: string;
  expiresAt: number;
  username: string;
}

const REFRESH_BEFORE_MS = 60_000;
const BAD_CREDENTIALS_RETRY_MS = 5 * 60_000;
export const USER_TOKEN_CACHE = 'user-token.json';

export class UserTokenProvider {
  private token: MachineToken | null = null;
  private expiresAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private stopped = false;
  private fetching: Promise<boolean> | null = null;
  private lastProblem: string | null = 'no user token yet';
  private lastRejected = 0;
  private readonly listeners: Array<(token: MachineToken) => void> = [];
  private readonly cacheFile: string;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly ownsDispatcher: boolean;

  constructor(private readonly opts: UserTokenProviderOptions) {
    this.cacheFile = path.join(opts.stateDir, USER_TOKEN_CACHE);
    this.ownsDispatcher = opts.dispatcher === undefined && opts.tls !== undefined;
    this.dispatcher = this.ownsDispatcher ? new Agent({ connect: { ...opts.tls } }) : opts.dispatcher;
  }

  current(): MachineToken | null {
    return this.token !== null && Date.now() < this.expiresAt ? this.token : null;
  }

  /** Why there is no usable token, or null. */
  problem(): string | null {
    return this.current() === null ? this.lastProblem ?? 'user token expired' : null;
  }

  onChange(listener: (token: MachineToken) => void): void {
    this.listeners.push(listener);
  }

  /** Uses a cached token that is still good for more than a minute, else asks for one. */
  start(): void {
    const cached = this.readCache();
    if (cached !== null) {
      this.use(cached, 'cache');
      this.schedule(cached.expiresAt - REFRESH_BEFORE_MS - Date.now());
    } else {
      this.schedule(0);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ownsDispatcher) void this.dispatcher!.close().catch(() => undefined);
  }

  /** SIGHUP: fetch a fresh token now. */
  async reload(_reason: string): Promise<boolean> {
    return this.fetchNow();
  }

  /** The hub refused the current token (401): fetch another, at most once a minute. */
  rejected(): void {
    if (Date.now() - this.lastRejected < 60_000) return;
    this.lastRejected = Date.now();
    this.expiresAt = 0;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fetchNow(), Math.max(0, ms));
    this.timer.unref();
  }

  private fetchNow(): Promise<boolean> {
    this.fetching ??= this.fetchOnce().finally(() => (this.fetching = null));
    return this.fetching;
  }

  private async fetchOnce(): Promise<boolean> {
    const { logger } = this.opts;
    let password: string;
    try {
      password = readFileSync(this.opts.passwordFile, 'utf8').trim();
    } catch (err) {
      this.fail(`hub.auth.password_file ${this.opts.passwordFile} cannot be read (${(err as NodeJS.ErrnoException).code})`, BAD_CREDENTIALS_RETRY_MS);
      return false;
    }
    const form = new URLSearchParams({ grant_type: 'password', username: this.opts.username, password });
    if (this.opts.clientId !== undefined) form.set('client_id', this.opts.clientId);
    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    let body: unknown;
    try {
      const res = await request(new URL(this.opts.tokenPath, this.opts.hubUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
      status = res.statusCode;
      headers = res.headers;
      body = await res.body.json().catch(() => undefined);
    } catch (err) {
      this.retryLater(`token endpoint unreachable: ${describeNetworkError(err).reason}`, undefined);
      return false;
    }
    const b = body as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (status === 200 && typeof b?.access_token === 'string' && typeof b.expires_in === 'number') {
      const cached = { accessToken: b.access_token, expiresAt: Date.now() + b.expires_in * 1000, username: this.opts.username };
      this.writeCache(cached);
      this.use(cached, 'token endpoint');
      this.attempt = 0;
      this.schedule(cached.expiresAt - REFRESH_BEFORE_MS - Date.now());
      return true;
    }
    if (status === 429 || status >= 500) {
      this.retryLater(`token endpoint answered ${status}`, parseRetryAfter(headers['retry-after']));
      return false;
    }
    this.fail(`token endpoint refused the credentials of "${this.opts.username}" (HTTP ${status}); check hub.auth.username and the password file`, BAD_CREDENTIALS_RETRY_MS);
    logger.debug({ event: 'user_token_refused', status });
    return false;
  }

  private retryLater(reason: string, retryAfterMs: number | undefined): void {
    this.attempt++;
    const settings = this.opts.retry ?? { initialDelayMs: 1000, maxDelayMs: 300_000 };
    const delay = retryDelay(this.attempt, retryAfterMs, settings);
    this.fail(reason, delay);
  }

  private fail(reason: string, retryInMs: number): void {
    this.lastProblem = reason;
    this.opts.logger.warn({ event: 'user_token_failed', reason, retry_in_ms: retryInMs }, `cannot get a user token: ${reason}`);
    this.schedule(retryInMs);
  }

  private use(cached: Cached, from: string): void {
    this.token = new MachineToken(cached.accessToken, `oauth:${cached.username}`);
    this.expiresAt = cached.expiresAt;
    this.lastProblem = null;
    this.opts.logger.info(
      { event: 'user_token_ready', from, fingerprint: this.token.fingerprint, expires_at: new Date(cached.expiresAt).toISOString() },
      `user token ${this.token.fingerprint} in use (from ${from})`,
    );
    for (const listener of this.listeners) listener(this.token);
  }

  private readCache(): Cached | null {
    try {
      const cached = JSON.parse(readFileSync(this.cacheFile, 'utf8')) as Cached;
      if (cached.username !== this.opts.username || cached.expiresAt - REFRESH_BEFORE_MS <= Date.now()) return null;
      return cached;
    } catch {
      return null;
    }
  }

  private writeCache(cached: Cached): void {
    const tmp = `${this.cacheFile}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(cached), { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.cacheFile);
    } catch (err) {
      this.opts.logger.warn({ event: 'user_token_cache_failed', error: (err as Error).message }, 'could not cache the user token in state_dir');
    }
  }
}
