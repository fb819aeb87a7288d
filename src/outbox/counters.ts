/**
 * The outbox's counters: bumped in the same transactions as the rows they count, so
 * appended = delivered + rejected + expired + dropped + waiting holds exactly, and the metrics
 * never drift from the data. Lanes other than the live one are also counted per lane.
 */
import type { Database, Statement } from 'better-sqlite3';
import { LIVE_LANE } from './types.js';

export interface OutboxCounts {
  /** Readings ever committed to the outbox. */
  appended: number;
  delivered: number;
  /** Readings the hub refused for good (now dead letters, stage hub). */
  rejected: number;
  /** Readings given up on unsent after hub.retry.max_age (now dead letters, stage expired). */
  expired: number;
  /** Readings deleted unsent to make room (`outbox.when_full: drop_oldest`). */
  dropped: number;
  /** Input lines or records that never became readings (now dead letters). */
  invalid: number;
  /** Readings waiting: appended − delivered − rejected − expired − dropped. */
  depth: number;
  spectra: { appended: number; delivered: number; rejected: number; depth: number };
}

export class Counters {
  private readonly bumpStmt: Statement;
  private readonly selectAll: Statement;

  constructor(db: Database) {
    this.bumpStmt = db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value');
    this.selectAll = db.prepare('SELECT name, value FROM counters');
  }

  /** Inside the transaction that changes the rows counted. */
  bump(name: string, n: number): void {
    this.bumpStmt.run(name, n);
  }

  /** The total, and the lane's own count for a backfill lane. */
  bumpLane(name: string, lane: number, n: number): void {
    this.bumpStmt.run(name, n);
    if (lane !== LIVE_LANE) this.bumpStmt.run(`lane.${lane}.${name}`, n);
  }

  all(): Map<string, number> {
    const rows = this.selectAll.all() as Array<{ name: string; value: number }>;
    return new Map(rows.map((r) => [r.name, r.value]));
  }

  counts(): OutboxCounts {
    const c = this.all();
    const get = (name: string) => c.get(name) ?? 0;
    let invalid = 0;
    for (const [name, value] of c) if (name.startsWith('invalid.')) invalid += value;
    const s = { appended: get('spectra.appended'), delivered: get('spectra.delivered'), rejected: get('spectra.rejected') };
    return {
      appended: get('appended'),
      delivered: get('delivered'),
      rejected: get('rejected'),
      expired: get('expired'),
      dropped: get('dropped'),
      invalid,
      depth: get('appended') - get('delivered') - get('rejected') - get('expired') - get('dropped'),
      spectra: { ...s, depth: s.appended - s.delivered - s.rejected },
    };
  }

  /**
   * Per-lane counts of a backfill lane (no scan: a backfill polls this while millions of rows
   * wait). Live data is counted in the totals only.
   */
  laneCounts(lane: number): { appended: number; delivered: number; rejected: number; waiting: number } {
    const c = this.all();
    const get = (name: string) => c.get(`lane.${lane}.${name}`) ?? 0;
    const waiting = get('appended') - get('delivered') - get('rejected') - get('expired') - get('dropped');
    return { appended: get('appended'), delivered: get('delivered'), rejected: get('rejected'), waiting };
  }
}
