/**
 * The check after an unclean stop, bounded so start-up does not grow with the backlog (issue 17:
 * a whole-file `quick_check` took 1.6 s at 10 M readings). What an unclean stop can have left
 * half-written is what was being written: new readings (appended at the end of each lane's
 * range of the readings b-tree), acknowledged ones (deleted at its start), and the small
 * tables (positions, ledger, counters, state). So:
 *   - a file up to `fullUpToBytes` (64 MiB, ~2 M readings) gets the whole `quick_check`;
 *   - a larger one gets `quick_check(<table>)` of every table but `readings` (their pages and
 *     indexes, whatever their size: the backlog is in `readings`), and every lane's newest and
 *     oldest `edgeRows` readings are read (each page on the way is decoded; a damaged one throws
 *     SQLITE_CORRUPT, which the caller treats as damage);
 *   - the second unclean start in a row gets the whole check whatever the size: if damage
 *     outside those regions made the agent stop, the next start finds it, so a damaged page
 *     in the middle of a large backlog cannot make the agent crash-loop.
 * `senseye-agent outbox doctor` still runs the full `integrity_check` on demand.
 */
import type Database from 'better-sqlite3';

export interface StartCheckOptions {
  /** Files up to this size get the whole quick_check. */
  fullUpToBytes?: number;
  /** Readings read at each end of each lane in the bounded check. */
  edgeRows?: number;
}

export const FULL_CHECK_UP_TO_BYTES = 64 * 1024 ** 2;
export const EDGE_ROWS = 250_000;

export interface StartCheckResult {
  /** 'ok', or SQLite's description of the damage. */
  result: string;
  scope: 'full' | 'bounded';
}

/** `uncleanInARow`: unclean starts in a row, this one included (1 after one unclean stop). */
export function checkAfterUncleanStop(db: Database.Database, uncleanInARow: number, options: StartCheckOptions = {}): StartCheckResult {
  const bytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  if (uncleanInARow >= 2 || bytes <= (options.fullUpToBytes ?? FULL_CHECK_UP_TO_BYTES)) {
    return { result: String(db.pragma('quick_check', { simple: true })), scope: 'full' };
  }
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name <> 'readings' ORDER BY name").pluck().all() as string[];
  for (const t of ['sqlite_schema', ...tables]) {
    const r = String(db.pragma(`quick_check(${JSON.stringify(t)})`, { simple: true }));
    if (r !== 'ok') return { result: r, scope: 'bounded' };
  }
  const edge = options.edgeRows ?? EDGE_ROWS;
  const firstLane = db.prepare('SELECT lane FROM readings ORDER BY lane LIMIT 1').pluck();
  const nextLane = db.prepare('SELECT lane FROM readings WHERE lane > ? ORDER BY lane LIMIT 1').pluck();
  // total() over every column decodes each row's record, so a damaged cell is read, not skipped.
  const newest = db.prepare('SELECT total(stream) + total(ts) + total(length(value)) FROM (SELECT * FROM readings WHERE lane = ? ORDER BY id DESC LIMIT ?)').pluck();
  const oldest = db.prepare('SELECT total(stream) + total(ts) + total(length(value)) FROM (SELECT * FROM readings WHERE lane = ? ORDER BY id LIMIT ?)').pluck();
  for (let lane = firstLane.get() as number | undefined; lane !== undefined; lane = nextLane.get(lane) as number | undefined) {
    newest.get(lane, edge);
    oldest.get(lane, edge);
  }
  return { result: 'ok', scope: 'bounded' };
}
