/**
 * What a damaged outbox knew besides its rows: the sources' file positions (checkpoints) and
 * the hub's sensor ids. Without them a fresh outbox reads every file again from its start (a
 * 300,000-reading file sent twice) and asks the hub for every sensor again.
 *
 * Invariant: a position is restored only after the readings committed with it were salvaged
 * (recoverDamagedOutbox runs salvage() first, positions last, in one transaction with the
 * record of what was done). A crash before that transaction leaves no positions: files are
 * read again (duplicates), never skipped. What could not be read is reported, never guessed:
 * a position that is not restored makes its file start again (or at its end, `start_at: end`,
 * for a source left with no positions at all).
 *
 * The record (OUTBOX_DAMAGE_KEY in the state table) is what `outbox doctor` shows later, and
 * marks the copy as salvaged so that a `doctor --salvage` of it cannot send its readings twice.
 */
import Database from 'better-sqlite3';
import type { Outbox } from './outbox.js';
import { salvage, type SalvageReport } from './salvage.js';
import { LIVE_LANE, type FileCheckpoint } from './types.js';
import { databaseOf } from './handle.js';

/** state key: the last damaged outbox moved aside, and what was recovered from it (OutboxDamage). */
export const OUTBOX_DAMAGE_KEY = 'outbox_damage';
/** state key prefix + the copy's file name: that copy's rows are already in this outbox. */
export const SALVAGED_KEY_PREFIX = 'salvaged:';

export interface StateSalvage {
  positions: number;
  /** Why (some) positions could not be read; null when every one was. */
  positionsError: string | null;
  sensorIds: number;
  sensorIdsError: string | null;
}

export interface FilesStartingAgain {
  source: string;
  files: number;
  from: 'beginning' | 'end';
}

export interface OutboxDamage {
  at: string;
  problem: string;
  movedTo: string;
  salvaged: { readings: number; spectra: number; deadLetters: number; positions: number; sensorIds: number };
  /** Parts of the copy that could not be read, one line each. */
  unreadable: string[];
  /** Set when positions were lost: why. */
  positionsLost: string | null;
  /** Filled in by the agent once it knows its sources: files with no position that are read again. */
  filesStartingAgain: FilesStartingAgain[] | null;
}

/**
 * Copies positions and hub sensor ids from `damagedFile` into `into`, each table read row by
 * row so a bad page costs the rows from there on, not the ones before it.
 */
export function salvageState(damagedFile: string, into: Outbox, record: (r: StateSalvage) => void = () => undefined): StateSalvage {
  const result: StateSalvage = { positions: 0, positionsError: null, sensorIds: 0, sensorIdsError: null };
  let db: Database.Database;
  try {
    db = new Database(damagedFile, { readonly: true, fileMustExist: true });
  } catch (err) {
    const error = `cannot open ${damagedFile}: ${(err as Error).message}`;
    const failed = { ...result, positionsError: error, sensorIdsError: error };
    databaseOf(into).transaction(() => record(failed))();
    return failed;
  }
  try {
    const checkpoints: FileCheckpoint[] = [];
    result.positionsError = readRows(
      db,
      'SELECT source, file_key AS fileKey, path, offset, line, head_len AS headLen, head_hash AS headHash, parser_state AS parserState FROM checkpoints',
      (row) => checkpoints.push(row as FileCheckpoint),
    );
    const sensors: Array<{ name: string; ingest: 'timeseries' | 'frequency'; hubId: string }> = [];
    result.sensorIdsError = readRows(db, 'SELECT name, ingest, hub_id AS hubId FROM sensors WHERE hub_id IS NOT NULL', (row) =>
      sensors.push(row as (typeof sensors)[number]),
    );
    databaseOf(into).transaction(() => {
      for (const s of sensors) {
        // A sensor the fresh outbox already knows keeps its own id (salvage may have added it without one).
        if (into.hubSensorId(s.name) === null) into.rememberHubSensorId(s.name, s.hubId, s.ingest === 'frequency' ? 'frequency' : 'timeseries');
      }
      into.append(checkpoints.map((checkpoint) => ({ source: checkpoint.source, lane: LIVE_LANE, readings: [], deadLetters: [], checkpoint })));
      result.positions = checkpoints.length;
      result.sensorIds = sensors.length;
      record(result);
    })();
  } finally {
    db.close();
  }
  return result;
}

/** Calls `each` per row until the end or the first unreadable page; returns that error, or null. */
function readRows(db: Database.Database, sql: string, each: (row: unknown) => void): string | null {
  try {
    for (const row of db.prepare(sql).iterate()) each(row);
    return null;
  } catch (err) {
    const e = err as Error & { code?: string };
    return `${e.code ?? e.name}: ${e.message}`;
  }
}

/**
 * After a damaged outbox was moved aside (integrity.ts): its readings, spectra and dead letters,
 * then its positions and sensor ids, into the fresh outbox; the record of it in the state table.
 */
export function recoverDamagedOutbox(damagedFile: string, problem: string, into: Outbox, now = new Date()): OutboxDamage {
  const rows: SalvageReport = salvage(damagedFile, into);
  const unreadable = [
    ...(rows.error === undefined ? [] : [rows.error]),
    ...rows.unreadableWindows.map(
      (w) => `${w.table}${w.lane === undefined ? '' : ` (lane ${w.lane})`}${w.toId === 0 ? '' : ` ids ${w.fromId}..${w.toId}`}: ${w.error}`,
    ),
  ];
  const done: { damage?: OutboxDamage } = {};
  salvageState(damagedFile, into, (state) => {
    if (state.positionsError !== null) unreadable.push(`file positions: ${state.positionsError}`);
    if (state.sensorIdsError !== null) unreadable.push(`hub sensor ids: ${state.sensorIdsError}`);
    const damage: OutboxDamage = {
      at: now.toISOString(),
      problem,
      movedTo: damagedFile,
      salvaged: { readings: rows.readings, spectra: rows.spectra, deadLetters: rows.deadLetters, positions: state.positions, sensorIds: state.sensorIds },
      unreadable,
      positionsLost: state.positionsError,
      filesStartingAgain: null,
    };
    into.state.set(OUTBOX_DAMAGE_KEY, damage);
    into.state.set(salvagedKey(damagedFile), damage.at);
    done.damage = damage;
  });
  return done.damage!;
}

export function salvagedKey(copy: string): string {
  return SALVAGED_KEY_PREFIX + copy.slice(copy.lastIndexOf('/') + 1);
}
