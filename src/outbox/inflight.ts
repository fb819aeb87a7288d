/**
 * The in-flight ledger: every batch is written here (one transaction per round) before it is
 * sent, and removed in the same transaction that deletes its acknowledged rows. After a crash
 * the shipper first sends exactly these batches again, with the same ids and the same rows, so
 * a duplicate at the hub is always a recognisable repeat of one batch, never a re-mix.
 *
 * A batch is "the rows of one sensor with ids first..last in one lane": batches are cut from a
 * read of the oldest rows, so no other row of that sensor can sit inside that range.
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
  /** Sends the hub answered without success (the parts of a split inherit their parent's). */
  attempts?: number;
  /** When the last of those was (epoch ms), or null. */
  lastFailedAt?: number | null;
  lastError?: string | null;
  /** Failures in rounds in which the hub accepted other batches (poison.ts). */
  evidence?: number;
}

export class InflightLedger {
  private readonly insert: Statement;
  private readonly remove: Statement;
  private readonly select: Statement;
  private readonly fail: Statement;
  private readonly witness: Statement;

  constructor(
    private readonly db: Database,
    /** True when `err` was a storage error now recorded as a fault (the write is skipped), false to throw it. */
    private readonly survive: (err: unknown) => boolean = () => false,
  ) {
    this.insert = db.prepare(
      `INSERT OR REPLACE INTO inflight (batch_id, lane, kind, sensor, first_id, last_id, created_at, attempts, last_failed_at, last_error, evidence)
       VALUES (@batchId, @lane, @kind, @sensor, @firstId, @lastId, @now, @attempts, @lastFailedAt, @lastError, @evidence)`,
    );
    this.remove = db.prepare('DELETE FROM inflight WHERE batch_id = ?');
    this.select = db.prepare(
      `SELECT batch_id AS batchId, lane, kind, sensor, first_id AS firstId, last_id AS lastId,
              attempts, last_failed_at AS lastFailedAt, last_error AS lastError, evidence
       FROM inflight WHERE lane = ? ORDER BY first_id`,
    );
    this.fail = db.prepare('UPDATE inflight SET attempts = attempts + 1, last_failed_at = ?, last_error = ? WHERE batch_id = ? RETURNING attempts');
    this.witness = db.prepare('UPDATE inflight SET evidence = evidence + 1 WHERE batch_id = ?');
  }

  /** Records batches about to be sent (one transaction). */
  record(batches: readonly InflightBatch[]): void {
    if (batches.length === 0) return;
    const now = Date.now();
    this.survivably(() =>
      this.db.transaction(() => {
        for (const b of batches) this.insert.run(row(b, now));
      })(),
    );
  }

  /**
   * The hub answered this batch without success: one more failed attempt, with when and why.
   * Returns the attempts counted so far (the caller's record is updated too). Written without
   * its own transaction's fsync concerns: losing it at a power cut only delays a split.
   */
  failed(batch: InflightBatch, reason: string, now = Date.now()): number {
    let attempts = (batch.attempts ?? 0) + 1;
    this.survivably(() => {
      const r = this.fail.get(now, reason.slice(0, 500), batch.batchId) as { attempts: number } | undefined;
      if (r !== undefined) attempts = r.attempts;
    });
    batch.attempts = attempts;
    batch.lastFailedAt = now;
    batch.lastError = reason;
    return attempts;
  }

  /** These batches failed in a round in which the hub accepted others (one transaction). */
  witnessed(batchIds: Iterable<string>): void {
    const ids = [...batchIds];
    if (ids.length === 0) return;
    this.survivably(() =>
      this.db.transaction(() => {
        for (const id of ids) this.witness.run(id);
      })(),
    );
  }

  /** Replaces a batch by the parts it was split into (413, or bisecting a rejection). */
  split(parent: string, parts: readonly InflightBatch[]): void {
    const now = Date.now();
    this.survivably(() =>
      this.db.transaction(() => {
        this.remove.run(parent);
        for (const b of parts) this.insert.run(row(b, now));
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

function row(b: InflightBatch, now: number) {
  return {
    batchId: b.batchId,
    lane: b.lane,
    kind: b.kind,
    sensor: b.sensor,
    firstId: b.firstId,
    lastId: b.lastId,
    now,
    attempts: b.attempts ?? 0,
    lastFailedAt: b.lastFailedAt ?? null,
    lastError: b.lastError ?? null,
    evidence: b.evidence ?? 0,
  };
}
