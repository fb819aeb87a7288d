/** Monotonic clock helpers and bounded waiting: every loop in the benchmarks has a deadline. */
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Milliseconds on a monotonic clock. */
export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Polls `check` (sync or async) every `intervalMs` until it returns a truthy value, which is
 * returned; throws after `timeoutMs` with `what` in the message. `abort()` returning a string
 * stops the wait early with that reason (e.g. the agent exited).
 */
export async function waitFor(check, { what, timeoutMs, intervalMs = 100, abort }) {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    const reason = abort?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (nowMs() > deadline) throw new Error(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(intervalMs);
  }
}

/** Resolves with the promise's value, or with `fallback` after `ms` (the timer never outlives the wait). */
export async function within(promise, ms, fallback = null) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
