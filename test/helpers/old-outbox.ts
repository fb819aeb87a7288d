/**
 * An outbox file of schema version 3, the last before readings were keyed by (lane, id), for
 * tests of the upgrade and of what reads such files. It holds sensor "press" with its stream 1
 * ("bar", float); the connection is returned open for the test to fill, then close.
 */
import Database from 'better-sqlite3';
import { migrate } from '../../src/outbox/migrations.js';

export function versionThreeOutbox(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  migrate(db, { to: 3 });
  db.exec(`INSERT INTO sensors (id, name) VALUES (1, 'press'); INSERT INTO streams (id, sensor_id, measure, kind) VALUES (1, 1, 'bar', 'float');`);
  return db;
}
