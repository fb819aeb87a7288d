/**
 * The one wait in the agent that others can cut short (a source between polls, the shipper
 * while paused or idle, the hub gate while throttled): a `timers/promises` delay on an
 * AbortSignal. `wake()` ends every sleep in progress at once; a signal given to `sleep()` (a
 * stop, a failed round) ends that one. A sleep always resolves, woken or not, so callers look
 * at their state again instead of telling an error from a wake-up.
 *
 * No AbortSignal.any: on Node 20 a long-lived signal keeps an entry for every signal combined
 * from it (a slow leak); listeners are added and removed per sleep instead.
 */
import { setTimeout as delay } from 'node:timers/promises';

export class WakeableSleep {
  private readonly sleeping = new Set<AbortController>();

  async sleep(ms: number, ...signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> {
    if (signals.some((s) => s?.aborted)) return;
    const controller = new AbortController();
    const wake = () => controller.abort();
    for (const s of signals) s?.addEventListener('abort', wake, { once: true });
    this.sleeping.add(controller);
    try {
      await delay(ms, undefined, { signal: controller.signal });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    } finally {
      this.sleeping.delete(controller);
      for (const s of signals) s?.removeEventListener('abort', wake);
    }
  }

  /** Ends every sleep in progress now (a later sleep is not affected). */
  wake(): void {
    for (const controller of this.sleeping) controller.abort();
  }

  get isSleeping(): boolean {
    return this.sleeping.size > 0;
  }
}
