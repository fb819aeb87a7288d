// Grouping parsed chunks for one outbox transaction: by size, by time, and early when a source
// waits for its chunks to be acknowledged (a real InFlightLimit reports the wait).
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/parse/reading.js';
import { batchForOutbox } from '../../src/pipeline/batch.js';
import type { ParsedChunk } from '../../src/pipeline/parse-chunk.js';
import { InFlightLimit } from '../../src/sources/source.js';
import { waitFor } from '../helpers/wait.js';

function chunk(readings: number, ack: () => void = () => {}): ParsedChunk {
  const list = Array.from({ length: readings }, (_, i) => ({ sensor: 's', measure: 'm', ts: i, value: i }) as unknown as Reading);
  return { batch: { source: 'test', lane: 0, readings: list, deadLetters: [] }, ack };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

let teardown: (() => void) | undefined;
afterEach(() => teardown?.());

function collect(maxReadings: number, maxWaitMs: number, stalls?: InFlightLimit) {
  const input = new Subject<ParsedChunk>();
  const groups: number[][] = [];
  const sub = input
    .pipe(batchForOutbox(maxReadings, maxWaitMs, stalls?.waits$))
    .subscribe((group) => {
      groups.push(group.map((c) => c.batch.readings.length));
      for (const c of group) c.ack();
    });
  teardown = () => sub.unsubscribe();
  return { input, groups };
}

describe('batchForOutbox', () => {
  it('emits a group once it holds maxReadings readings, and the rest after maxWait', async () => {
    const { input, groups } = collect(100, 30);
    input.next(chunk(60));
    input.next(chunk(50));
    expect(groups).toEqual([[60, 50]]);
    input.next(chunk(10));
    await turn();
    expect(groups).toHaveLength(1); // a small group waits for the timer
    await waitFor(() => groups.length === 2, 'the timed flush');
    expect(groups[1]).toEqual([10]);
  });

  it('commits at once when a source waits for an acknowledgement, without waiting for maxWait', async () => {
    const limit = new InFlightLimit(2);
    const { input, groups } = collect(10_000, 60_000, limit);
    // A source emitting as fast as its limit lets it: two chunks, then the third must wait.
    const source = (async () => {
      for (let i = 0; i < 3; i++) {
        await limit.acquire();
        input.next(chunk(5, () => limit.release()));
      }
    })();
    await waitFor(() => groups.length >= 1, 'the early flush');
    expect(groups[0]).toEqual([5, 5]);
    await source; // the flush acknowledged the chunks, so the third acquire went through
    expect(limit.count).toBe(1);
  });

  it('ignores a stall while it holds nothing', async () => {
    const limit = new InFlightLimit(1);
    const { groups } = collect(10_000, 60_000, limit);
    await limit.acquire();
    const waiting = limit.acquire(); // reports a stall with an empty group
    await turn();
    expect(groups).toEqual([]);
    limit.release();
    await waiting;
  });
});
