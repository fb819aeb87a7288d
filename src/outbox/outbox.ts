/**
 * The durable outbox (goqite's contract, made durable in one SQLite file):
 * - append: readings, dead letters and the source positions they came from commit in ONE
 *   transaction, so after a crash a source resumes exactly after what the outbox holds;
 * - claim: the shipper reads the oldest readings of its lane past a cursor (no row is written
 *   on claim; one process ships one lane, so claims cannot collide);
 * - ack / reject: rows leave the outbox only after the hub accepted them, or into dead_letters
 *   with the hub's reason.
 * Counters change in the same transactions, so "appended = delivered + rejected + depth" holds
 * exactly and metrics never drift from the data.
 */
import path from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import { valueKind, type ValueKind } from '../parse/reading.js';
import { openDatabase, type OpenOptions } from './db.js';
import { StreamRegistry } from './streams.js';
import {
  MAX_RAW_CHARS,
  type ClaimedReading,
  type DeadLetterInput,
  type FileCheckpoint,
  type IngestBatch,
} from './types.js';

export const OUTBOX_FILE = 'outbox.db';

export interface OutboxCounts {
  /** Readings ever committed to the outbox. */
  appended: number;
  delivered: number;
  /** Readings the hub refused for good (now dead letters). */
  rejected: number;
  /** Input lines or records that never became readings (now dead letters). */
  invalid: number;
  /** Readings waiting (appended − delivered − rejected). */
  depth: number;
}

export class Outbox {
  readonly db: Database;
  readonly streams: StreamRegistry;
  private readonly stmt: {
    insertReading: Statement;
    insertDeadLetter: Statement;
    upsertCheckpoint: Statement;
    selectCheckpoints: Statement;
    claim: Statement;
    deleteReading: Statement;
    bumpCounter: Statement;
    selectCounters: Statement;
    selectHubId: Statement;
    setHubId: Statement;
    oldest: Statement;
  };

  constructor(
    readonly file: string,
    options: OpenOptions = {},
  ) {
    this.db = openDatabase(file, options);
    this.streams = new StreamRegistry(this.db);
    const db = this.db;
    this.stmt = {
      insertReading: db.prepare('INSERT INTO readings (lane, stream, ts, value) VALUES (?, ?, ?, ?)'),
      insertDeadLetter: db.prepare(
        `INSERT INTO dead_letters (at, stage, source, origin, line, reason, raw, lane, sensor, measure, ts, value)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      upsertCheckpoint: db.prepare(
        `INSERT INTO checkpoints (source, file_key, path, offset, line, head_len, head_hash, parser_state, updated_at)
         VALUES (@source, @fileKey, @path, @offset, @line, @headLen, @headHash, @parserState, @updatedAt)
         ON CONFLICT (source, file_key) DO UPDATE SET path = excluded.path, offset = excluded.offset,
           line = excluded.line, head_len = excluded.head_len, head_hash = excluded.head_hash,
           parser_state = excluded.parser_state, updated_at = excluded.updated_at`,
      ),
      selectCheckpoints: db.prepare(
        `SELECT source, file_key AS fileKey, path, offset, line, head_len AS headLen, head_hash AS headHash,
                parser_state AS parserState FROM checkpoints WHERE source = ?`,
      ),
      claim: db.prepare('SELECT id, stream, ts, value FROM readings WHERE lane = ? AND id > ? ORDER BY id LIMIT ?').raw(),
      deleteReading: db.prepare('DELETE FROM readings WHERE id = ?'),
      bumpCounter: db.prepare(
        'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value',
      ),
      selectCounters: db.prepare('SELECT name, value FROM counters'),
      selectHubId: db.prepare('SELECT hub_id FROM sensors WHERE name = ?').pluck(),
      setHubId: db.prepare(
        `INSERT INTO sensors (name, ingest, hub_id, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET hub_id = excluded.hub_id, ingest = excluded.ingest`,
      ),
      oldest: db.prepare('SELECT ts FROM readings WHERE lane = ? ORDER BY id LIMIT 1').pluck(),
    };
  }

  static inStateDir(stateDir: string, options: OpenOptions = {}): Outbox {
    return new Outbox(path.join(stateDir, OUTBOX_FILE), options);
  }

  /** Commits every batch (readings, dead letters, positions) in one transaction. */
  append(batches: readonly IngestBatch[]): void {
    try {
      this.appendTx(batches);
    } catch (err) {
      // A rolled-back transaction may have taken stream ids with it: forget and re-read them.
      this.streams.reload();
      throw err;
    }
  }

  private readonly appendTx = (batches: readonly IngestBatch[]) =>
    this.db.transaction((items: readonly IngestBatch[]) => {
      const now = Date.now();
      const received = new Map<string, number>();
      const invalid = new Map<string, number>();
      let appended = 0;
      for (const batch of items) {
        for (const r of batch.readings) {
          const stream = this.streams.idFor(r.sensor, r.measure, valueKind(r.value));
          this.stmt.insertReading.run(batch.lane, stream, r.ts, encodeValue(r.value));
        }
        appended += batch.readings.length;
        received.set(batch.source, (received.get(batch.source) ?? 0) + batch.readings.length);
        for (const dl of batch.deadLetters) this.insertDeadLetter(dl, now);
        const parseFailures = batch.deadLetters.filter((d) => d.stage === 'parse').length;
        if (parseFailures > 0) invalid.set(batch.source, (invalid.get(batch.source) ?? 0) + parseFailures);
        if (batch.checkpoint) this.stmt.upsertCheckpoint.run({ ...batch.checkpoint, updatedAt: now });
      }
      if (appended > 0) this.stmt.bumpCounter.run('appended', appended);
      for (const [source, n] of received) if (n > 0) this.stmt.bumpCounter.run(`received.${source}`, n);
      for (const [source, n] of invalid) this.stmt.bumpCounter.run(`invalid.${source}`, n);
    })(batches);

  private insertDeadLetter(dl: DeadLetterInput, now: number): void {
    const r = dl.reading;
    this.stmt.insertDeadLetter.run(
      now,
      dl.stage,
      dl.source,
      dl.origin ?? null,
      dl.line ?? null,
      dl.reason,
      dl.raw === undefined ? null : dl.raw.slice(0, MAX_RAW_CHARS),
      dl.lane ?? null,
      r?.sensor ?? null,
      r?.measure ?? null,
      r?.ts ?? null,
      r === undefined ? null : encodeValue(r.value),
    );
  }

  /** The oldest `limit` readings of `lane` with id > afterId, in commit order. */
  claim(lane: number, afterId: number, limit: number): ClaimedReading[] {
    const rows = this.stmt.claim.all(lane, afterId, limit) as Array<[number, number, number, number | string]>;
    const out: ClaimedReading[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [id, stream, ts, stored] = rows[i]!;
      const info = this.streams.info(stream);
      out[i] = { id, sensor: info.sensor, measure: info.measure, kind: info.kind, ts, value: decodeValue(stored, info.kind) };
    }
    return out;
  }

  /** The hub accepted these readings: remove them. */
  ack(ids: readonly number[]): void {
    this.ackTx(ids);
  }

  private readonly ackTx = (ids: readonly number[]) =>
    this.db.transaction((list: readonly number[]) => {
      let n = 0;
      for (const id of list) n += this.stmt.deleteReading.run(id).changes;
      if (n > 0) this.stmt.bumpCounter.run('delivered', n);
    })(ids);

  /** The hub refused these readings for good: move them to dead_letters with its reason. */
  reject(readings: readonly ClaimedReading[], lane: number, reason: string): void {
    this.rejectTx(readings, lane, reason);
  }

  private readonly rejectTx = (readings: readonly ClaimedReading[], lane: number, reason: string) =>
    this.db.transaction(() => {
      const now = Date.now();
      let n = 0;
      for (const r of readings) {
        const removed = this.stmt.deleteReading.run(r.id).changes;
        if (removed === 0) continue;
        n += removed;
        this.insertDeadLetter(
          { stage: 'hub', source: 'hub', reason, lane, reading: { sensor: r.sensor, measure: r.measure, ts: r.ts, value: r.value } },
          now,
        );
      }
      if (n > 0) this.stmt.bumpCounter.run('rejected', n);
    })();

  checkpoints(source: string): FileCheckpoint[] {
    return this.stmt.selectCheckpoints.all(source) as FileCheckpoint[];
  }

  hubSensorId(sensor: string): string | null {
    return (this.stmt.selectHubId.get(sensor) as string | null | undefined) ?? null;
  }

  rememberHubSensorId(sensor: string, hubId: string, ingest: 'timeseries' | 'frequency'): void {
    this.stmt.setHubId.run(sensor, ingest, hubId, Date.now());
  }

  counters(): Map<string, number> {
    const rows = this.stmt.selectCounters.all() as Array<{ name: string; value: number }>;
    return new Map(rows.map((r) => [r.name, r.value]));
  }

  counts(): OutboxCounts {
    const c = this.counters();
    const appended = c.get('appended') ?? 0;
    const delivered = c.get('delivered') ?? 0;
    const rejected = c.get('rejected') ?? 0;
    let invalid = 0;
    for (const [name, value] of c) if (name.startsWith('invalid.')) invalid += value;
    return { appended, delivered, rejected, invalid, depth: appended - delivered - rejected };
  }

  /** Timestamp (reading time) of the oldest waiting reading in a lane, or null when the lane is empty. */
  oldestReadingTs(lane: number): number | null {
    return (this.stmt.oldest.get(lane) as number | undefined) ?? null;
  }

  /** Checkpoints the WAL into the main file and closes; safe to call twice. */
  close(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}

// Booleans are stored as 0/1: the stream's kind says how to read them back.
function encodeValue(value: number | string | boolean): number | string {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

function decodeValue(stored: number | string, kind: ValueKind): number | string | boolean {
  return kind === 'boolean' ? stored === 1 : stored;
}
