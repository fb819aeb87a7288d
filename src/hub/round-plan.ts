/**
 * What goes into one round of requests: which waiting rows are read, and how they are cut
 * into per-sensor batches with their encoded points. Pure functions of an outbox connection,
 * so the shipper's thread and the planner worker (planner-worker.ts) plan rounds identically.
 */
import type { OutboxReader } from '../outbox/reader.js';
import type { WaitingReading } from '../outbox/types.js';
import type { ReadingsBatch } from './batch-sender.js';
import type { TakeBuffer } from './body-buffers.js';
import { batchId, encodePoints, planBatches } from './encode.js';

export interface RoundSettings {
  lane: number;
  maxPoints: number;
  maxBytes: number;
  /** Requests in flight at once (hub.concurrency). */
  concurrency: number;
}

/**
 * Where the round after a round may start, while that round is still on the wire: past
 * `afterId` (every row up to it is in the round, in an earlier round, or of a sensor left out of
 * every round), and past `floor.get(sensor)` for each of the round's sensors (its rows up to there,
 * topped up past `afterId`, are in the round).
 */
export interface Continuation {
  afterId: number;
  floor: Map<string, number>;
}

export interface RoundRows {
  readings: WaitingReading[];
  /** Rows waiting that the read saw (for a probe: the window, of which it takes one sensor's rows). */
  waiting: number;
  /** Where the next round may be planned from, or null when it cannot be planned before this one is done. */
  next: Continuation | null;
}

/**
 * The rows of the next round: the oldest `max_points × concurrency` (after the round on the wire,
 * with `from`), widened and topped up per sensor (fillPerSensor). Each sensor's rows in a round
 * are contiguous from its oldest waiting row, so consecutive rounds keep every sensor in order;
 * `next` says where the round after this one may start while this one is on the wire.
 */
export function readRound(
  outbox: OutboxReader,
  s: RoundSettings,
  opts: { probe: boolean; from?: Continuation | undefined; excludeStreams: readonly number[] },
): RoundRows {
  const { lane, maxPoints } = s;
  const concurrency = opts.probe ? 1 : s.concurrency;
  const from = opts.from;
  // Rows of the round on the wire (each of its sensors up to its floor) are not read again.
  const floors = from === undefined ? [] : [...from.floor].map(([sensor, floor]) => ({ streams: outbox.streams.streamsOf(sensor), floor }));
  let budget = maxPoints * concurrency;
  const window = outbox.readWaiting(lane, budget, opts.excludeStreams, from?.afterId ?? 0, floors);
  // A probe is one request to learn whether the hub answers: the oldest sensor's rows of the
  // window, not topped up (a hub that is down for hours gets one every retry).
  if (opts.probe) return { readings: window.filter((r) => r.sensor === window[0]!.sensor), waiting: window.length, next: null };
  // A short window is every row waiting after `afterId` (but for sensors left out): complete.
  if (window.length < budget) return { readings: window, waiting: window.length, next: continuation(window, window) };
  // More sensors than requests in flight: widen the window so that each can fill a request
  // (up to twice the usual round), then top up the ones still short.
  const sensors = new Set(window.map((r) => r.sensor)).size;
  if (sensors > concurrency && !opts.probe) {
    const wider = Math.min(sensors, 2 * concurrency) * maxPoints;
    const more = outbox.readWaiting(lane, wider - budget, opts.excludeStreams, window.at(-1)!.id, floors);
    for (const r of more) window.push(r);
    if (more.length < wider - budget) return { readings: window, waiting: window.length, next: continuation(window, window) };
    budget = wider;
  }
  const readings = fillPerSensor(outbox, s, window, budget);
  return { readings, waiting: Math.max(window.length, readings.length), next: continuation(window, readings) };
}

/**
 * The next round starts after the last window row before the first one left out of the round
 * (a sensor that did not fit the budget), and past each of the round's sensors' last row.
 * Each floor is one term of the next read's SQL: with more than MAX_FLOORS the round after
 * is not planned ahead (it is read from the oldest row once this one is done).
 */
function continuation(window: readonly WaitingReading[], round: readonly WaitingReading[]): Continuation | null {
  if (round.length === 0) return null;
  const last = new Map<string, number>();
  for (const r of round) last.set(r.sensor, r.id); // rows are in id order per sensor
  // Always looked for: top-ups can make up a left-out sensor's count, and the round can end on
  // the window's last row, so neither the length nor the last row tells.
  const firstLeftOut = window.find((r) => !last.has(r.sensor));
  const afterId = firstLeftOut === undefined ? window.at(-1)!.id : firstLeftOut.id - 1;
  const floor = new Map([...last].filter(([, id]) => id > afterId)); // rows up to afterId are not read anyway
  return floor.size > MAX_FLOORS ? null : { afterId, floor };
}

const MAX_FLOORS = 64;

/**
 * A full read window shared by many sensors would give each a small request (8 sensors:
 * 2,500 points each of a 5,000 max). Fill the oldest sensors' requests to max_points with
 * their next rows instead, within the same budget; the sensors that no longer fit stay
 * first in line for the next round. Per sensor the rows stay contiguous and in id order.
 * (Each top-up scans the rows after the window for that sensor's streams: a wider window,
 * above, avoids most of them.)
 */
function fillPerSensor(outbox: OutboxReader, s: RoundSettings, window: WaitingReading[], budget: number): WaitingReading[] {
  const out: WaitingReading[] = [];
  for (const [sensor, rows] of groupBySensor(window)) {
    if (out.length >= budget) break;
    const missing = s.maxPoints - (rows.length % s.maxPoints);
    if (missing < s.maxPoints) {
      for (const r of outbox.readWaitingOfSensor(s.lane, sensor, rows.at(-1)!.id, missing)) rows.push(r);
    }
    for (const r of rows) out.push(r);
  }
  return out;
}

/**
 * Cuts read rows into request-sized batches per sensor, encoded once here for their request
 * (into buffers from `buffers`: the planner worker's pool, or fresh ones).
 */
export function planReadingBatches(rows: readonly WaitingReading[], s: RoundSettings, buffers?: TakeBuffer): ReadingsBatch[] {
  const batches: ReadingsBatch[] = [];
  for (const [sensor, list] of groupBySensor(rows)) {
    for (const part of planBatches(list, s.maxPoints, s.maxBytes)) {
      const items = part.readings;
      batches.push({
        kind: 'readings',
        record: { kind: 'readings', batchId: batchId(s.lane, sensor, items), lane: s.lane, sensor, firstId: items[0]!.id, lastId: items.at(-1)!.id },
        ids: items.map((r) => r.id),
        items,
        points: encodePoints(part.points, part.bytes, buffers),
      });
    }
  }
  return batches;
}

export function groupBySensor<T extends { sensor: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    let list = out.get(r.sensor);
    if (list === undefined) out.set(r.sensor, (list = []));
    list.push(r);
  }
  return out;
}
