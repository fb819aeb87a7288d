/**
 * Tests look into the outbox's own SQLite connection (its pragmas, rows, a trigger that makes a
 * write fail); src/ outside src/outbox never does (test/unit/architecture.test.ts).
 */
import type { Database } from 'better-sqlite3';
import { databaseOf } from '../../src/outbox/handle.js';
import type { Outbox } from '../../src/outbox/outbox.js';

export function sqlOf(outbox: Outbox): Database {
  return databaseOf(outbox);
}
