/**
 * When to try again, as pure functions (the executor lives in the shipper).
 * - A server-given Retry-After (delta seconds or HTTP date) wins over the local schedule,
 *   capped by max_delay: the server knows its load, the cap protects against absurd values.
 * - Otherwise exponential backoff with full jitter: random(0, min(max, initial·2^(n−1))),
 *   so agents that failed together do not retry together (AWS "full jitter").
 */
export interface BackoffSettings {
  initialDelayMs: number;
  maxDelayMs: number;
  factor?: number;
}

/** Milliseconds from `now` that a Retry-After header asks for, or undefined if absent/unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Delay before attempt `attempt` (1 = the first retry). */
export function backoffDelay(attempt: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const factor = settings.factor ?? 2;
  const ceiling = Math.min(settings.maxDelayMs, settings.initialDelayMs * factor ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** The delay to wait: the server's wish (capped) if it gave one, else the jittered schedule. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  settings: BackoffSettings,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, settings.maxDelayMs);
  return backoffDelay(attempt, settings, random);
}
