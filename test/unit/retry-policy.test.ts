import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, retryDelay } from '../../src/net/retry-policy.js';

const settings = { initialDelayMs: 1000, maxDelayMs: 300_000 };

describe('retry policy', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.UTC(2026, 10, 27, 10);
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(new Date(now + 12_000).toUTCString(), now)).toBe(12_000);
    expect(parseRetryAfter(new Date(now - 5000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('grows exponentially under a cap, with full jitter', () => {
    expect(backoffDelay(1, settings, () => 0.999)).toBe(999);
    expect(backoffDelay(3, settings, () => 0.999)).toBe(3996);
    expect(backoffDelay(30, settings, () => 0.999)).toBe(299_700);
    expect(backoffDelay(3, settings, () => 0)).toBe(0);
  });

  it('lets the server decide, capped by max_delay', () => {
    expect(retryDelay(5, 2000, settings, () => 0.5)).toBe(2000);
    expect(retryDelay(1, 3_600_000, settings, () => 0.5)).toBe(300_000);
    expect(retryDelay(2, undefined, settings, () => 0.5)).toBe(1000);
  });
});
