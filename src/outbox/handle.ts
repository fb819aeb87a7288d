/**
 * The database handle behind an Outbox, for the modules of src/outbox only: nothing outside
 * this folder touches SQLite (test/unit/architecture.test.ts holds src/ to that), so the handle
 * is not a public field but looked up here.
 */
import type { Database } from 'better-sqlite3';

const handles = new WeakMap<object, Database>();

export function attachDatabase(owner: object, db: Database): void {
  handles.set(owner, db);
}

export function databaseOf(owner: object): Database {
  const db = handles.get(owner);
  if (db === undefined) throw new Error('no database is attached to this object');
  return db;
}
