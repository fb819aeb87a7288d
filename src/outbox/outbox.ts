/**
 * The durable outbox (goqite's contract, made durable in one SQLite file):
 * - append: readings, spectra, dead letters and the source positions they came from commit in
 *   ONE transaction, so after a crash a source resumes exactly after what the outbox holds;
 * - claim: the shipper reads the oldest rows of its lane (no row is written on claim; one
 *   process ships one lane, so claims cannot collide);
 * - ack / reject: rows leave the outbox only after the hub accepted them, or into dead_letters
 *   with the hub's reason; drop: only under `when_full: drop_oldest`, counted.
 * Counters change in the same transactions, so appended = delivered + rejected + dropped + depth
 * holds exactly, and metrics never drift from the data.
 */
import path from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import { valueKind } from '../parse/reading.js';
import type { Spectrum } from '../parse/spectrum.js';
import { openDatabase, withoutFsync, type OpenOptions } from './db.js';
import { DeadLetters } from './dead-letters.js';
import { LANES_WITH_READINGS_SQL } from './lanes.js';
import { InflightLedger, type InflightBatch } from './inflight.js';
import { StateStore } from './state-store.js';
import { StreamRegistry } from './streams.js';
import { storageFaultOf, type StorageFaults } from './storage-fault.js';
import { LIVE_LANE, type ClaimedReading, type ClaimedSpectrum, type FileCheckpoint, type IngestBatch } from './types.js';
import { OutboxReader, type StreamFloor } from './reader.js';
import { Checkpoints } from './checkpoints.js';
import { Counters, type OutboxCounts } from './counters.js';
import { HubSensorIds } from './hub-sensor-ids.js';
import { decodeValue, encodeValue } from './values.js';

export type { StreamFloor } from './reader.js';

export const OUTBOX_FILE = 'outbox.db';

/**
 * Readings per multi-row INSERT: per-statement overhead, not the B-tree, dominated one-row
 * inserts (docs/performance.md, item 2; 50, 100 and 200 measured alike). Full chunks go in one
 * statement each, the rest of a transaction one row at a time.
 */
export const ROWS_PER_INSERT = 50;

export type { OutboxCounts } from './counters.js';

export class Outbox {
  readonly db: Database;
  readonly streams: StreamRegistry;
  readonly deadLetters: DeadLetters;
  readonly state: StateStore;
  readonly ledger: InflightLedger;
  /** The claim queries (reader.ts), all the planner worker opens the database for. */
  readonly reader: OutboxReader;
  private readonly positions: Checkpoints;
  private readonly tally: Counters;
  private readonly hubIds: HubSensorIds;
  /**
   * Where failed writes that callers survive (a commit held for a retry, an acknowledgement
   * left for later) are recorded as storage faults; set by the agent, null elsewhere.
   */
  storageFaults: StorageFaults | null = null;
  private removalCount = 0;
  private readonly stmt: {
    insertReading: Statement;
    insertReadings: Statement;
    takeReadingIds: Statement;
    insertSpectrum: Statement;
    deleteReading: Statement;
    deleteSpectrum: Statement;
    deleteReadingRun: Statement;
    deleteSpectrumRun: Statement;
    lanes: Statement;
    oldestIdsOfLane: Statement;
  };

  constructor(
    readonly file: string,
    options: OpenOptions = {},
  ) {
    this.db = openDatabase(file, options);
    this.streams = new StreamRegistry(this.db);
    this.deadLetters = new DeadLetters(this.db);
    this.state = new StateStore(this.db, this.survive);
    this.ledger = new InflightLedger(this.db, this.survive);
    this.reader = new OutboxReader(this.db, this.streams);
    this.tally = new Counters(this.db);
    this.positions = new Checkpoints(this.db);
    this.hubIds = new HubSensorIds(this.db, this.survive);
    const db = this.db;
    this.stmt = {
      insertReading: db.prepare('INSERT INTO readings (lane, id, stream, ts, value) VALUES (?, ?, ?, ?, ?)'),
      insertReadings: db.prepare(
        `INSERT INTO readings (lane, id, stream, ts, value) VALUES ${new Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?)').join(', ')}`,
      ),
      // Ids for n new rows, taken in the appending transaction: unique across processes that
      // share the outbox (backfill and daemon), and never reused (migrations.ts, version 4).
      takeReadingIds: db.prepare("UPDATE sequences SET last = last + ? WHERE name = 'readings' RETURNING last").pluck(),
      insertSpectrum: db.prepare('INSERT INTO spectra (lane, sensor_id, ts, body) VALUES (?, ?, ?, ?)'),
      deleteReading: db.prepare('DELETE FROM readings WHERE lane = ? AND id = ?'),
      deleteSpectrum: db.prepare('DELETE FROM spectra WHERE lane = ? AND id = ?'),
      deleteReadingRun: db.prepare('DELETE FROM readings WHERE lane = ? AND id BETWEEN ? AND ?'),
      deleteSpectrumRun: db.prepare('DELETE FROM spectra WHERE lane = ? AND id BETWEEN ? AND ?'),
      lanes: db.prepare(LANES_WITH_READINGS_SQL).pluck(),
      oldestIdsOfLane: db.prepare('SELECT id FROM readings WHERE lane = ? ORDER BY id LIMIT ?').pluck(),
    };
  }

  static inStateDir(stateDir: string, options: OpenOptions = {}): Outbox {
    return new Outbox(path.join(stateDir, OUTBOX_FILE), options);
  }

  /** Commits every batch (readings, spectra, dead letters, positions) in one transaction. */
  append(batches: readonly IngestBatch[]): void {
    try {
      this.appendTx(batches);
    } catch (err) {
      // A rolled-back transaction may have taken sensor and stream ids with it: re-read them.
      this.streams.reload();
      throw err;
    }
  }

  private readonly appendTx = (batches: readonly IngestBatch[]) =>
    this.db.transaction((items: readonly IngestBatch[]) => {
      const now = Date.now();
      const bump = new Map<string, number>();
      const add = (name: string, n: number) => n > 0 && bump.set(name, (bump.get(name) ?? 0) + n);
      // Rows are inserted at the end, grouped by sensor, each sensor's in their order: ids stay in
      // commit order per sensor (what the shipper relies on), and one sensor's rows of a
      // transaction get consecutive ids, so acknowledging its batch deletes a few id runs on a few
      // pages instead of single rows on every page of the range (docs/performance.md, item 3).
      const bySensor = new Map<string, Array<number | string>>();
      let rowCount = 0;
      for (const batch of items) {
        let stored = 0;
        for (const r of batch.readings) {
          const stream = this.streams.idFor(r.sensor, r.measure, valueKind(r.value));
          if (stream === null) {
            this.deadLetters.add(
              { stage: 'parse', source: batch.source, reason: mixedKindReason(r.sensor, 'frequency'), reading: r, lane: batch.lane },
              now,
            );
            add(`invalid.${batch.source}`, 1);
            continue;
          }
          let rows = bySensor.get(r.sensor);
          if (rows === undefined) bySensor.set(r.sensor, (rows = []));
          rows.push(batch.lane, stream, r.ts, encodeValue(r.value));
          stored++;
        }
        rowCount += stored;
        add('appended', stored);
        add(`received.${batch.source}`, stored);
        if (batch.lane !== LIVE_LANE) add(`lane.${batch.lane}.appended`, stored);
        for (const s of batch.spectra ?? []) {
          const sensor = this.streams.sensor(s.sensor, 'frequency');
          if (sensor.ingest !== 'frequency') {
            this.deadLetters.add(
              { stage: 'parse', source: batch.source, reason: mixedKindReason(s.sensor, 'timeseries'), raw: JSON.stringify(s), lane: batch.lane },
              now,
            );
            add(`invalid.${batch.source}`, 1);
            continue;
          }
          this.stmt.insertSpectrum.run(batch.lane, sensor.id, s.ts, encodeSpectrumBody(s));
          add('spectra.appended', 1);
          add(`received.${batch.source}`, 1);
          if (batch.lane !== LIVE_LANE) add(`lane.${batch.lane}.appended`, 1);
        }
        for (const dl of batch.deadLetters) {
          this.deadLetters.add(dl, now);
          if (dl.stage === 'parse') add(`invalid.${batch.source}`, 1);
        }
        if (batch.checkpoint) this.positions.save(batch.checkpoint, now);
      }
      this.insertRows(bySensor.values(), rowCount);
      for (const [name, n] of bump) this.tally.bump(name, n);
    })(batches);

  /**
   * Inserts `count` rows, given as flat (lane, stream, ts, value) lists, in order and with
   * ascending ids: full chunks in one multi-row INSERT each.
   */
  private insertRows(groups: Iterable<Array<number | string>>, count: number): void {
    if (count === 0) return;
    let id = (this.stmt.takeReadingIds.get(count) as number) - count + 1;
    const params: Array<number | string> = new Array(5 * ROWS_PER_INSERT);
    let filled = 0;
    for (const rows of groups) {
      for (let k = 0; k < rows.length; k += 4) {
        params[filled++] = rows[k]!;
        params[filled++] = id++;
        params[filled++] = rows[k + 1]!;
        params[filled++] = rows[k + 2]!;
        params[filled++] = rows[k + 3]!;
        if (filled === params.length) {
          this.stmt.insertReadings.run(params);
          filled = 0;
        }
      }
    }
    for (let k = 0; k < filled; k += 5) this.stmt.insertReading.run(params[k], params[k + 1], params[k + 2], params[k + 3], params[k + 4]);
  }

  // The read side (reader.ts): the shipper's and the planner worker's claim queries.
  claim(lane: number, limit: number, excludeStreams: readonly number[] = [], afterId = 0, floors: readonly StreamFloor[] = []): ClaimedReading[] {
    return this.reader.claim(lane, limit, excludeStreams, afterId, floors);
  }

  countAfter(lane: number, afterId: number, limit: number): number {
    return this.reader.countAfter(lane, afterId, limit);
  }

  claimOfSensor(lane: number, sensor: string, afterId: number, limit: number): ClaimedReading[] {
    return this.reader.claimOfSensor(lane, sensor, afterId, limit);
  }

  readingsOfBatch(b: InflightBatch): ClaimedReading[] {
    return this.reader.readingsOfBatch(b);
  }

  spectraOfBatch(b: InflightBatch): ClaimedSpectrum[] {
    return this.reader.spectraOfBatch(b);
  }

  claimSpectra(lane: number, limit: number, excludeSensors: ReadonlySet<string> = new Set()): ClaimedSpectrum[] {
    return this.reader.claimSpectra(lane, limit, excludeSensors);
  }

  /**
   * The hub accepted these readings: remove them (and their in-flight record) in one transaction.
   * Without an fsync of its own: lost in a power cut, it only means the batch is sent again (same
   * id); a killed process loses nothing. One per request, it was the largest fsync count.
   */
  ack(ids: readonly number[], batchId?: string, lane: number = LIVE_LANE): void {
    withoutFsync(this.db, () => this.ackTx(ids, this.stmt.deleteReading, this.stmt.deleteReadingRun, 'delivered', batchId, lane));
  }

  ackSpectra(ids: readonly number[], batchId?: string, lane: number = LIVE_LANE): void {
    withoutFsync(this.db, () => this.ackTx(ids, this.stmt.deleteSpectrum, this.stmt.deleteSpectrumRun, 'spectra.delivered', batchId, lane));
  }

  private readonly ackTx = (ids: readonly number[], del: Statement, delRun: Statement, counter: string, batchId: string | undefined, lane: number) =>
    this.db.transaction(() => {
      const n = deleteIds(lane, ids, del, delRun);
      if (n > 0) {
        this.tally.bump(counter, n);
        if (lane !== LIVE_LANE) this.tally.bump(`lane.${lane}.delivered`, n);
      }
      if (batchId !== undefined) this.ledger.forget(batchId);
    })();

  laneCounts(lane: number): { appended: number; delivered: number; rejected: number; waiting: number } {
    return this.tally.laneCounts(lane);
  }


  /**
   * Counts removals of waiting readings other than acknowledgements (dead letters, drops,
   * expiry): a round planned ahead of time is only sent if nothing was removed meanwhile.
   */
  get removals(): number {
    return this.removalCount;
  }

  /** The hub refused these readings for good: move them to dead_letters with its reason. */
  reject(readings: readonly ClaimedReading[], lane: number, reason: string, batchId?: string): void {
    this.toDeadLetters(readings, lane, reason, 'hub', 'rejected', batchId);
  }

  /** Moves readings to dead letters of `stage`, counted under `counter` (rejected or expired). */
  private toDeadLetters(readings: readonly ClaimedReading[], lane: number, reason: string, stage: 'hub' | 'expired', counter: 'rejected' | 'expired', batchId?: string): void {
    this.removalCount++;
    this.db.transaction(() => {
      if (batchId !== undefined) this.ledger.forget(batchId);
      const now = Date.now();
      let n = 0;
      for (const r of readings) {
        if (this.stmt.deleteReading.run(lane, r.id).changes === 0) continue;
        n++;
        this.deadLetters.add(
          { stage, source: 'hub', reason, lane, reading: { sensor: r.sensor, measure: r.measure, ts: r.ts, value: r.value } },
          now,
        );
      }
      if (n > 0) {
        this.tally.bumpLane(counter, lane, n);
      }
    })();
  }

  rejectSpectra(spectra: readonly ClaimedSpectrum[], lane: number, reason: string, batchId?: string): void {
    this.db.transaction(() => {
      if (batchId !== undefined) this.ledger.forget(batchId);
      const now = Date.now();
      let n = 0;
      for (const s of spectra) {
        if (this.stmt.deleteSpectrum.run(lane, s.id).changes === 0) continue;
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
    this.removalCount++;
    return this.db.transaction(() => {
      // The n smallest ids of all lanes: each lane's n oldest, merged (lanes share one id sequence).
      const candidates: Array<[id: number, lane: number]> = [];
      for (const lane of this.stmt.lanes.all() as number[]) {
        for (const id of this.stmt.oldestIdsOfLane.all(lane, n) as number[]) candidates.push([id, lane]);
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
        const k = deleteIds(lane, ids, this.stmt.deleteReading, this.stmt.deleteReadingRun);
        dropped += k;
        if (lane !== LIVE_LANE && k > 0) this.tally.bump(`lane.${lane}.dropped`, k);
      }
      if (dropped > 0) this.tally.bump('dropped', dropped);
      return dropped;
    })();
  }

  /**
   * Readings of a lane whose reading time is before `cutoffTs` move to dead letters
   * (`hub.retry.max_age`). Scans the lane (no index on ts): called at most once a minute,
   * and only while delivery is failing.
   */
  expire(lane: number, cutoffTs: number, reason: string, limit = 50_000): number {
    const rows = this.db
      .prepare('SELECT id, stream, ts, value FROM readings WHERE lane = ? AND ts < ? ORDER BY id LIMIT ?')
      .raw()
      .all(lane, cutoffTs, limit) as Array<[number, number, number, number | string]>;
    const expired = rows.map(([id, stream, ts, stored]) => {
      const info = this.streams.info(stream);
      return { id, sensor: info.sensor, measure: info.measure, kind: info.kind, ts, value: decodeValue(stored, info.kind) };
    });
    if (expired.length > 0) this.toDeadLetters(expired, lane, reason, 'expired', 'expired');
    return expired.length;
  }

  // File positions (checkpoints.ts) and the hub's sensor ids (hub-sensor-ids.ts).
  checkpoints(source: string): FileCheckpoint[] {
    return this.positions.of(source);
  }

  checkpoint(source: string, fileKey: string): FileCheckpoint | undefined {
    return this.positions.one(source, fileKey);
  }

  forgetCheckpoint(source: string, fileKey: string): void {
    this.positions.forget(source, fileKey);
  }

  hubSensorId(sensor: string): string | null {
    return this.hubIds.of(sensor);
  }

  rememberHubSensorId(sensor: string, hubId: string, ingest: 'timeseries' | 'frequency'): void {
    this.hubIds.remember(sensor, hubId, ingest);
  }

  /**
   * Whether a failed bookkeeping write (ledger, informational state, a sensor's hub id) may be
   * skipped: only a storage error, only where faults are recorded (the daemon), and recorded.
   */
  private readonly survive = (err: unknown): boolean => {
    if (this.storageFaults === null || storageFaultOf(err) === null) return false;
    this.storageFaults.writeFailed(err, 'state');
    return true;
  };

  counters(): Map<string, number> {
    return this.tally.all();
  }

  counts(): OutboxCounts {
    return this.tally.counts();
  }

  /** Timestamp (reading time) of the oldest waiting reading in a lane, or null when the lane is empty. */
  oldestReadingTs(lane: number): number | null {
    return this.reader.oldestReadingTs(lane);
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  /** Checkpoints the WAL into the main file and closes; safe to call twice. */
  close(): void {
    if (!this.db.open) return;
    try {
      // query_only: a reader opened without shared memory (db.ts) writes nothing, not even a checkpoint.
      if (!this.db.readonly && this.db.pragma('query_only', { simple: true }) !== 1) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
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


function mixedKindReason(sensor: string, has: 'timeseries' | 'frequency'): string {
  const what = has === 'frequency' ? 'spectra' : 'time series';
  return `sensor "${sensor}" already receives ${what}; a Senseye sensor ingests time series or spectra, never both: use another sensor name`;
}

function encodeSpectrumBody(s: Spectrum): string {
  return JSON.stringify({
    amplitudeUnit: s.amplitudeUnit,
    measurementType: s.measurementType,
    spacing: s.spacing,
    end: s.end,
    number: s.number,
    speed: s.speed,
    data: s.data,
  });
}

