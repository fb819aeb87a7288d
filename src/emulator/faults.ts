/**
 * Programmable misbehaviour of the emulated hub: a queue of counted faults and a token-bucket
 * rate limit, both consulted after a request body was read and before it is processed.
 *
 * Guarantees:
 * - Faults are taken in the order they were added; each applies to `times` matching requests
 *   (default 1) and is then gone. `endpoint: 'any'` matches every hub endpoint, never the
 *   `/_emulator/` control endpoints.
 * - A fault in phase `before` (default) answers instead of the hub: nothing is stored. A fault in
 *   phase `after` lets the request be processed and stored first, then replaces or withholds the
 *   answer: the "lost acknowledgement" case that makes clients send a batch twice.
 * - The rate limit covers the data endpoints (graphql, spectra) only. Its clock is injectable so
 *   its arithmetic is testable without sleeping.
 */

export type HubEndpoint = 'graphql' | 'sensors' | 'spectra' | 'oauth';
export type FaultEndpoint = HubEndpoint | 'any';

export interface FaultSpec {
  endpoint?: FaultEndpoint;
  /** Answer with this status (and `body`, `retryAfter`) instead of the hub's answer. */
  status?: number;
  /** Raw Retry-After header value: delta seconds ("3") or an HTTP date. */
  retryAfter?: string;
  /** JSON body of the answer; a string is sent as text/plain (think of a proxy's HTML page). */
  body?: unknown;
  /** How many matching requests this fault applies to. Default 1; Infinity (in-process only) = until cleared. */
  times?: number;
  /** Wait this long before answering (or before processing, in phase `before` without status). */
  delayMs?: number;
  /** Destroy the socket without answering. */
  reset?: boolean;
  /** Answer with a text body of this many bytes (a proxy's huge page; bounded-read tests). */
  bodyBytes?: number;
  /** Only requests whose raw body contains this text (one poisoned batch among healthy ones). */
  bodyIncludes?: string;
  /** `before` (default): nothing is stored. `after`: the request is stored, then the fault applies. */
  phase?: 'before' | 'after';
}

export interface RateLimitSpec {
  requestsPerSecond: number;
  /** Bucket size; default max(1, requestsPerSecond). */
  burst?: number;
  /** Fixed Retry-After seconds; default: the time until a token is available, rounded up. */
  retryAfterSeconds?: number;
  status?: 429 | 503;
}

export interface ActiveFault extends Required<Pick<FaultSpec, 'endpoint' | 'times' | 'phase'>> {
  status?: number;
  retryAfter?: string;
  body?: unknown;
  delayMs?: number;
  reset?: boolean;
  bodyBytes?: number;
  bodyIncludes?: string;
}

export type Throttle = { status: number; retryAfter: string };

/** Validates a fault spec from untrusted JSON (control endpoint); returns errors or the fault. */
export function parseFaultSpec(raw: unknown): { ok: true; value: FaultSpec } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, errors: ['fault must be an object'] };
  const f = raw as Record<string, unknown>;
  const allowed = ['endpoint', 'status', 'retryAfter', 'body', 'times', 'delayMs', 'reset', 'phase', 'bodyBytes', 'bodyIncludes'];
  for (const k of Object.keys(f)) if (!allowed.includes(k)) errors.push(`${k}: unknown field`);
  if (f.endpoint !== undefined && !['graphql', 'sensors', 'spectra', 'oauth', 'any'].includes(f.endpoint as string)) {
    errors.push('endpoint: must be graphql, sensors, spectra, oauth or any');
  }
  if (f.status !== undefined && (!Number.isInteger(f.status) || (f.status as number) < 100 || (f.status as number) > 599)) {
    errors.push('status: must be an HTTP status code 100-599');
  }
  if (f.retryAfter !== undefined && typeof f.retryAfter !== 'string') errors.push('retryAfter: must be a string');
  if (f.times !== undefined && f.times !== Number.POSITIVE_INFINITY && (!Number.isInteger(f.times) || (f.times as number) < 1)) {
    errors.push('times: must be a positive integer');
  }
  if (f.delayMs !== undefined && (typeof f.delayMs !== 'number' || !Number.isFinite(f.delayMs) || f.delayMs < 0)) {
    errors.push('delayMs: must be a number >= 0');
  }
  if (f.reset !== undefined && typeof f.reset !== 'boolean') errors.push('reset: must be a boolean');
  if (f.bodyBytes !== undefined && (!Number.isInteger(f.bodyBytes) || (f.bodyBytes as number) < 0 || (f.bodyBytes as number) > 256 * 1024 ** 2)) {
    errors.push('bodyBytes: must be an integer from 0 to 268435456');
  }
  if (f.bodyBytes !== undefined && f.body !== undefined) errors.push('bodyBytes: give body or bodyBytes, not both');
  if (f.bodyIncludes !== undefined && (typeof f.bodyIncludes !== 'string' || f.bodyIncludes.length === 0)) errors.push('bodyIncludes: must be a non-empty string');
  if (f.phase !== undefined && f.phase !== 'before' && f.phase !== 'after') errors.push('phase: must be before or after');
  if (errors.length === 0 && f.status === undefined && f.reset !== true && f.delayMs === undefined) {
    errors.push('a fault needs at least one of status, reset, delayMs');
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: f as FaultSpec };
}

export function parseRateLimitSpec(raw: unknown): { ok: true; value: RateLimitSpec } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, errors: ['rateLimit must be an object'] };
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!['requestsPerSecond', 'burst', 'retryAfterSeconds', 'status'].includes(k)) errors.push(`rateLimit.${k}: unknown field`);
  }
  if (typeof r.requestsPerSecond !== 'number' || !(r.requestsPerSecond > 0) || !Number.isFinite(r.requestsPerSecond)) {
    errors.push('rateLimit.requestsPerSecond: must be a number > 0');
  }
  if (r.burst !== undefined && (typeof r.burst !== 'number' || !(r.burst >= 1))) errors.push('rateLimit.burst: must be >= 1');
  if (r.retryAfterSeconds !== undefined && (!Number.isInteger(r.retryAfterSeconds) || (r.retryAfterSeconds as number) < 0)) {
    errors.push('rateLimit.retryAfterSeconds: must be an integer >= 0');
  }
  if (r.status !== undefined && r.status !== 429 && r.status !== 503) errors.push('rateLimit.status: must be 429 or 503');
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: r as unknown as RateLimitSpec };
}

export class FaultPlan {
  private queue: ActiveFault[] = [];
  private limit: (RateLimitSpec & { burst: number }) | null = null;
  private tokens = 0;
  private refilledAt = 0;

  /** `now` returns milliseconds on a monotonic clock; injectable for tests. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Queues a fault. Throws on an invalid spec (a programming error in the test using it). */
  add(spec: FaultSpec): this {
    const parsed = parseFaultSpec(spec);
    if (!parsed.ok) throw new TypeError(`invalid fault: ${parsed.errors.join('; ')}`);
    this.queue.push({ ...spec, endpoint: spec.endpoint ?? 'any', times: spec.times ?? 1, phase: spec.phase ?? 'before' });
    return this;
  }

  /** Sets (or with null removes) the rate limit. The bucket starts full. */
  setRateLimit(spec: RateLimitSpec | null): this {
    if (spec === null) {
      this.limit = null;
      return this;
    }
    const parsed = parseRateLimitSpec(spec);
    if (!parsed.ok) throw new TypeError(`invalid rate limit: ${parsed.errors.join('; ')}`);
    const burst = spec.burst ?? Math.max(1, spec.requestsPerSecond);
    this.limit = { ...spec, burst };
    this.tokens = burst;
    this.refilledAt = this.now();
    return this;
  }

  get rateLimit(): RateLimitSpec | null {
    return this.limit ? { ...this.limit } : null;
  }

  /** Removes every queued fault and the rate limit. */
  clear(): void {
    this.queue = [];
    this.limit = null;
  }

  /** Faults still queued, with their remaining `times`. */
  get pending(): readonly ActiveFault[] {
    return this.queue.map((f) => ({ ...f }));
  }

  /** Takes one use of the first fault matching the endpoint (and the body, for `bodyIncludes`), if any. */
  take(endpoint: HubEndpoint, rawBody = ''): ActiveFault | undefined {
    const i = this.queue.findIndex(
      (f) => (f.endpoint === 'any' || f.endpoint === endpoint) && (f.bodyIncludes === undefined || rawBody.includes(f.bodyIncludes)),
    );
    if (i < 0) return undefined;
    const fault = this.queue[i] as ActiveFault;
    fault.times -= 1;
    if (fault.times <= 0) this.queue.splice(i, 1);
    return { ...fault };
  }

  /** Spends a rate-limit token for a data request; returns the throttle answer when none is left. */
  throttle(endpoint: HubEndpoint): Throttle | null {
    const limit = this.limit;
    if (!limit || endpoint === 'sensors') return null;
    const now = this.now();
    this.tokens = Math.min(limit.burst, this.tokens + ((now - this.refilledAt) / 1000) * limit.requestsPerSecond);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return null;
    }
    const waitSeconds = (1 - this.tokens) / limit.requestsPerSecond;
    const retryAfter = limit.retryAfterSeconds ?? Math.max(1, Math.ceil(waitSeconds));
    return { status: limit.status ?? 429, retryAfter: String(retryAfter) };
  }
}

/** A short label for the request log. */
export function describeFault(f: ActiveFault): string {
  const parts: string[] = [];
  if (f.reset) parts.push('reset');
  if (f.status !== undefined) parts.push(`status:${f.status}`);
  if (f.delayMs !== undefined) parts.push(`delay:${f.delayMs}`);
  if (f.phase === 'after') parts.push('after');
  return parts.join(',');
}
