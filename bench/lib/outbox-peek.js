/**
 * Reads an agent's outbox counters from outside, read-only, while the agent runs (WAL lets a
 * reader look without blocking the writer), the way `senseye-agent status` does.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';

export function outboxCounters(file) {
  if (!existsSync(file)) return null;
  let db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 2000');
    const rows = db.prepare('SELECT name, value FROM counters').all();
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  } catch {
    return null; // not created or not migrated yet
  } finally {
    db?.close();
  }
}
