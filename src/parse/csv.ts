/**
 * `csv`: generic "long" CSV, one reading per row, columns chosen by the source:
 *   columns: { ts: 0, sensor: 1, measure: 2, value: 3 }   (0-based indexes, or header names)
 * with a configurable one-character delimiter and an optional header row. `sensor` may be left
 * out when the source sets `sensor`. Values: quoted → string; `true`/`false` → boolean; a
 * number (`.` decimal separator) → float; other text → string; an empty cell → no reading.
 * Timestamps: RFC 3339 with an offset, naive in the source's `timezone`, or digits = epoch in
 * `epoch_unit` (default ms). The header (resolved column positions) is the parser's state,
 * saved with the file position, so a restart mid-file reads the rest the same way.
 */
import { splitCsvLine } from './csv-fields.js';
import { DEFAULT_MAX_NAME_LENGTH, NameCheck } from './names.js';
import type { CsvColumns, CsvLayout, LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome } from './reading.js';
import { ZoneClock } from './timezone.js';
import { csvCell, textTimestamp } from './values.js';

interface Positions {
  ts: number;
  sensor?: number | undefined;
  measure: number;
  value: number;
}

export const DEFAULT_CSV_LAYOUT: CsvLayout = { columns: { ts: 0, sensor: 1, measure: 2, value: 3 }, delimiter: ',', header: true };

const KEYS = ['ts', 'sensor', 'measure', 'value'] as const;

function allIndexes(columns: CsvColumns): Positions | null {
  for (const k of KEYS) if (typeof columns[k] === 'string') return null;
  return columns as Positions;
}

function widthOf(positions: Positions | null): number {
  return Math.max(...KEYS.map((k) => positions?.[k] ?? -1)) + 1;
}

export const createCsvParser: ParserFactory = (options, savedState): LineParser => {
  const layout = options.csv ?? DEFAULT_CSV_LAYOUT;
  const zone = options.timezone === undefined ? undefined : new ZoneClock(options.timezone);
  const unit = options.epochUnit ?? 'ms';
  const window = options.timeWindow;
  const maxName = options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
  const sensorName = new NameCheck('sensor', maxName);
  const measureName = new NameCheck('measure', maxName);
  let positions: Positions | null =
    savedState !== null ? (JSON.parse(savedState) as Positions) : layout.header ? null : allIndexes(layout.columns);
  // Columns a row needs; kept with positions, as working it out per row was a tenth of csv parsing.
  let width = widthOf(positions);

  function parseHeader(line: string): LineOutcome {
    const split = splitCsvLine(line.charCodeAt(0) === 0xfeff ? line.slice(1) : line, layout.delimiter);
    if (!split.ok) return invalid(`header: ${split.reason}`);
    const names = split.fields.map((f) => f.text.trim());
    const found: Partial<Positions> = {};
    for (const k of KEYS) {
      const want = layout.columns[k];
      if (want === undefined) continue;
      const at = typeof want === 'number' ? want : names.indexOf(want);
      if (at === -1) return invalid(`header has no column "${String(want)}" (columns.${k}); it has ${names.map((n) => `"${n}"`).join(', ')}`);
      found[k] = at;
    }
    positions = found as Positions;
    width = widthOf(positions);
    return { ok: true, readings: [] };
  }

  return {
    saveState: () => (positions === null ? null : JSON.stringify(positions)),
    parseLine(line: string): LineOutcome {
      if (line.trim().length === 0) return { ok: true, readings: [] };
      if (positions === null) {
        if (layout.header) return parseHeader(line);
        return invalid('csv columns are named but `header` is false: use column numbers, or set header: true');
      }
      const split = splitCsvLine(line, layout.delimiter);
      if (!split.ok) return invalid(split.reason);
      const fields = split.fields;
      if (fields.length < width) return invalid(`expected at least ${width} columns, found ${fields.length}`);
      const ts = textTimestamp(fields[positions.ts]!.text, zone, unit, window);
      if (!ts.ok) return invalid(`ts (column ${positions.ts + 1}): ${ts.reason}`);
      const sensor = positions.sensor === undefined ? options.sensor : fields[positions.sensor]!.text.trim();
      if (sensor === undefined || sensor.length === 0) {
        return invalid(positions.sensor === undefined ? "rows do not name their sensor: set the source's `sensor` or columns.sensor" : `sensor (column ${positions.sensor + 1}) is empty`);
      }
      const measure = fields[positions.measure]!.text.trim();
      if (measure.length === 0) return invalid(`measure (column ${positions.measure + 1}) is empty`);
      const badName = sensorName.problem(sensor) ?? measureName.problem(measure);
      if (badName !== null) return invalid(badName);
      const cell = csvCell(fields[positions.value]!, true);
      if (!cell.ok) return invalid(`value (column ${positions.value + 1}): ${cell.reason}`);
      if (cell.value === undefined) return { ok: true, readings: [] };
      return { ok: true, readings: [{ sensor, measure, ts: ts.ms, value: cell.value }] };
    },
  };
};
