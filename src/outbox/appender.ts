/**
 * The write side of the outbox: readings, spectra, dead letters and the source positions they
 * came from commit in ONE transaction, so after a crash a source resumes exactly after what the
 * outbox holds. Counters change in the same transaction.
 */
import type { Database, Statement } from 'better-sqlite3';
import { valueKind } from '../parse/reading.js';
import type { Spectrum } from '../parse/spectrum.js';
import type { Checkpoints } from './checkpoints.js';
import type { Counters } from './counters.js';
import type { DeadLetters } from './dead-letters.js';
import type { StreamRegistry } from './streams.js';
import { LIVE_LANE, type IngestBatch } from './types.js';
import { encodeValue } from './values.js';

/**
 * Readings per multi-row INSERT: per-statement overhead, not the B-tree, dominated one-row
 * inserts (docs/performance.md). Full chunks go in one statement each, the rest of a
 * transaction one row at a time.
 */
export const ROWS_PER_INSERT = 50;

export class Appender {
  private readonly insertReading: Statement;
  private readonly insertReadings: Statement;
  private readonly takeReadingIds: Statement;
  private readonly insertSpectrum: Statement;

  constructor(
    private readonly db: Database,
    private readonly streams: StreamRegistry,
    private readonly deadLetters: DeadLetters,
    private readonly positions: Checkpoints,
    private readonly tally: Counters,
  ) {
    this.insertReading = db.prepare('INSERT INTO readings (lane, id, stream, ts, value) VALUES (?, ?, ?, ?, ?)');
    this.insertReadings = db.prepare(
      `INSERT INTO readings (lane, id, stream, ts, value) VALUES ${new Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?)').join(', ')}`,
    );
    // Ids for n new rows, taken in the appending transaction: unique across processes that
    // share the outbox (backfill and daemon), and never reused (migrations.ts, version 4).
    this.takeReadingIds = db.prepare("UPDATE sequences SET last = last + ? WHERE name = 'readings' RETURNING last").pluck();
    this.insertSpectrum = db.prepare('INSERT INTO spectra (lane, sensor_id, ts, body) VALUES (?, ?, ?, ?)');
  }

  /** Commits every batch (readings, spectra, dead letters, positions) in one transaction. */
  append(batches: readonly IngestBatch[]): void {
    try {
      this.appendTx(batches);
    } catch (err) {
      // A rolled-back transaction may have taken sensor and stream ids with it: re-read them.
      this.streams.reload();
      throw err;
    }
  }

  private readonly appendTx = (batches: readonly IngestBatch[]) =>
    this.db.transaction((items: readonly IngestBatch[]) => {
      const now = Date.now();
      const bump = new Map<string, number>();
      const add = (name: string, n: number) => n > 0 && bump.set(name, (bump.get(name) ?? 0) + n);
      // Rows are inserted at the end, grouped by sensor, each sensor's in their order: ids stay in
      // commit order per sensor (what the shipper relies on), and one sensor's rows of a
      // transaction get consecutive ids, so acknowledging its batch deletes a few id runs on a few
      // pages instead of single rows on every page of the range.
      const bySensor = new Map<string, Array<number | string>>();
      let rowCount = 0;
      for (const batch of items) {
        let stored = 0;
        for (const r of batch.readings) {
          const stream = this.streams.idFor(r.sensor, r.measure, valueKind(r.value));
          if (stream === null) {
            this.deadLetters.add(
              { stage: 'parse', source: batch.source, reason: mixedKindReason(r.sensor, 'frequency'), reading: r, lane: batch.lane },
              now,
            );
            add(`invalid.${batch.source}`, 1);
            continue;
          }
          let rows = bySensor.get(r.sensor);
          if (rows === undefined) bySensor.set(r.sensor, (rows = []));
          rows.push(batch.lane, stream, r.ts, encodeValue(r.value));
          stored++;
        }
        rowCount += stored;
        add('appended', stored);
        add(`received.${batch.source}`, stored);
        if (batch.lane !== LIVE_LANE) add(`lane.${batch.lane}.appended`, stored);
        for (const s of batch.spectra ?? []) {
          const sensor = this.streams.sensor(s.sensor, 'frequency');
          if (sensor.ingest !== 'frequency') {
            this.deadLetters.add(
              { stage: 'parse', source: batch.source, reason: mixedKindReason(s.sensor, 'timeseries'), raw: JSON.stringify(s), lane: batch.lane },
              now,
            );
            add(`invalid.${batch.source}`, 1);
            continue;
          }
          this.insertSpectrum.run(batch.lane, sensor.id, s.ts, encodeSpectrumBody(s));
          add('spectra.appended', 1);
          add(`received.${batch.source}`, 1);
          if (batch.lane !== LIVE_LANE) add(`lane.${batch.lane}.appended`, 1);
        }
        for (const dl of batch.deadLetters) {
          this.deadLetters.add(dl, now);
          if (dl.stage === 'parse') add(`invalid.${batch.source}`, 1);
        }
        if (batch.checkpoint) this.positions.save(batch.checkpoint, now);
      }
      this.insertRows(bySensor.values(), rowCount);
      for (const [name, n] of bump) this.tally.bump(name, n);
    })(batches);

  /**
   * Inserts `count` rows, given as flat (lane, stream, ts, value) lists, in order and with
   * ascending ids: full chunks in one multi-row INSERT each.
   */
  private insertRows(groups: Iterable<Array<number | string>>, count: number): void {
    if (count === 0) return;
    let id = (this.takeReadingIds.get(count) as number) - count + 1;
    const params: Array<number | string> = new Array(5 * ROWS_PER_INSERT);
    let filled = 0;
    for (const rows of groups) {
      for (let k = 0; k < rows.length; k += 4) {
        params[filled++] = rows[k]!;
        params[filled++] = id++;
        params[filled++] = rows[k + 1]!;
        params[filled++] = rows[k + 2]!;
        params[filled++] = rows[k + 3]!;
        if (filled === params.length) {
          this.insertReadings.run(params);
          filled = 0;
        }
      }
    }
    for (let k = 0; k < filled; k += 5) this.insertReading.run(params[k], params[k + 1], params[k + 2], params[k + 3], params[k + 4]);
  }
}

function mixedKindReason(sensor: string, has: 'timeseries' | 'frequency'): string {
  const what = has === 'frequency' ? 'spectra' : 'time series';
  return `sensor "${sensor}" already receives ${what}; a Senseye sensor ingests time series or spectra, never both: use another sensor name`;
}

function encodeSpectrumBody(s: Spectrum): string {
  return JSON.stringify({
    amplitudeUnit: s.amplitudeUnit,
    measurementType: s.measurementType,
    spacing: s.spacing,
    end: s.end,
    number: s.number,
    speed: s.speed,
    data: s.data,
  });
}
