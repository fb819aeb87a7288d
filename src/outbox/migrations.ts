/**
 * Schema migrations, numbered by `PRAGMA user_version`. Each step runs in one transaction with
 * the version bump, so a crash mid-migration leaves the previous version intact. Append new
 * steps; never edit a released one.
 *
 * Why the shapes:
 * - readings is narrow (lane, stream, ts, value): sensor/measure/kind live once in `streams`,
 *   which keeps a backlog of millions of readings small on disk (bytes per reading matter at the edge).
 * - AUTOINCREMENT (and, from version 4, the `sequences` row that replaced it for readings): ids
 *   never go back, even after every row was delivered and deleted; the shipper's cursor and the
 *   batch ids derived from row ids rely on that.
 * - From version 4, readings are clustered by (lane, id) (WITHOUT ROWID): reads walk one lane in
 *   id order, and acknowledgements delete id ranges of one lane. A rowid table needed a second
 *   b-tree for that (the (lane, id) index), which every insert and delete also had to change
 *   (measured: docs/performance.md, item 21).
 * - STRICT + ANY keeps a value's storage class (a string "42" stays a string).
 */
import type { Database } from 'better-sqlite3';

const MIGRATIONS: string[] = [
  // 1: the outbox, file positions, dead letters, sensors, counters.
  `
  CREATE TABLE sensors (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    ingest     TEXT NOT NULL DEFAULT 'timeseries',
    hub_id     TEXT,
    created_at INTEGER
  ) STRICT;

  CREATE TABLE streams (
    id        INTEGER PRIMARY KEY,
    sensor_id INTEGER NOT NULL REFERENCES sensors(id),
    measure   TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('float', 'string', 'boolean')),
    UNIQUE (sensor_id, measure, kind)
  ) STRICT;

  CREATE TABLE readings (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    lane   INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    value  ANY NOT NULL
  ) STRICT;
  CREATE INDEX readings_by_lane ON readings (lane, id);

  CREATE TABLE checkpoints (
    source       TEXT NOT NULL,
    file_key     TEXT NOT NULL,
    path         TEXT NOT NULL,
    offset       INTEGER NOT NULL,
    line         INTEGER NOT NULL,
    head_len     INTEGER NOT NULL,
    head_hash    TEXT NOT NULL,
    parser_state TEXT,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (source, file_key)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE dead_letters (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    stage   TEXT NOT NULL CHECK (stage IN ('parse', 'hub')),
    source  TEXT NOT NULL,
    origin  TEXT,
    line    INTEGER,
    reason  TEXT NOT NULL,
    raw     TEXT,
    lane    INTEGER,
    sensor  TEXT,
    measure TEXT,
    ts      INTEGER,
    value   ANY
  ) STRICT;

  CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 2: spectra (shipped apart from time series), the in-flight batch ledger, key/value state.
  `
  CREATE TABLE spectra (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    lane      INTEGER NOT NULL,
    sensor_id INTEGER NOT NULL REFERENCES sensors(id),
    ts        INTEGER NOT NULL,
    body      TEXT NOT NULL
  ) STRICT;
  CREATE INDEX spectra_by_lane ON spectra (lane, id);

  -- Batches handed to the hub and not yet acknowledged: after a crash exactly these are sent
  -- again, with the same ids and the same rows (a batch is rows first_id..last_id of one sensor).
  CREATE TABLE inflight (
    batch_id   TEXT PRIMARY KEY,
    lane       INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('readings', 'spectra')),
    sensor     TEXT NOT NULL,
    first_id   INTEGER NOT NULL,
    last_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;

  -- How to read a dead letter's value back (0/1 may be a boolean), for replay.
  ALTER TABLE dead_letters ADD COLUMN value_kind TEXT;

  CREATE TABLE state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 3: backfill jobs, one outbox lane each (lane 0 is live data).
  `
  CREATE TABLE backfill_jobs (
    lane        INTEGER PRIMARY KEY CHECK (lane > 0),
    job_key     TEXT NOT NULL UNIQUE,
    args        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER,
    pid         INTEGER,
    heartbeat   INTEGER
  ) STRICT;
  `,
  // 4: readings clustered by (lane, id), their ids from a sequence row (a WITHOUT ROWID table
  // has no AUTOINCREMENT): it starts where AUTOINCREMENT stopped, so ids still never go back.
  `
  CREATE TABLE sequences (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  INSERT INTO sequences (name, last) VALUES ('readings', max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'readings'), 0),
    coalesce((SELECT max(id) FROM readings), 0)));

  CREATE TABLE readings_by_lane_and_id (
    lane   INTEGER NOT NULL,
    id     INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    value  ANY NOT NULL,
    PRIMARY KEY (lane, id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO readings_by_lane_and_id (lane, id, stream, ts, value) SELECT lane, id, stream, ts, value FROM readings ORDER BY lane, id;
  DROP TABLE readings;
  ALTER TABLE readings_by_lane_and_id RENAME TO readings;
  `,
  // 5: each in-flight batch counts the failed sends of its own (the hub answered, but not with
  // success), when the last one was, and how many of them came in a round in which the hub
  // accepted other batches (evidence), so one batch the hub keeps failing while it accepts the
  // others can be told from an outage (hub/poison.ts).
  `
  ALTER TABLE inflight ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE inflight ADD COLUMN last_failed_at INTEGER;
  ALTER TABLE inflight ADD COLUMN last_error TEXT;
  ALTER TABLE inflight ADD COLUMN evidence INTEGER NOT NULL DEFAULT 0;

  -- Readings given up on locally (hub.retry.max_age) are their own kind of dead letter, not
  -- "refused by the hub": the stage's CHECK gains 'expired' (SQLite rebuilds the table for it).
  CREATE TABLE dead_letters_v5 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    stage      TEXT NOT NULL CHECK (stage IN ('parse', 'hub', 'expired')),
    source     TEXT NOT NULL,
    origin     TEXT,
    line       INTEGER,
    reason     TEXT NOT NULL,
    raw        TEXT,
    lane       INTEGER,
    sensor     TEXT,
    measure    TEXT,
    ts         INTEGER,
    value      ANY,
    value_kind TEXT
  ) STRICT;
  INSERT INTO dead_letters_v5 (id, at, stage, source, origin, line, reason, raw, lane, sensor, measure, ts, value, value_kind)
    SELECT id, at, stage, source, origin, line, reason, raw, lane, sensor, measure, ts, value, value_kind FROM dead_letters;
  DROP TABLE dead_letters;
  ALTER TABLE dead_letters_v5 RENAME TO dead_letters;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema to `to` (this agent's version; tests build older files with a lower one). */
export function migrate(db: Database, { to = SCHEMA_VERSION }: { to?: number } = {}): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION) throw tooNew(from);
  for (let version = from; version < to; version++) {
    try {
      db.transaction(() => {
        db.exec(MIGRATIONS[version]!);
        db.pragma(`user_version = ${version + 1}`);
      })();
    } catch (err) {
      throw migrationFailed(version, err as Error & { code?: string });
    }
  }
  return { from, to: Math.max(from, to) };
}

/**
 * A read-only connection cannot migrate: it needs the schema this agent writes (`status`, say,
 * run after an upgrade and before the daemon's restart has migrated the outbox).
 */
export function requireCurrentSchema(db: Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw tooNew(version);
  if (version < SCHEMA_VERSION) {
    throw Object.assign(
      new Error(
        `outbox ${file} has schema version ${version}, older than this agent's (${SCHEMA_VERSION}): ` +
          'start the agent (senseye-agent run) once, which upgrades it, then try again',
      ),
      { code: 'SENSEYE_OUTBOX_TOO_OLD' },
    );
  }
}

/**
 * An upgrade that failed rolled back: the outbox is as it was, not damaged (the caller must not
 * move it aside). Version 4 copies the readings, so a full disk is the likely cause.
 */
function migrationFailed(version: number, err: Error & { code?: string }): Error {
  const hint =
    err.code === 'SQLITE_FULL'
      ? 'free disk space on the state directory (the upgrade needs about as much again as the outbox takes) and start again'
      : 'the outbox is unchanged; start again, and report this if it persists';
  return Object.assign(new Error(`upgrading the outbox schema from version ${version} to ${version + 1} failed (${err.code ?? err.name}: ${err.message}): ${hint}`), {
    code: 'SENSEYE_OUTBOX_MIGRATION',
    cause: err,
  });
}

function tooNew(version: number): Error {
  return Object.assign(
    new Error(
      `outbox schema version ${version} is newer than this agent understands (${SCHEMA_VERSION}): ` +
        'an older agent was started on a newer state directory; upgrade the agent',
    ),
    { code: 'SENSEYE_OUTBOX_TOO_NEW' },
  );
}
