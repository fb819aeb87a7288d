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
import { DEFAULT_MAX_NAME_LENGTH, nameProblem } from './names.js';
import type { LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome, type Reading } from './reading.js';
import { parseTimestampText } from './timestamp.js';
import { ZoneClock } from './timezone.js';
import { csvCell } from './values.js';

export const createSenseyeCsvParser: ParserFactory = (options, savedState): LineParser => {
  const sensor = options.sensor;
  const zone = options.timezone === undefined ? undefined : new ZoneClock(options.timezone);
  const window = options.timeWindow;
  const maxName = options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
  const sensorProblem = sensor === undefined || sensor.length === 0 ? null : nameProblem(sensor, 'sensor', maxName);
  let measures: string[] | null = null;
  /** Why a column's measure name cannot be used, by column (1-based after DATETIME); checked once per header. */
  let badMeasures = new Map<number, string>();
  const setMeasures = (names: string[]) => {
    measures = names;
    badMeasures = new Map();
    names.forEach((name, i) => {
      const problem = nameProblem(name, `header column ${i + 2}: measure`, maxName);
      if (problem !== null) badMeasures.set(i + 1, problem);
    });
  };
  if (savedState !== null) setMeasures(JSON.parse(savedState) as string[]);

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
    setMeasures(names);
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
      if (sensorProblem !== null) return invalid(sensorProblem);
      const split = splitCsvLine(line);
      if (!split.ok) return invalid(split.reason);
      const fields = split.fields;
      if (fields.length !== measures.length + 1) {
        return invalid(`expected ${measures.length + 1} columns as in the header, found ${fields.length}`);
      }
      const ts = parseTimestampText(fields[0]!.text.trim(), zone, window);
      if (!ts.ok) return invalid(`DATETIME: ${ts.reason}`);
      const readings: Reading[] = [];
      for (let i = 1; i < fields.length; i++) {
        const field = fields[i]!;
        const measure = measures[i - 1]!;
        const cell = csvCell(field, false);
        if (!cell.ok) return invalid(`column "${measure}": ${cell.reason}`);
        const value = cell.value;
        if (value === undefined) continue;
        // A row is refused whole rather than sent without the column (module header).
        const badName = badMeasures.size === 0 ? undefined : badMeasures.get(i);
        if (badName !== undefined) return invalid(badName);
        readings.push({ sensor, measure, ts: ts.ms, value });
      }
      return { ok: true, readings };
    },
  };
};

function stripBom(line: string): string {
  return line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
}
