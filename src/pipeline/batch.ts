/**
 * Groups parsed chunks for one outbox transaction: flush when the readings reach `maxReadings`,
 * or `maxWait` after the first item arrived, or when `stalls$` says a source waits for its chunks
 * to be acknowledged (holding them longer would only idle it), or when the input completes.
 * Unlike bufferTime it counts readings (not items), never emits an empty group and has no idle timer.
 */
import { EMPTY, Observable, type OperatorFunction } from 'rxjs';
import type { ParsedChunk } from './parse-chunk.js';

export function batchForOutbox(
  maxReadings: number,
  maxWaitMs: number,
  stalls$: Observable<void> = EMPTY,
): OperatorFunction<ParsedChunk, ParsedChunk[]> {
  return (input) =>
    new Observable<ParsedChunk[]>((subscriber) => {
      let group: ParsedChunk[] = [];
      let readings = 0;
      let timer: NodeJS.Timeout | null = null;
      const flush = () => {
        if (timer !== null) clearTimeout(timer);
        timer = null;
        if (group.length === 0) return;
        const out = group;
        group = [];
        readings = 0;
        subscriber.next(out);
      };
      let stallQueued = false;
      // Flushed from a microtask: the stall is reported from inside the source's acquire().
      const stalls = stalls$.subscribe(() => {
        if (stallQueued || group.length === 0) return;
        stallQueued = true;
        queueMicrotask(() => {
          stallQueued = false;
          flush();
        });
      });
      const subscription = input.subscribe({
        next(item) {
          group.push(item);
          readings += item.batch.readings.length + item.batch.deadLetters.length;
          if (readings >= maxReadings) flush();
          else if (timer === null) timer = setTimeout(flush, maxWaitMs);
        },
        error(err) {
          flush();
          subscriber.error(err);
        },
        complete() {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        if (timer !== null) clearTimeout(timer);
        stalls.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
