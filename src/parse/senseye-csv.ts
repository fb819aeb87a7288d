/**
 * `senseye-csv`: Senseye's "wide" time-series CSV. The header's first cell is `DATETIME`, then
 * one column per measure; each row is one RFC 3339 timestamp and its values. An empty cell is
 * no value; quoted cells are strings; `true`/`false` booleans; anything else must be a finite
 * number with `.` as decimal separator. The sensor is the source's `sensor` setting. A
 * DATETIME without an offset is read in the source's `timezone` when it has one.
 *
 * A row with one bad cell is dead-lettered whole (with the column named), rather than sending
 * half a row: the operator fixes and replays the row as it was written.
 */
import { splitCsvLine } from './csv-fields.js';
import type { LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome, type Reading } from './reading.js';
import { parseTimestampText } from './timestamp.js';
import { ZoneClock } from './timezone.js';
import { csvCell } from './values.js';

export const createSenseyeCsvParser: ParserFactory = (options, savedState): LineParser => {
  const sensor = options.sensor;
  const zone = options.timezone === undefined ? undefined : new ZoneClock(options.timezone);
  let measures: string[] | null = savedState === null ? null : (JSON.parse(savedState) as string[]);

  function parseHeader(line: string): LineOutcome {
    const split = splitCsvLine(stripBom(line));
    if (!split.ok) return invalid(`header: ${split.reason}`);
    const [first, ...rest] = split.fields;
    if (first === undefined || first.text.trim().toUpperCase() !== 'DATETIME') {
      return invalid('header must start with DATETIME (Senseye wide CSV)');
    }
    const names = rest.map((f) => f.text.trim());
    const emptyAt = names.findIndex((name) => name.length === 0);
    if (emptyAt !== -1) return invalid(`header column ${emptyAt + 2} has no measure name`);
    measures = names;
    return { ok: true, readings: [] };
  }

  return {
    saveState: () => (measures === null ? null : JSON.stringify(measures)),
    parseLine(line: string): LineOutcome {
      if (line.trim().length === 0) return { ok: true, readings: [] };
      if (measures === null) return parseHeader(line);
      if (sensor === undefined || sensor.length === 0) {
        return invalid('senseye-csv rows do not name their sensor: set the source\'s `sensor` setting');
      }
      const split = splitCsvLine(line);
      if (!split.ok) return invalid(split.reason);
      const fields = split.fields;
      if (fields.length !== measures.length + 1) {
        return invalid(`expected ${measures.length + 1} columns as in the header, found ${fields.length}`);
      }
      const ts = parseTimestampText(fields[0]!.text.trim(), zone);
      if (!ts.ok) return invalid(`DATETIME: ${ts.reason}`);
      const readings: Reading[] = [];
      for (let i = 1; i < fields.length; i++) {
        const field = fields[i]!;
        const measure = measures[i - 1]!;
        const cell = csvCell(field, false);
        if (!cell.ok) return invalid(`column "${measure}": ${cell.reason}`);
        const value = cell.value;
        if (value === undefined) continue;
        readings.push({ sensor, measure, ts: ts.ms, value });
      }
      return { ok: true, readings };
    },
  };
};

function stripBom(line: string): string {
  return line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
}
