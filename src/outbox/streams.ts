/**
 * Interns (sensor, measure, kind) as a small integer "stream" id so each reading row stores one
 * small number instead of two strings. The whole map is cached: a site has thousands of
 * streams at most, while rows number in millions.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { ValueKind } from '../parse/reading.js';

export interface StreamInfo {
  sensor: string;
  measure: string;
  kind: ValueKind;
}

export class StreamRegistry {
  private readonly byKey = new Map<string, number>();
  private readonly byId = new Map<number, StreamInfo>();
  private readonly insertSensor: Statement;
  private readonly selectSensor: Statement;
  private readonly insertStream: Statement;

  constructor(private readonly db: Database) {
    this.insertSensor = db.prepare('INSERT OR IGNORE INTO sensors (name, created_at) VALUES (?, ?)');
    this.selectSensor = db.prepare('SELECT id FROM sensors WHERE name = ?').pluck();
    this.insertStream = db.prepare(
      'INSERT INTO streams (sensor_id, measure, kind) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET kind = kind RETURNING id',
    ).pluck();
    this.reload();
  }

  /** Re-reads the table: another process (a backfill) may have added streams. */
  reload(): void {
    const rows = this.db
      .prepare('SELECT st.id, s.name AS sensor, st.measure, st.kind FROM streams st JOIN sensors s ON s.id = st.sensor_id')
      .all() as Array<StreamInfo & { id: number }>;
    for (const row of rows) this.remember(row.id, { sensor: row.sensor, measure: row.measure, kind: row.kind });
  }

  /** Must run inside the caller's write transaction. */
  idFor(sensor: string, measure: string, kind: ValueKind): number {
    const key = `${sensor}\u0000${measure}\u0000${kind}`;
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    this.insertSensor.run(sensor, Date.now());
    const sensorId = this.selectSensor.get(sensor) as number;
    const id = this.insertStream.get(sensorId, measure, kind) as number;
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

  private remember(id: number, info: StreamInfo): void {
    this.byKey.set(`${info.sensor}\u0000${info.measure}\u0000${info.kind}`, id);
    this.byId.set(id, info);
  }
}
