/**
 * The dead-letter table: everything that could not become (or stay) an outbox row, with the
 * reason a person can act on. Nothing leaves it silently: `replay` moves rows back into the
 * outbox in one transaction, `purge` deletes them on request and counts what it deleted.
 */
import type { Database, Statement } from 'better-sqlite3';
import { valueKind, type ValueKind } from '../parse/reading.js';
import { MAX_RAW_CHARS, type DeadLetterInput, type DeadLetterStage } from './types.js';

export interface DeadLetterRow {
  id: number;
  at: number;
  stage: DeadLetterStage;
  source: string;
  origin: string | null;
  line: number | null;
  reason: string;
  raw: string | null;
  lane: number | null;
  sensor: string | null;
  measure: string | null;
  ts: number | null;
  value: number | string | null;
  value_kind: ValueKind | null;
}

export interface DeadLetterFilter {
  ids?: number[] | undefined;
  source?: string | undefined;
  /** Sources whose name starts with this (a backfill job's sources). */
  sourcePrefix?: string | undefined;
  lane?: number | undefined;
  /** Only rows written at or after this time (epoch ms). */
  since?: number | undefined;
  stage?: DeadLetterStage | undefined;
  limit?: number | undefined;
}

export class DeadLetters {
  private readonly insert: Statement;

  constructor(private readonly db: Database) {
    this.insert = db.prepare(
      `INSERT INTO dead_letters (at, stage, source, origin, line, reason, raw, lane, sensor, measure, ts, value, value_kind)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Must run inside the caller's transaction. Booleans are stored as 0/1 like readings. */
  add(dl: DeadLetterInput, now: number): void {
    const r = dl.reading;
    this.insert.run(
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
      r === undefined ? null : typeof r.value === 'boolean' ? (r.value ? 1 : 0) : r.value,
      r === undefined ? null : valueKind(r.value),
    );
  }

  list(filter: DeadLetterFilter = {}): DeadLetterRow[] {
    const { where, params } = this.where(filter);
    const limit = filter.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(filter.limit))}`;
    return this.db.prepare(`SELECT * FROM dead_letters${where} ORDER BY id${limit}`).all(...params) as DeadLetterRow[];
  }

  count(filter: DeadLetterFilter = {}): number {
    const { where, params } = this.where(filter);
    return this.db.prepare(`SELECT count(*) FROM dead_letters${where}`).pluck().get(...params) as number;
  }

  /** Deletes the matching rows (all rows when the filter is empty); returns how many. Runs in the caller's transaction if any. */
  delete(filter: DeadLetterFilter): number {
    const { where, params } = this.where(filter);
    return this.db.prepare(`DELETE FROM dead_letters${where}`).run(...params).changes;
  }

  private where(filter: DeadLetterFilter): { where: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (filter.ids !== undefined) {
      clauses.push(`id IN (${filter.ids.map(() => '?').join(',') || 'NULL'})`);
      params.push(...filter.ids);
    }
    if (filter.source !== undefined) {
      clauses.push('source = ?');
      params.push(filter.source);
    }
    if (filter.sourcePrefix !== undefined) {
      clauses.push("substr(source, 1, ?) = ?");
      params.push(filter.sourcePrefix.length, filter.sourcePrefix);
    }
    if (filter.lane !== undefined) {
      clauses.push('lane = ?');
      params.push(filter.lane);
    }
    if (filter.since !== undefined) {
      clauses.push('at >= ?');
      params.push(filter.since);
    }
    if (filter.stage !== undefined) {
      clauses.push('stage = ?');
      params.push(filter.stage);
    }
    return { where: clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '', params };
  }
}
