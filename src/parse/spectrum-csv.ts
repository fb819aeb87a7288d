/**
 * `spectrum-csv`: Senseye's spectrum CSV. Header
 * `timestamp,amplitudeUnit,measurementType,spacing,end,number,speed,data` (any order, names
 * matched without regard to case), then one spectrum per row with `data` a quoted,
 * comma-separated list of amplitudes. The sensor is the source's `sensor` setting. Each row is
 * validated against the hub contract (spectrumProblem) and refused whole when it fails.
 * The header is the parser's state, saved with the file position.
 */
import { splitCsvLine } from './csv-fields.js';
import { DEFAULT_MAX_NAME_LENGTH, nameProblem } from './names.js';
import type { LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome } from './reading.js';
import { buildSpectrum } from './spectrum-record.js';
import { parseTimestampText } from './timestamp.js';
import { ZoneClock } from './timezone.js';
import { NUMBER } from './values.js';

const COLUMNS = ['timestamp', 'amplitudeUnit', 'measurementType', 'spacing', 'end', 'number', 'speed', 'data'] as const;
type Column = (typeof COLUMNS)[number];

export const createSpectrumCsvParser: ParserFactory = (options, savedState): LineParser => {
  const sensor = options.sensor;
  const zone = options.timezone === undefined ? undefined : new ZoneClock(options.timezone);
  const window = options.timeWindow;
  const sensorProblem = sensor === undefined || sensor.length === 0 ? null : nameProblem(sensor, 'sensor', options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH);
  let order: Column[] | null = savedState === null ? null : (JSON.parse(savedState) as Column[]);

  function parseHeader(line: string): LineOutcome {
    const split = splitCsvLine(line.charCodeAt(0) === 0xfeff ? line.slice(1) : line);
    if (!split.ok) return invalid(`header: ${split.reason}`);
    const found: Column[] = [];
    for (const field of split.fields) {
      const name = COLUMNS.find((c) => c.toLowerCase() === field.text.trim().toLowerCase());
      if (name === undefined) return invalid(`header: unknown column "${field.text.trim().slice(0, 40)}" (expected ${COLUMNS.join(',')})`);
      if (found.includes(name)) return invalid(`header: column "${name}" appears twice`);
      found.push(name);
    }
    const missing = COLUMNS.filter((c) => !found.includes(c));
    if (missing.length > 0) return invalid(`header: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    order = found;
    return { ok: true, readings: [] };
  }

  return {
    saveState: () => (order === null ? null : JSON.stringify(order)),
    parseLine(line: string): LineOutcome {
      if (line.trim().length === 0) return { ok: true, readings: [] };
      if (order === null) return parseHeader(line);
      if (sensor === undefined || sensor.length === 0) {
        return invalid("spectrum-csv rows do not name their sensor: set the source's `sensor` setting");
      }
      if (sensorProblem !== null) return invalid(sensorProblem);
      const split = splitCsvLine(line);
      if (!split.ok) return invalid(split.reason);
      if (split.fields.length !== order.length) {
        return invalid(`expected ${order.length} columns as in the header, found ${split.fields.length} (is "data" quoted?)`);
      }
      const cell: Partial<Record<Column, string>> = {};
      order.forEach((name, i) => (cell[name] = split.fields[i]!.text.trim()));
      const ts = parseTimestampText(cell.timestamp!, zone, window);
      if (!ts.ok) return invalid(`timestamp: ${ts.reason}`);
      const numbers: Partial<Record<Column, number>> = {};
      for (const name of ['spacing', 'end', 'number', 'speed'] as const) {
        const text = cell[name]!;
        if (!NUMBER.test(text)) return invalid(`${name}: "${text.slice(0, 40)}" is not a number`);
        numbers[name] = Number(text);
      }
      const data: number[] = [];
      const items = cell.data!.length === 0 ? [] : cell.data!.replace(/^\[|\]$/g, '').split(',');
      for (let i = 0; i < items.length; i++) {
        const text = items[i]!.trim();
        if (!NUMBER.test(text)) return invalid(`data[${i}]: "${text.slice(0, 40)}" is not a number`);
        data.push(Number(text));
      }
      const built = buildSpectrum(sensor, ts.ms, {
        amplitudeUnit: cell.amplitudeUnit,
        measurementType: cell.measurementType,
        spacing: numbers.spacing,
        end: numbers.end,
        number: numbers.number,
        speed: numbers.speed,
        data,
      });
      return built.ok ? { ok: true, readings: [], spectra: [built.spectrum] } : invalid(built.reason);
    },
  };
};
