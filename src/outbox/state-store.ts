/**
 * Small key/value state shared through the database: the daemon writes its delivery state
 * here so `senseye-agent status` (another process, read-only) can show it.
 */
import type { Database, Statement } from 'better-sqlite3';
import { withoutFsync } from './db.js';

export class StateStore {
  private readonly put: Statement;
  private readonly select: Statement;

  constructor(
    private readonly db: Database,
    /** True when `err` was a storage error now recorded as a fault (the write is skipped), false to throw it. */
    private readonly survive: (err: unknown) => boolean = () => false,
  ) {
    this.put = db.prepare(
      'INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    );
    this.select = db.prepare('SELECT value, updated_at AS updatedAt FROM state WHERE key = ?');
  }

  set(key: string, value: unknown): void {
    this.put.run(key, JSON.stringify(value), Date.now());
  }

  /** For status that is only informational (delivery state, pauses): no fsync of its own. */
  /** A storage error here is survivable (a fault is recorded, the value is not updated). */
  setWithoutFsync(key: string, value: unknown): void {
    try {
      withoutFsync(this.db, () => this.set(key, value));
    } catch (err) {
      if (this.db.inTransaction || !this.survive(err)) throw err;
    }
  }

  get<T>(key: string): { value: T; updatedAt: number } | null {
    const row = this.select.get(key) as { value: string; updatedAt: number } | undefined;
    return row === undefined ? null : { value: JSON.parse(row.value) as T, updatedAt: row.updatedAt };
  }
}
