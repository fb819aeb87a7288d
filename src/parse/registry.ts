/**
 * Format name → parser factory and framing. Adding a format is one entry in each map plus its
 * module. `FORMAT_FRAMING` tells sources whether to hand a format lines or whole documents.
 */
import { createCsvParser } from './csv.js';
import { createInfluxParser } from './influx.js';
import { createJsonlParser } from './jsonl.js';
import type { Framing, ParserFactory } from './parser.js';
import { createSenseyeCsvParser } from './senseye-csv.js';
import { createSenseyeJsonParser } from './senseye-json.js';
import { createSpectrumCsvParser } from './spectrum-csv.js';

export const FORMATS = {
  jsonl: createJsonlParser,
  'senseye-csv': createSenseyeCsvParser,
  'senseye-json': createSenseyeJsonParser,
  'spectrum-csv': createSpectrumCsvParser,
  influx: createInfluxParser,
  csv: createCsvParser,
} as const satisfies Record<string, ParserFactory>;

export type FormatName = keyof typeof FORMATS;
export const FORMAT_NAMES = Object.keys(FORMATS) as FormatName[];

export const FORMAT_FRAMING: Record<FormatName, Framing> = {
  jsonl: 'lines',
  'senseye-csv': 'lines',
  'senseye-json': 'document',
  'spectrum-csv': 'lines',
  influx: 'lines',
  csv: 'lines',
};

/** Formats whose first line is a header: a stream must start at its beginning (not over UDP). */
export function hasHeader(format: FormatName, csvHeader: boolean | undefined): boolean {
  return format === 'senseye-csv' || format === 'spectrum-csv' || (format === 'csv' && csvHeader !== false);
}
