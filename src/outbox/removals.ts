/**
 * Rows leaving the outbox: acknowledged by the hub (deleted), refused by it for good or aged
 * out locally (moved to dead letters, each with its own stage and counter), or dropped unsent to
 * make room (`when_full: drop_oldest`). Each removal is one transaction with its counters and,
 * for a batch, the forgetting of its in-flight record.
 */
import type { Database, Statement } from 'better-sqlite3';
import { withoutFsync } from './db.js';
import type { Counters } from './counters.js';
import type { DeadLetters } from './dead-letters.js';
import type { InflightLedger } from './inflight.js';
import { LANES_WITH_READINGS_SQL } from './lanes.js';
import type { StreamRegistry } from './streams.js';
import { LIVE_LANE, type WaitingReading, type WaitingSpectrum } from './types.js';
import { decodeValue } from './values.js';

export class Removals {
  private count = 0;
  private readonly deleteReading: Statement;
  private readonly deleteSpectrum: Statement;
  private readonly deleteReadingRun: Statement;
  private readonly deleteSpectrumRun: Statement;
  private readonly lanes: Statement;
  private readonly oldestIdsOfLane: Statement;
  private readonly readingsBefore: Statement;

  constructor(
    private readonly db: Database,
    private readonly streams: StreamRegistry,
    private readonly deadLetters: DeadLetters,
    private readonly ledger: InflightLedger,
    private readonly tally: Counters,
  ) {
    this.deleteReading = db.prepare('DELETE FROM readings WHERE lane = ? AND id = ?');
    this.deleteSpectrum = db.prepare('DELETE FROM spectra WHERE lane = ? AND id = ?');
    this.deleteReadingRun = db.prepare('DELETE FROM readings WHERE lane = ? AND id BETWEEN ? AND ?');
    this.deleteSpectrumRun = db.prepare('DELETE FROM spectra WHERE lane = ? AND id BETWEEN ? AND ?');
    this.lanes = db.prepare(LANES_WITH_READINGS_SQL).pluck();
    this.oldestIdsOfLane = db.prepare('SELECT id FROM readings WHERE lane = ? ORDER BY id LIMIT ?').pluck();
    // No index on ts: a scan of the lane, run at most once a minute and only while delivery fails.
    this.readingsBefore = db.prepare('SELECT id, stream, ts, value FROM readings WHERE lane = ? AND ts < ? ORDER BY id LIMIT ?').raw();
  }

  /**
   * Removals of waiting readings other than acknowledgements (dead letters, drops, expiry) so
   * far: a round planned ahead of time is only sent if nothing was removed meanwhile.
   */
  get unacknowledged(): number {
    return this.count;
  }

  /**
   * The hub accepted these rows: delete them (and their in-flight record) in one transaction.
   * Without an fsync of its own: lost in a power cut, it only means the batch is sent again (same
   * id); a killed process loses nothing. One per request, it was the largest fsync count.
   */
  ack(kind: 'readings' | 'spectra', ids: readonly number[], batchId: string | undefined, lane: number): void {
    const [del, delRun, counter] =
      kind === 'readings' ? [this.deleteReading, this.deleteReadingRun, 'delivered'] : [this.deleteSpectrum, this.deleteSpectrumRun, 'spectra.delivered'];
    withoutFsync(this.db, () =>
      this.db.transaction(() => {
        const n = deleteIds(lane, ids, del, delRun);
        if (n > 0) {
          this.tally.bump(counter, n);
          if (lane !== LIVE_LANE) this.tally.bump(`lane.${lane}.delivered`, n);
        }
        if (batchId !== undefined) this.ledger.forget(batchId);
      })(),
    );
  }

  /** Moves readings to dead letters of `stage`, counted under `counter` (rejected or expired). */
  toDeadLetters(readings: readonly WaitingReading[], lane: number, reason: string, stage: 'hub' | 'expired', batchId?: string): void {
    const counter = stage === 'hub' ? 'rejected' : 'expired';
    this.count++;
    this.db.transaction(() => {
      if (batchId !== undefined) this.ledger.forget(batchId);
      const now = Date.now();
      let n = 0;
      for (const r of readings) {
        if (this.deleteReading.run(lane, r.id).changes === 0) continue;
        n++;
        this.deadLetters.add(
          { stage, source: 'hub', reason, lane, reading: { sensor: r.sensor, measure: r.measure, ts: r.ts, value: r.value } },
          now,
        );
      }
      if (n > 0) this.tally.bumpLane(counter, lane, n);
    })();
  }

  /** The hub refused these spectra for good: into dead letters with its reason. */
  rejectSpectra(spectra: readonly WaitingSpectrum[], lane: number, reason: string, batchId?: string): void {
    this.db.transaction(() => {
      if (batchId !== undefined) this.ledger.forget(batchId);
      const now = Date.now();
      let n = 0;
      for (const s of spectra) {
        if (this.deleteSpectrum.run(lane, s.id).changes === 0) continue;
        n++;
        this.deadLetters.add({ stage: 'hub', source: 'hub', reason, lane, raw: `{"sensor":${JSON.stringify(s.sensor)},"ts":${s.ts},"spectrum":${s.body}}` }, now);
      }
      if (n > 0) {
        this.tally.bump('spectra.rejected', n);
        if (lane !== LIVE_LANE) this.tally.bump(`lane.${lane}.rejected`, n);
      }
    })();
  }

  /** Deletes up to `n` of the oldest readings of any lane, unsent, counted as dropped. Returns how many. */
  dropOldest(n: number): number {
    this.count++;
    return this.db.transaction(() => {
      // The n smallest ids of all lanes: each lane's n oldest, merged (lanes share one id sequence).
      const candidates: Array<[id: number, lane: number]> = [];
      for (const lane of this.lanes.all() as number[]) {
        for (const id of this.oldestIdsOfLane.all(lane, n) as number[]) candidates.push([id, lane]);
      }
      candidates.sort((a, b) => a[0] - b[0]);
      const idsByLane = new Map<number, number[]>();
      for (const [id, lane] of candidates.slice(0, n)) {
        let ids = idsByLane.get(lane);
        if (ids === undefined) idsByLane.set(lane, (ids = []));
        ids.push(id);
      }
      let dropped = 0;
      for (const [lane, ids] of idsByLane) {
        const k = deleteIds(lane, ids, this.deleteReading, this.deleteReadingRun);
        dropped += k;
        if (lane !== LIVE_LANE && k > 0) this.tally.bump(`lane.${lane}.dropped`, k);
      }
      if (dropped > 0) this.tally.bump('dropped', dropped);
      return dropped;
    })();
  }

  /** Readings of a lane whose reading time is before `cutoffTs` move to dead letters, stage expired. */
  expire(lane: number, cutoffTs: number, reason: string, limit: number): number {
    const rows = this.readingsBefore.all(lane, cutoffTs, limit) as Array<[number, number, number, number | string]>;
    const expired = rows.map(([id, stream, ts, stored]) => {
      const info = this.streams.info(stream);
      return { id, sensor: info.sensor, measure: info.measure, kind: info.kind, ts, value: decodeValue(stored, info.kind) };
    });
    if (expired.length > 0) this.toDeadLetters(expired, lane, reason, 'expired');
    return expired.length;
  }
}

/**
 * Deletes the rows `ids` of `lane` and returns how many were still there. A run of consecutive
 * ids (n, n+1, ..., m) goes in one range DELETE: the run names every id of its range, so no row
 * outside `ids` can be in it, whatever its sensor. Other ids go one by one. Append gives a
 * sensor's rows of one transaction consecutive ids, so a batch is usually one run per transaction.
 */
function deleteIds(lane: number, ids: readonly number[], del: Statement, delRun: Statement): number {
  let n = 0;
  for (let i = 0; i < ids.length; ) {
    let j = i + 1;
    while (j < ids.length && ids[j] === ids[j - 1]! + 1) j++;
    n += (j - i === 1 ? del.run(lane, ids[i]) : delRun.run(lane, ids[i], ids[j - 1])).changes;
    i = j;
  }
  return n;
}
