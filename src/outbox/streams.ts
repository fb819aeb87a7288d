/**
 * Interns sensors and (sensor, measure, kind) "streams" as small integers, so each reading row
 * stores one small number instead of two strings. Both maps are cached: a site has thousands
 * of streams at most, while rows number in millions.
 *
 * A sensor ingests time series or spectra, never both (hub-api.md): the first data decides,
 * and `sensor()` reports a conflict instead of mixing kinds.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { ValueKind } from '../parse/reading.js';

export type Ingest = 'timeseries' | 'frequency';

export interface StreamInfo {
  sensor: string;
  measure: string;
  kind: ValueKind;
}

export interface SensorRow {
  id: number;
  name: string;
  ingest: Ingest;
}

/** Stream ids of one (sensor, measure), one slot per value kind. */
type KindIds = Record<ValueKind, number | undefined>;

export class StreamRegistry {
  // sensor → measure → kind: nested maps, so a lookup per reading builds no key string.
  private readonly byName = new Map<string, Map<string, KindIds>>();
  private readonly byId = new Map<number, StreamInfo>();
  private readonly sensorsByName = new Map<string, SensorRow>();
  private readonly sensorsById = new Map<number, SensorRow>();
  private readonly insertSensor: Statement;
  private readonly selectSensor: Statement;
  private readonly insertStream: Statement;
  private readonly lastStreamId: Statement;
  private knownLastStreamId = 0;

  constructor(private readonly db: Database) {
    this.insertSensor = db.prepare('INSERT OR IGNORE INTO sensors (name, ingest, created_at) VALUES (?, ?, ?)');
    this.selectSensor = db.prepare('SELECT id, name, ingest FROM sensors WHERE name = ?');
    this.insertStream = db
      .prepare(
        'INSERT INTO streams (sensor_id, measure, kind) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET kind = kind RETURNING id',
      )
      .pluck();
    this.lastStreamId = db.prepare('SELECT coalesce(max(id), 0) FROM streams').pluck();
    this.reload();
  }

  /**
   * Re-reads both tables if another connection added streams since (the planner worker's
   * connection: it must know every stream of a sensor to leave that sensor's rows in flight out
   * of a read, not only those it has decoded). One indexed lookup when nothing changed.
   */
  refresh(): void {
    if ((this.lastStreamId.get() as number) !== this.knownLastStreamId) this.reload();
  }

  /** Re-reads both tables: another process (a backfill) may have added rows, or a transaction rolled back. */
  reload(): void {
    this.byName.clear();
    this.byId.clear();
    this.sensorsByName.clear();
    this.sensorsById.clear();
    for (const row of this.db.prepare('SELECT id, name, ingest FROM sensors').all() as SensorRow[]) this.rememberSensor(row);
    const rows = this.db
      .prepare('SELECT st.id, s.name AS sensor, st.measure, st.kind FROM streams st JOIN sensors s ON s.id = st.sensor_id')
      .all() as Array<StreamInfo & { id: number }>;
    for (const row of rows) this.remember(row.id, { sensor: row.sensor, measure: row.measure, kind: row.kind });
    this.knownLastStreamId = this.lastStreamId.get() as number;
  }

  /** The sensor's row, created with `ingest` if new. Must run inside the caller's write transaction. */
  sensor(name: string, ingest: Ingest): SensorRow {
    const known = this.sensorsByName.get(name);
    if (known !== undefined) return known;
    this.insertSensor.run(name, ingest, Date.now());
    const row = this.selectSensor.get(name) as SensorRow;
    this.rememberSensor(row);
    return row;
  }

  sensorById(id: number): SensorRow {
    let row = this.sensorsById.get(id);
    if (row === undefined) {
      this.reload();
      row = this.sensorsById.get(id);
      if (row === undefined) throw new Error(`outbox: sensor ${id} has no row in sensors (database damaged?)`);
    }
    return row;
  }

  /** Stream id, or null when the sensor already ingests spectra. Must run inside a write transaction. */
  idFor(sensor: string, measure: string, kind: ValueKind): number | null {
    const known = this.byName.get(sensor)?.get(measure)?.[kind];
    if (known !== undefined) return known;
    const row = this.sensor(sensor, 'timeseries');
    if (row.ingest !== 'timeseries') return null;
    const id = this.insertStream.get(row.id, measure, kind) as number;
    this.remember(id, { sensor, measure, kind });
    return id;
  }

  info(id: number): StreamInfo {
    let info = this.byId.get(id);
    if (info === undefined) {
      this.reload();
      info = this.byId.get(id);
      if (info === undefined) throw new Error(`outbox: stream ${id} has no row in streams (database damaged?)`);
    }
    return info;
  }

  /** Stream ids of one sensor (to leave a sensor's readings out of a read). */
  streamsOf(sensor: string): number[] {
    const out: number[] = [];
    for (const [id, info] of this.byId) if (info.sensor === sensor) out.push(id);
    return out;
  }

  private remember(id: number, info: StreamInfo): void {
    let measures = this.byName.get(info.sensor);
    if (measures === undefined) this.byName.set(info.sensor, (measures = new Map()));
    let kinds = measures.get(info.measure);
    if (kinds === undefined) measures.set(info.measure, (kinds = { float: undefined, string: undefined, boolean: undefined }));
    kinds[info.kind] = id;
    this.byId.set(id, info);
  }

  private rememberSensor(row: SensorRow): void {
    this.sensorsByName.set(row.name, row);
    this.sensorsById.set(row.id, row);
  }
}
