/**
 * The hub's id of each local sensor, once created: stored so that a restart never creates a
 * sensor twice. Remembering is survivable (a full disk): unremembered, the id is learned again
 * (a 409 on create) after a restart.
 */
import type { Database, Statement } from 'better-sqlite3';

export class HubSensorIds {
  private readonly select: Statement;
  private readonly set: Statement;

  constructor(
    private readonly db: Database,
    /** True when `err` is a storage error now recorded as a fault (the write is skipped), false to throw it. */
    private readonly survive: (err: unknown) => boolean,
  ) {
    this.select = db.prepare('SELECT hub_id FROM sensors WHERE name = ?').pluck();
    this.set = db.prepare(
      `INSERT INTO sensors (name, ingest, hub_id, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET hub_id = excluded.hub_id`,
    );
  }

  of(sensor: string): string | null {
    return (this.select.get(sensor) as string | null | undefined) ?? null;
  }

  remember(sensor: string, hubId: string, ingest: 'timeseries' | 'frequency'): void {
    try {
      this.set.run(sensor, ingest, hubId, Date.now());
    } catch (err) {
      if (this.db.inTransaction || !this.survive(err)) throw err;
    }
  }
}
