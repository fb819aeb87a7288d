// Rounds planned one after another while the previous one is "on the wire" (round-plan.ts):
// over a real outbox with uneven sensors (so windows widen, requests are topped up past the
// window and sensors are left out), every reading is sent exactly once and each sensor's
// readings go in commit order, whatever the chain of continuations.
import { afterEach, describe, expect, it } from 'vitest';
import { readRound, type RoundRows, type RoundSettings } from '../../src/hub/round-plan.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import type { Reading } from '../../src/parse/reading.js';
import { tempDir } from '../helpers/tmp.js';
import { prng } from '../helpers/prng.js';

let outbox: Outbox | undefined;
afterEach(() => {
  outbox?.close();
  outbox = undefined;
});

/** Commits of random sizes; sensor k gets a share proportional to k + 1. */
function fill(o: Outbox, random: () => number, total: number, sensors: number): void {
  const weights = Array.from({ length: sensors }, (_, k) => k + 1);
  const sum = weights.reduce((a, b) => a + b, 0);
  let n = 0;
  while (n < total) {
    const size = Math.min(total - n, 200 + Math.floor(random() * 5000));
    const readings: Reading[] = [];
    for (let i = 0; i < size; i++, n++) {
      let pick = random() * sum;
      let k = 0;
      while (pick >= weights[k]!) pick -= weights[k++]!;
      readings.push({ sensor: `s${k}`, measure: `m${n % 3}`, ts: 1_700_000_000_000 + n, value: n });
    }
    o.append([{ source: 'test', lane: LIVE_LANE, readings, deadLetters: [] }]);
  }
}

describe('rounds planned ahead from a continuation', () => {
  for (const [seed, sensors, concurrency, maxPoints] of [
    [1, 8, 4, 500],
    [2, 12, 4, 500],
    [3, 3, 4, 500],
    [4, 20, 2, 500],
    [5, 300, 64, 2],
  ] as const) {
    it(`sends each reading once, each sensor in order (seed ${seed}, ${sensors} sensors, concurrency ${concurrency}, max_points ${maxPoints})`, () => {
      const random = prng(seed);
      outbox = Outbox.inStateDir(tempDir(), { synchronous: 'normal' });
      const o = outbox;
      fill(o, random, 30_000, sensors);
      const s: RoundSettings = { lane: LIVE_LANE, maxPoints, maxBytes: 1 << 20, concurrency };
      const sent: Array<{ id: number; sensor: string }> = [];
      let planned = 0;
      let fromOldest = 0;
      let current: RoundRows = readRound(o.reader, s, { probe: false, excludeStreams: [] });
      for (let guard = 0; current.readings.length > 0 && guard < 10_000; guard++) {
        // While `current` is on the wire, plan the next round from its continuation...
        const next = current.next === null ? null : readRound(o.reader, s, { probe: false, from: current.next, excludeStreams: [] });
        // ...then `current` is accepted and acknowledged.
        for (const r of current.readings) sent.push({ id: r.id, sensor: r.sensor });
        o.ack(current.readings.map((r) => r.id));
        if (next !== null && next.readings.length > 0) {
          planned++;
          current = next;
        } else {
          fromOldest++;
          current = readRound(o.reader, s, { probe: false, excludeStreams: [] });
        }
      }
      expect(o.counts().depth).toBe(0);
      expect(sent).toHaveLength(30_000);
      expect(new Set(sent.map((r) => r.id)).size).toBe(30_000);
      const last = new Map<string, number>();
      const outOfOrder = sent.filter((r) => {
        const before = last.get(r.sensor) ?? 0;
        last.set(r.sensor, r.id);
        return r.id < before;
      });
      expect(outOfOrder).toEqual([]);
      // The chain is used, not only the restart from the oldest row (unless there are too many sensors).
      expect(planned).toBeGreaterThan(fromOldest);
    });
  }

  it('does not plan ahead past a round with more than 64 sensors topped up past its window (one SQL term each)', () => {
    outbox = Outbox.inStateDir(tempDir(), { synchronous: 'normal' });
    const sensors = Array.from({ length: 200 }, (_, k) => `s${k}`);
    // Each commit holds one reading of every sensor: a window of 256 rows spans 200 sensors.
    for (let c = 0; c < 5; c++) {
      outbox.append([{ source: 'test', lane: LIVE_LANE, deadLetters: [], readings: sensors.map((sensor, k) => ({ sensor, measure: 'm', ts: 1_700_000_000_000 + c * 1000 + k, value: c })) }]);
    }
    const wide = readRound(outbox.reader, { lane: LIVE_LANE, maxPoints: 2, maxBytes: 1 << 20, concurrency: 64 }, { probe: false, excludeStreams: [] });
    const windowEnd = 256; // ids 1-256: the widened window (128 sensors × 2 points)
    expect(wide.readings.filter((r) => r.id > windowEnd).length).toBeGreaterThan(64); // topped up past it
    expect(wide.next).toBeNull();
    // The same data with fewer sensors per round does continue.
    const narrow = readRound(outbox.reader, { lane: LIVE_LANE, maxPoints: 2, maxBytes: 1 << 20, concurrency: 8 }, { probe: false, excludeStreams: [] });
    expect(narrow.next).not.toBeNull();
    expect(narrow.next!.floor.size).toBeLessThanOrEqual(64);
  });

  it('starts the next round before a sensor left out even when top-ups make up its count and the round ends on the window', () => {
    // ids 1:A 2:X 3-5:L 6-12:X 13-15:A 16-17:L, one commit per run (found in review).
    outbox = Outbox.inStateDir(tempDir(), { synchronous: 'normal' });
    let n = 0;
    for (const [sensor, count] of [['A', 1], ['X', 1], ['L', 3], ['X', 7], ['A', 3], ['L', 2]] as const) {
      outbox.append([{ source: 'test', lane: LIVE_LANE, deadLetters: [], readings: Array.from({ length: count }, () => ({ sensor, measure: 'm', ts: 1_700_000_000_000 + ++n, value: n })) }]);
    }
    const s: RoundSettings = { lane: LIVE_LANE, maxPoints: 4, maxBytes: 1 << 20, concurrency: 2 };
    const first = readRound(outbox.reader, s, { probe: false, excludeStreams: [] });
    expect(first.readings.map((r) => `${r.sensor}${r.id}`)).toEqual(['A1', 'A13', 'A14', 'A15', 'X2', 'X6', 'X7', 'X8', 'X9', 'X10', 'X11', 'X12']);
    expect(first.next!.afterId).toBe(2); // just before L3, the first row of the sensor left out
    const next = readRound(outbox.reader, s, { probe: false, from: first.next!, excludeStreams: [] });
    expect(next.readings.filter((r) => r.sensor === 'L').map((r) => r.id)).toEqual([3, 4, 5, 16, 17]);
    expect(next.readings.some((r) => first.readings.some((f) => f.id === r.id))).toBe(false);
  });
});
