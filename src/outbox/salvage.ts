/**
 * Recovers what can still be read from a damaged outbox file (one that was moved aside) into
 * the current outbox. Rows are read in id windows, straight from each table's own b-tree
 * (readings lane by lane from schema version 4, where the table is keyed by (lane, id)); a
 * window that fails to read is skipped and reported, so one bad page costs the rows on it, not
 * the whole backlog.
 */
import type { DeadLetterStage } from './types.js';
import Database from 'better-sqlite3';
import type { Reading } from '../parse/reading.js';
import type { Outbox } from './outbox.js';
import { LANES_WITH_READINGS_SQL } from './lanes.js';
import { SCHEMA_VERSION } from './migrations.js';
import { LIVE_LANE, type IngestBatch } from './types.js';

export interface SalvageReport {
  readings: number;
  spectra: number;
  deadLetters: number;
  unreadableWindows: Array<{ table: string; lane?: number; fromId: number; toId: number; error: string }>;
  error?: string;
}

const WINDOW = 5000;

export function salvage(damagedFile: string, into: Outbox): SalvageReport {
  const report: SalvageReport = { readings: 0, spectra: 0, deadLetters: 0, unreadableWindows: [] };
  let db: Database.Database;
  try {
    db = new Database(damagedFile, { readonly: true, fileMustExist: true });
  } catch (err) {
    return { ...report, error: `cannot open ${damagedFile}: ${(err as Error).message}` };
  }
  try {
    const streams = new Map<number, { sensor: string; measure: string; kind: string }>();
    const sensors = new Map<number, string>();
    try {
      for (const s of db.prepare('SELECT id, name FROM sensors').all() as Array<{ id: number; name: string }>) sensors.set(s.id, s.name);
      for (const st of db.prepare('SELECT id, sensor_id, measure, kind FROM streams').all() as Array<{ id: number; sensor_id: number; measure: string; kind: string }>) {
        const sensor = sensors.get(st.sensor_id);
        if (sensor !== undefined) streams.set(st.id, { sensor, measure: st.measure, kind: st.kind });
      }
    } catch (err) {
      return { ...report, error: `the sensor and stream tables cannot be read, so readings cannot be interpreted: ${(err as Error).message}` };
    }
    /** The ids of `table` (of one lane) lie in first..last; an unreadable range is reported, and nothing is read. */
    const idRange = (table: string, lane?: number): { first: number; last: number } => {
      try {
        const where = lane === undefined ? '' : ' WHERE lane = ?';
        const row = db.prepare(`SELECT min(id) AS first, max(id) AS last FROM ${table}${where}`).get(...(lane === undefined ? [] : [lane])) as { first: number | null; last: number | null };
        return { first: row.first ?? 1, last: row.last ?? 0 };
      } catch (err) {
        report.unreadableWindows.push({ table, ...(lane === undefined ? {} : { lane }), fromId: 0, toId: 0, error: `the range of ids: ${(err as Error).message}` });
        return { first: 1, last: 0 };
      }
    };
    /** Rows of `table` (of one lane) in windows of ids: `sql` takes [lane,] from, to. */
    const windows = (table: string, sql: string, each: (rows: unknown[]) => void, lane?: number) => {
      const { first, last: top } = idRange(table, lane);
      const stmt = db.prepare(sql);
      for (let from = first - 1; from <= top; from += WINDOW) {
        try {
          each(lane === undefined ? stmt.all(from, from + WINDOW) : stmt.all(lane, from, from + WINDOW));
        } catch (err) {
          report.unreadableWindows.push({ table, ...(lane === undefined ? {} : { lane }), fromId: from + 1, toId: from + WINDOW, error: (err as Error).message });
        }
      }
    };
    const readingWindow = (rows: unknown[]) => {
      const byLane = new Map<number, Reading[]>();
      for (const r of rows as Array<{ lane: number; stream: number; ts: number; value: number | string }>) {
        const info = streams.get(r.stream);
        if (info === undefined) continue;
        const value = info.kind === 'boolean' ? r.value === 1 : r.value;
        let list = byLane.get(r.lane);
        if (list === undefined) byLane.set(r.lane, (list = []));
        list.push({ sensor: info.sensor, measure: info.measure, ts: r.ts, value });
      }
      const batches: IngestBatch[] = [...byLane].map(([lane, readings]) => ({ source: 'salvage', lane, readings, deadLetters: [] }));
      into.append(batches);
      report.readings += batches.reduce((n, b) => n + b.readings.length, 0);
    };
    if (schemaVersion(db) >= 4) {
      for (const lane of lanesOf(db, report)) {
        windows('readings', 'SELECT lane, stream, ts, value FROM readings WHERE lane = ? AND id > ? AND id <= ? ORDER BY id', readingWindow, lane);
      }
    } else {
      // A rowid table: its own b-tree by id, whatever the lane (not its (lane, id) index, which may be damaged too).
      windows('readings', 'SELECT lane, stream, ts, value FROM readings NOT INDEXED WHERE id > ? AND id <= ? ORDER BY id', readingWindow);
    }
    windows('spectra', 'SELECT lane, sensor_id, ts, body FROM spectra WHERE id > ? AND id <= ? ORDER BY id', (rows) => {
      const batches: IngestBatch[] = [];
      for (const r of rows as Array<{ lane: number; sensor_id: number; ts: number; body: string }>) {
        const sensor = sensors.get(r.sensor_id);
        if (sensor === undefined) continue;
        batches.push({ source: 'salvage', lane: r.lane, readings: [], deadLetters: [], spectra: [{ ...JSON.parse(r.body), sensor, ts: r.ts }] });
      }
      into.append(batches);
      report.spectra += batches.length;
    });
    windows('dead_letters', 'SELECT * FROM dead_letters WHERE id > ? AND id <= ? ORDER BY id', (rows) => {
      const typed = rows as Array<Record<string, unknown>>;
      into.append([
        {
          source: 'salvage',
          lane: 0,
          readings: [],
          deadLetters: typed.map((d) => ({
            stage: d.stage as DeadLetterStage,
            source: String(d.source),
            origin: (d.origin as string | null) ?? undefined,
            line: (d.line as number | null) ?? undefined,
            reason: String(d.reason),
            raw: (d.raw as string | null) ?? undefined,
            lane: (d.lane as number | null) ?? undefined,
            reading:
              d.sensor !== null && d.measure !== null && d.ts !== null && d.value !== null
                ? { sensor: String(d.sensor), measure: String(d.measure), ts: Number(d.ts), value: d.value_kind === 'boolean' ? d.value === 1 : (d.value as number | string) }
                : undefined,
          })),
        },
      ]);
      report.deadLetters += typed.length;
    });
  } finally {
    db.close();
  }
  return report;
}

/** The damaged file's schema version; if unreadable, assume the current layout. */
function schemaVersion(db: Database.Database): number {
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } catch {
    return SCHEMA_VERSION;
  }
}

/** The lanes that hold readings; if that cannot be read, the live lane and the backfill jobs' lanes. */
function lanesOf(db: Database.Database, report: SalvageReport): number[] {
  try {
    return db.prepare(LANES_WITH_READINGS_SQL).pluck().all() as number[];
  } catch (err) {
    report.unreadableWindows.push({ table: 'readings', fromId: 0, toId: 0, error: `the list of lanes: ${(err as Error).message}` });
    try {
      return [LIVE_LANE, ...(db.prepare('SELECT lane FROM backfill_jobs').pluck().all() as number[])];
    } catch {
      return [LIVE_LANE];
    }
  }
}
