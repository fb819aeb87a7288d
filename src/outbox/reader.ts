/**
 * The outbox's read side: the read queries the shipper and the planner worker run. It writes
 * nothing (a read takes no lock and no lease: one process ships one lane, so reads cannot
 * collide), and it is all the planner worker needs of the database.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { InflightBatch } from './inflight.js';
import { openDatabase, type OpenOptions } from './db.js';
import { StreamRegistry } from './streams.js';
import type { WaitingReading, WaitingSpectrum } from './types.js';
import { decodeValue } from './values.js';

type RawReading = [id: number, stream: number, ts: number, value: number | string];

/** Rows of these streams up to `floor` are left out of a read (they are in the round on the wire). */
export interface StreamFloor {
  streams: readonly number[];
  floor: number;
}

export class OutboxReader {
  private readonly readStatements = new Map<string, Statement>();
  private readonly stmt: {
    readWaitingSpectra: Statement;
    spectraExcept: Statement;
    oldest: Statement;
    countAfter: Statement;
    batchReadings: Statement;
    batchSpectra: Statement;
    ofStreams: Statement;
  };

  /** The read side alone on a connection of its own: all the planner worker opens. */
  static open(file: string, options: OpenOptions): { reader: OutboxReader; close(): void } {
    const db = openDatabase(file, options);
    return { reader: new OutboxReader(db, new StreamRegistry(db)), close: () => db.close() };
  }

  constructor(
    private readonly db: Database,
    /** Sensor and stream names by id (a read names every stream of the sensors it leaves out). */
    readonly streams: StreamRegistry,
  ) {
    this.stmt = {
      readWaitingSpectra: db.prepare('SELECT id, sensor_id, ts, body FROM spectra WHERE lane = ? ORDER BY id LIMIT ?').raw(),
      // Waiting sensors left out in SQL: filtered after the LIMIT, their spectra could fill the
      // read and hold up everyone else's.
      spectraExcept: db
        .prepare(
          `SELECT id, sensor_id, ts, body FROM spectra
           WHERE lane = ? AND sensor_id NOT IN (SELECT id FROM sensors WHERE name IN (SELECT value FROM json_each(?))) ORDER BY id LIMIT ?`,
        )
        .raw(),
      oldest: db.prepare('SELECT ts FROM readings WHERE lane = ? ORDER BY id LIMIT 1').pluck(),
      // Walks the (lane, id) key without handing rows to JavaScript: far cheaper than reading them.
      countAfter: db.prepare('SELECT count(*) FROM (SELECT 1 FROM readings WHERE lane = ? AND id > ? LIMIT ?)').pluck(),
      batchReadings: db
        .prepare(
          `SELECT r.id, r.stream, r.ts, r.value FROM readings r
             JOIN streams st ON st.id = r.stream JOIN sensors s ON s.id = st.sensor_id
           WHERE r.lane = ? AND r.id BETWEEN ? AND ? AND s.name = ? ORDER BY r.id`,
        )
        .raw(),
      ofStreams: db
        .prepare(
          `SELECT id, stream, ts, value FROM readings
           WHERE lane = ? AND id > ? AND stream IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?`,
        )
        .raw(),
      batchSpectra: db
        .prepare(
          `SELECT sp.id, sp.sensor_id, sp.ts, sp.body FROM spectra sp JOIN sensors s ON s.id = sp.sensor_id
           WHERE sp.lane = ? AND sp.id BETWEEN ? AND ? AND s.name = ? ORDER BY sp.id`,
        )
        .raw(),
    };
  }

  /**
   * The oldest `limit` readings of `lane` after `afterId`, in commit order (one commit's sensor by
   * sensor), leaving out `excludeStreams` (readings of sensors that cannot be delivered yet, so
   * they do not block the others) and, per `floors`, rows already in the round on the wire.
   */
  readWaiting(lane: number, limit: number, excludeStreams: readonly number[] = [], afterId = 0, floors: readonly StreamFloor[] = []): WaitingReading[] {
    return this.decodeReadings(this.readStatement(excludeStreams, floors).all(lane, afterId, limit) as RawReading[]);
  }

  /** How many rows of `lane` wait after `afterId`, counting up to `limit` (whatever their sensor). */
  countAfter(lane: number, afterId: number, limit: number): number {
    return this.stmt.countAfter.get(lane, afterId, limit) as number;
  }

  /** The oldest waiting rows of one sensor after `afterId` (to fill its request up to max_points). */
  readWaitingOfSensor(lane: number, sensor: string, afterId: number, limit: number): WaitingReading[] {
    const streams = JSON.stringify(this.streams.streamsOf(sensor));
    return this.decodeReadings(this.stmt.ofStreams.all(lane, afterId, streams, limit) as RawReading[]);
  }

  /** The rows of a recorded in-flight batch that are still waiting (all of them, unless some were dropped). */
  readingsOfBatch(b: InflightBatch): WaitingReading[] {
    return this.decodeReadings(this.stmt.batchReadings.all(b.lane, b.firstId, b.lastId, b.sensor) as RawReading[]);
  }

  spectraOfBatch(b: InflightBatch): WaitingSpectrum[] {
    const rows = this.stmt.batchSpectra.all(b.lane, b.firstId, b.lastId, b.sensor) as Array<[number, number, number, string]>;
    return rows.map(([id, , ts, body]) => ({ id, sensor: b.sensor, ts, body }));
  }

  readWaitingSpectra(lane: number, limit: number, excludeSensors: ReadonlySet<string> = new Set()): WaitingSpectrum[] {
    const rows = (
      excludeSensors.size === 0
        ? this.stmt.readWaitingSpectra.all(lane, limit)
        : this.stmt.spectraExcept.all(lane, JSON.stringify([...excludeSensors]), limit)
    ) as Array<[number, number, number, string]>;
    return rows.map(([id, sensorId, ts, body]) => ({ id, sensor: this.streams.sensorById(sensorId).name, ts, body }));
  }

  /** Timestamp (reading time) of the oldest waiting reading in a lane, or null when the lane is empty. */
  oldestReadingTs(lane: number): number | null {
    return (this.stmt.oldest.get(lane) as number | undefined) ?? null;
  }

  private decodeReadings(rows: RawReading[]): WaitingReading[] {
    const out: WaitingReading[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [id, stream, ts, stored] = rows[i]!;
      const info = this.streams.info(stream);
      out[i] = { id, sensor: info.sensor, measure: info.measure, kind: info.kind, ts, value: decodeValue(stored, info.kind) };
    }
    return out;
  }

  private readStatement(exclude: readonly number[], floors: readonly StreamFloor[]): Statement {
    const int = (n: number) => Math.trunc(n);
    let filter = exclude.length > 0 ? ` AND stream NOT IN (${exclude.map(int).join(',')})` : '';
    // Floors change every round: SQLite skips those rows without handing them to JavaScript.
    for (const f of floors) if (f.streams.length > 0) filter += ` AND NOT (id <= ${int(f.floor)} AND stream IN (${f.streams.map(int).join(',')}))`;
    const sql = `SELECT id, stream, ts, value FROM readings WHERE lane = ? AND id > ?${filter} ORDER BY id LIMIT ?`;
    if (floors.length > 0) return this.db.prepare(sql).raw(); // one round's: not worth a cache slot
    let stmt = this.readStatements.get(filter);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql).raw();
      if (this.readStatements.size > 32) this.readStatements.clear();
      this.readStatements.set(filter, stmt);
    }
    return stmt;
  }
}
