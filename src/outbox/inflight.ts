/**
 * The in-flight ledger: every batch is written here (one transaction per round) before it is
 * sent, and removed in the same transaction that deletes its acknowledged rows. After a crash
 * the shipper first sends exactly these batches again, with the same ids and the same rows, so
 * a duplicate at the hub is always a recognisable repeat of one batch, never a re-mix.
 *
 * A batch is "the rows of one sensor with ids first..last in one lane": batches are cut from a
 * claim of the oldest rows, so no other row of that sensor can sit inside that range.
 *
 * A record that cannot be written (disk full) is survivable (`survive`): the batch goes out
 * unrecorded, and a crash before its acknowledgement costs a resend cut differently (a
 * duplicate at the hub, never a loss). Inside an acknowledgement's transaction it still throws.
 */
import type { Database, Statement } from 'better-sqlite3';

export type BatchKind = 'readings' | 'spectra';

export interface InflightBatch {
  batchId: string;
  lane: number;
  kind: BatchKind;
  sensor: string;
  firstId: number;
  lastId: number;
}

export class InflightLedger {
  private readonly insert: Statement;
  private readonly remove: Statement;
  private readonly select: Statement;

  constructor(
    private readonly db: Database,
    /** True when `err` was a storage error now recorded as a fault (the write is skipped), false to throw it. */
    private readonly survive: (err: unknown) => boolean = () => false,
  ) {
    this.insert = db.prepare(
      `INSERT OR REPLACE INTO inflight (batch_id, lane, kind, sensor, first_id, last_id, created_at)
       VALUES (@batchId, @lane, @kind, @sensor, @firstId, @lastId, ?)`,
    );
    this.remove = db.prepare('DELETE FROM inflight WHERE batch_id = ?');
    this.select = db.prepare(
      `SELECT batch_id AS batchId, lane, kind, sensor, first_id AS firstId, last_id AS lastId
       FROM inflight WHERE lane = ? ORDER BY first_id`,
    );
  }

  /** Records batches about to be sent (one transaction). */
  record(batches: readonly InflightBatch[]): void {
    if (batches.length === 0) return;
    const now = Date.now();
    this.survivably(() =>
      this.db.transaction(() => {
        for (const b of batches) this.insert.run(b, now);
      })(),
    );
  }

  /** Replaces a batch by the parts it was split into (413, or bisecting a rejection). */
  split(parent: string, parts: readonly InflightBatch[]): void {
    const now = Date.now();
    this.survivably(() =>
      this.db.transaction(() => {
        this.remove.run(parent);
        for (const b of parts) this.insert.run(b, now);
      })(),
    );
  }

  /**
   * Removes a batch's record. Acknowledgement and rejection call it inside the transaction that
   * removes the rows; alone, it lets go of a batch whose rows stay (a waiting sensor).
   */
  forget(batchId: string): void {
    this.survivably(() => this.remove.run(batchId));
  }

  private survivably(work: () => unknown): void {
    try {
      work();
    } catch (err) {
      if (this.db.inTransaction || !this.survive(err)) throw err;
    }
  }

  list(lane: number): InflightBatch[] {
    return this.select.all(lane) as InflightBatch[];
  }
}
