/**
 * What goes into one round of requests: which waiting rows are claimed, and how they are cut
 * into per-sensor batches with their encoded points. Pure functions of an outbox connection,
 * so the shipper's thread and the planner worker (planner-worker.ts) plan rounds identically.
 */
import type { Outbox } from '../outbox/outbox.js';
import type { ClaimedReading } from '../outbox/types.js';
import type { ReadingsJob } from './batch-sender.js';
import { batchId, planBatches } from './encode.js';

export interface RoundSettings {
  lane: number;
  maxPoints: number;
  maxBytes: number;
  /** Requests in flight at once (hub.concurrency). */
  concurrency: number;
}

export interface ClaimedRound {
  readings: ClaimedReading[];
  /** Every waiting row up to the last id is in the round: the next may be planned from the rows past it. */
  complete: boolean;
}

/**
 * The rows of the next round: the oldest `max_points × concurrency` after `afterId`, widened
 * and topped up per sensor (fillPerSensor). `complete` is true when the round is every waiting
 * row up to its last id (nothing was topped up past the window or left out of it).
 */
export function claimRound(outbox: Outbox, s: RoundSettings, opts: { probe: boolean; afterId?: number; excludeStreams: readonly number[] }): ClaimedRound {
  const { lane, maxPoints } = s;
  const concurrency = opts.probe ? 1 : s.concurrency;
  let budget = maxPoints * concurrency;
  const window = outbox.claim(lane, budget, opts.excludeStreams, opts.afterId ?? 0);
  // A short window is every row waiting after `afterId` (but for sensors left out): complete.
  if (window.length < budget) return { readings: window, complete: window.length > 0 };
  // More sensors than requests in flight: widen the window so that each can fill a request
  // (up to twice the usual round), then top up the ones still short.
  const sensors = new Set(window.map((r) => r.sensor)).size;
  if (sensors > concurrency && !opts.probe) {
    const wider = Math.min(sensors, 2 * concurrency) * maxPoints;
    for (const r of outbox.claim(lane, wider - budget, opts.excludeStreams, window.at(-1)!.id)) window.push(r);
    budget = wider;
  }
  if (window.length < budget) return { readings: window, complete: true };
  const lastId = window.at(-1)!.id;
  const readings = fillPerSensor(outbox, s, window, budget);
  const complete = readings.length === window.length && readings.every((r) => r.id <= lastId);
  return { readings, complete };
}

/**
 * A full claim window shared by many sensors would give each a small request (8 sensors:
 * 2,500 points each of a 5,000 max). Fill the oldest sensors' requests to max_points with
 * their next rows instead, within the same budget; the sensors that no longer fit stay
 * first in line for the next round. Per sensor the rows stay contiguous and in id order.
 * (Each top-up scans the rows after the window for that sensor's streams: a wider window,
 * above, avoids most of them.)
 */
function fillPerSensor(outbox: Outbox, s: RoundSettings, window: ClaimedReading[], budget: number): ClaimedReading[] {
  const out: ClaimedReading[] = [];
  for (const [sensor, rows] of groupBySensor(window)) {
    if (out.length >= budget) break;
    const missing = s.maxPoints - (rows.length % s.maxPoints);
    if (missing < s.maxPoints) {
      for (const r of outbox.claimOfSensor(s.lane, sensor, rows.at(-1)!.id, missing)) rows.push(r);
    }
    for (const r of rows) out.push(r);
  }
  return out;
}

/** Cuts claimed rows into request-sized batches per sensor, encoded once here for their request. */
export function planReadingJobs(rows: readonly ClaimedReading[], s: RoundSettings): ReadingsJob[] {
  const jobs: ReadingsJob[] = [];
  for (const [sensor, list] of groupBySensor(rows)) {
    for (const batch of planBatches(list, s.maxPoints, s.maxBytes)) {
      const items = batch.readings;
      jobs.push({
        record: { kind: 'readings', batchId: batchId(s.lane, sensor, items), lane: s.lane, sensor, firstId: items[0]!.id, lastId: items.at(-1)!.id },
        ids: items.map((r) => r.id),
        items,
        points: batch.points.join(','),
      });
    }
  }
  return jobs;
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
